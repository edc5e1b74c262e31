package ari

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// REST over WebSocket (Asterisk 22.5+): on a websocket Asterisk opened to
// callscreen, a REST call is a RESTRequest message and its answer a
// RESTResponse event, matched by request_id (ChannelVarset and other
// events may come before or after the response they relate to, even after
// the next request). The body of a response is a JSON document inside a
// JSON string. Asterisk handles the requests of one connection one at a
// time, in order (res/ari/ari_websockets.c, outbound_session_handler_thread
// reads a message and runs ari_websocket_process_request before the next).

// ErrLinkLost reports a REST call whose connection from Asterisk closed
// before its answer came: whether Asterisk acted on it is unknown.
var ErrLinkLost = errors.New("connection from asterisk lost")

// tunnel carries a REST call over a websocket instead of HTTP.
type tunnel interface {
	roundTrip(ctx context.Context, req *restRequest) (*restResponse, error)
}

// restRequest is a RESTRequest message (res/ari/ari_websocket_requests.c,
// parse_rest_request_msg).
type restRequest struct {
	Type          string `json:"type"`
	TransactionID string `json:"transaction_id,omitempty"`
	RequestID     string `json:"request_id"`
	Method        string `json:"method"`
	URI           string `json:"uri"`
	ContentType   string `json:"content_type,omitempty"`
	MessageBody   string `json:"message_body,omitempty"`
}

// restResponse is a RESTResponse message (send_rest_response): uri is the
// request's without its query; content_type and message_body are there
// only with a body.
type restResponse struct {
	Type          string `json:"type"`
	TransactionID string `json:"transaction_id"`
	RequestID     string `json:"request_id"`
	StatusCode    int    `json:"status_code"`
	ReasonPhrase  string `json:"reason_phrase"`
	URI           string `json:"uri"`
	ContentType   string `json:"content_type,omitempty"`
	MessageBody   string `json:"message_body,omitempty"`
	Application   string `json:"application"`
}

// requestSeq numbers requests across every connection of the process, so
// that a request id is never reused, not even on a later connection.
var requestSeq atomic.Uint64

// relativeURI is the uri of a RESTRequest: the path below /ari/ (no
// leading slash) and the query.
func relativeURI(query url.Values, segments ...string) string {
	var b strings.Builder
	for i, s := range segments {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(url.PathEscape(s))
	}
	if len(query) > 0 {
		b.WriteByte('?')
		b.WriteString(query.Encode())
	}
	return b.String()
}

// doTunnel is do for a Client whose calls travel over a websocket.
func (c *Client) doTunnel(ctx context.Context, op, method string, query url.Values, body, out any, segments ...string) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req := &restRequest{Type: "RESTRequest", Method: method, URI: relativeURI(query, segments...)}
	b, err := requestBody(op, body)
	if err != nil {
		return err
	}
	if b != nil {
		req.ContentType, req.MessageBody = "application/json", string(b)
	}
	start := time.Now()
	resp, err := c.tunnel.roundTrip(ctx, req)
	if err != nil {
		c.metrics.request(method, 0, time.Since(start))
		return fmt.Errorf("%s: %w", op, err)
	}
	c.metrics.request(method, resp.StatusCode, time.Since(start))
	return answer(op, resp.StatusCode, []byte(resp.MessageBody), out)
}

// wsLink is the request side of one websocket from Asterisk: requests
// sent, answers awaited by request_id. The connection's reader hands it
// every RESTResponse.
type wsLink struct {
	conn *websocket.Conn

	mu      sync.Mutex
	pending map[string]chan *restResponse
	err     error
	done    chan struct{}
}

func newLink(conn *websocket.Conn) *wsLink {
	return &wsLink{conn: conn, pending: map[string]chan *restResponse{}, done: make(chan struct{})}
}

var _ tunnel = (*wsLink)(nil)

// roundTrip sends req with a fresh request_id and waits for the response
// with that id, ctx's end or the link's loss (ErrLinkLost).
func (l *wsLink) roundTrip(ctx context.Context, req *restRequest) (*restResponse, error) {
	id := "cs-" + strconv.FormatUint(requestSeq.Add(1), 10)
	r := *req
	r.RequestID = id
	data, err := json.Marshal(&r)
	if err != nil {
		return nil, err
	}
	ch := make(chan *restResponse, 1)
	l.mu.Lock()
	if l.err != nil {
		l.mu.Unlock()
		return nil, l.err
	}
	l.pending[id] = ch
	l.mu.Unlock()
	if err := l.conn.Write(ctx, websocket.MessageText, data); err != nil {
		l.forget(id)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %w", ErrLinkLost, err)
	}
	select {
	case resp := <-ch:
		return resp, nil
	case <-l.done:
		return nil, l.err
	case <-ctx.Done():
		l.forget(id)
		return nil, ctx.Err()
	}
}

func (l *wsLink) forget(id string) {
	l.mu.Lock()
	delete(l.pending, id)
	l.mu.Unlock()
}

// deliver hands a response to its request; false when no request waits
// for it (it timed out, or the id is not ours).
func (l *wsLink) deliver(resp *restResponse) bool {
	l.mu.Lock()
	ch, ok := l.pending[resp.RequestID]
	delete(l.pending, resp.RequestID)
	l.mu.Unlock()
	if ok {
		ch <- resp
	}
	return ok
}

// fail ends the link: waiting and later requests get ErrLinkLost.
func (l *wsLink) fail() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = ErrLinkLost
		close(l.done)
	}
}

func (l *wsLink) failed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err != nil
}

// follower is the tunnel of one Stasis application: it sends through the
// application's current connection, which Asterisk replaces when it
// reconnects. A request made while there is none waits for the next one
// (Asterisk queues the channel's events meanwhile); a request whose
// connection was lost before its answer is sent again on the next one,
// except a play (it could play twice). Once given up (gone), requests fail
// at once until a connection comes.
type follower struct {
	mu      sync.Mutex
	link    *wsLink
	gone    error
	changed chan struct{}
}

func newFollower() *follower { return &follower{changed: make(chan struct{})} }

var _ tunnel = (*follower)(nil)

// set makes l the current connection (nil: none).
func (f *follower) set(l *wsLink) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.link = l
	if l != nil {
		f.gone = nil
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

// giveUp makes requests fail with err until the next set.
func (f *follower) giveUp(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gone = err
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *follower) roundTrip(ctx context.Context, req *restRequest) (*restResponse, error) {
	retried := false
	for {
		f.mu.Lock()
		l, gone, wake := f.link, f.gone, f.changed
		f.mu.Unlock()
		switch {
		case gone != nil:
			return nil, gone
		case l != nil && !l.failed():
			resp, err := l.roundTrip(ctx, req)
			if errors.Is(err, ErrLinkLost) && !retried && replayable(req) {
				retried = true
				continue
			}
			return resp, err
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: waiting for asterisk to reconnect: %w", ErrLinkLost, ctx.Err())
		}
	}
}

// replayable reports whether a request may be sent twice: everything the
// transport sends but a playback.
func replayable(req *restRequest) bool {
	if req.Method != http.MethodPost {
		return true
	}
	path, _, _ := strings.Cut(req.URI, "?")
	return !strings.Contains("/"+path, "/play")
}

// peekMessage reads what decides where a message from Asterisk goes.
type peekMessage struct {
	Type        string `json:"type"`
	Application string `json:"application"`
	AsteriskID  string `json:"asterisk_id"`
}
