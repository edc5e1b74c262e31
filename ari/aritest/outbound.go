package aritest

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/callscreen/callscreen/ari"
	"github.com/coder/websocket"
)

// The outbound mode: Asterisk 22.5+ opening the ARI websocket itself
// ("ARI Outbound WebSockets", websocket_client.conf plus an ari.conf
// section of type outbound_websocket) and taking REST calls as messages
// on it ("REST over WebSocket"), as the captures in
// ../shared/fixtures/asterisk-22.10.1/ari-outbound show it and
// res/ari/ari_websockets.c and res/ari/ari_websocket_requests.c do it.

// Defaults of the OutboundConfig's zero fields: the captures' settings
// (connection_timeout = 500, reconnect_interval = 1000,
// reconnect_attempts = 3) and timings.
const (
	DefaultConnectTimeout    = 500 * time.Millisecond
	DefaultReconnectInterval = time.Second
	DefaultReconnectAttempts = 3
	// DefaultStartDelay: StasisStart comes about 500 ms after a per-call
	// connection is up (app_stasis polls the connection every 500 ms).
	DefaultStartDelay = 500 * time.Millisecond
	// DefaultCloseDelay: a per-call connection is closed (1000) about
	// 3.5 s after StasisEnd (Stasis() returns ~0.5 s later, then
	// STASIS_END_POST_WAIT_US, 3 s).
	DefaultCloseDelay = 3500 * time.Millisecond
	// pollDelay is app_stasis's last 500 ms poll before it gives up on a
	// per-call connection.
	pollDelay = 500 * time.Millisecond
)

// OutboundConfig is one outbound websocket: an ari.conf section of type
// outbound_websocket with its websocket_client.conf entry.
type OutboundConfig struct {
	// App is the Stasis application (apps =).
	App string
	// URI is where Asterisk connects: ws://host:port/path?query or wss://.
	// Its path and query are sent as they are.
	URI string
	// Username and Password are sent as HTTP Basic auth when Username is
	// set.
	Username, Password string
	// NoProtocol leaves Sec-WebSocket-Protocol out (protocols unset);
	// otherwise "ari" is offered.
	NoProtocol bool
	// PerCall is connection_type = per_call_config: a connection for each
	// call, application "App:<channel name>". Otherwise persistent: one
	// connection, made at once and re-made forever, for all calls.
	PerCall bool
	// ConnectTimeout, ReconnectInterval and ReconnectAttempts are
	// connection_timeout, reconnect_interval and reconnect_attempts;
	// zero values are the captures' 500 ms, 1 s and 3.
	ConnectTimeout    time.Duration
	ReconnectInterval time.Duration
	ReconnectAttempts int
	// StartDelay is, per call, from the connection to StasisStart; 0 is
	// DefaultStartDelay.
	StartDelay time.Duration
	// CloseDelay is, per call, from StasisEnd to the close frame; 0 is
	// DefaultCloseDelay.
	CloseDelay time.Duration
	// CloseWhen, when set, makes every per-call close come due when it is
	// closed instead of CloseDelay after StasisEnd: a test that needs a
	// close to come after some event does not depend on the machine's
	// speed.
	CloseWhen <-chan struct{}
	// LateVarset holds every ChannelVarset back until that many more
	// RESTResponses have been sent (at most 50 ms): 1 sends it after the
	// response of the request that caused it, 2 after the next request's
	// too. Real Asterisk does either, by timing.
	LateVarset int
	// TLS configures wss://; nil trusts nothing but the system roots.
	TLS *tls.Config
}

// Outbound is one outbound websocket of the fake Asterisk. Close it to
// stop (Server.Close does).
type Outbound struct {
	s   *Server
	cfg OutboundConfig
	u   *url.URL

	// Guarded by s.mu.
	persistent *pipe
	pipes      map[*pipe]bool
	heads      []string
	attempts   int
	closesDue  int
	stopped    bool

	stop chan struct{}
	wg   sync.WaitGroup
}

// Outbound starts an outbound websocket. A persistent one connects at
// once, in the background, and keeps reconnecting (every
// ReconnectInterval, forever, as Asterisk does); its application is
// registered even while it is not connected, so that StartCall succeeds
// and its events wait in a queue. A per-call one connects in StartCall.
func (s *Server) Outbound(cfg OutboundConfig) (*Outbound, error) {
	u, err := url.Parse(cfg.URI)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return nil, fmt.Errorf("aritest: outbound uri %q: want ws:// or wss://host:port/path", cfg.URI)
	}
	if cfg.App == "" || strings.Contains(cfg.App, ":") {
		return nil, fmt.Errorf("aritest: outbound app %q: want a name without ':'", cfg.App)
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.ReconnectInterval <= 0 {
		cfg.ReconnectInterval = DefaultReconnectInterval
	}
	if cfg.ReconnectAttempts <= 0 {
		cfg.ReconnectAttempts = DefaultReconnectAttempts
	}
	if cfg.StartDelay <= 0 {
		cfg.StartDelay = DefaultStartDelay
	}
	if cfg.CloseDelay <= 0 {
		cfg.CloseDelay = DefaultCloseDelay
	}
	ob := &Outbound{s: s, cfg: cfg, u: u, pipes: map[*pipe]bool{}, stop: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.outbound[cfg.App] != nil || s.apps[cfg.App] != nil {
		return nil, fmt.Errorf("aritest: application %q is taken", cfg.App)
	}
	s.outbound[cfg.App] = ob
	if !cfg.PerCall {
		ob.persistent = ob.newPipeLocked(cfg.App)
		s.apps[cfg.App] = ob.persistent
		ob.wg.Add(1)
		go func() {
			defer ob.wg.Done()
			ob.persistent.keep()
		}()
	}
	return ob, nil
}

// Close stops the outbound websocket: its connections close (1000) and a
// persistent one no longer reconnects. Calls in Stasis stay.
func (ob *Outbound) Close() {
	s := ob.s
	s.mu.Lock()
	if ob.stopped {
		s.mu.Unlock()
		ob.wg.Wait()
		return
	}
	ob.stopped = true
	close(ob.stop)
	var links []*outLink
	for p := range ob.pipes {
		if p.link != nil {
			links = append(links, p.link)
		}
	}
	if s.outbound[ob.cfg.App] == ob {
		delete(s.outbound, ob.cfg.App)
	}
	if ob.persistent != nil && s.apps[ob.cfg.App] == sink(ob.persistent) {
		delete(s.apps, ob.cfg.App)
	}
	s.broadcastLocked()
	s.mu.Unlock()
	var closing sync.WaitGroup
	for _, l := range links {
		closing.Add(1)
		go func() {
			defer closing.Done()
			l.ws.Close(websocket.StatusNormalClosure, "")
		}()
	}
	closing.Wait()
	ob.wg.Wait()
}

// Drop cuts every connection of this outbound websocket at once, as a
// network failure or a crashed application server would. Events from
// then on are queued; Asterisk reconnects and sends them first.
func (ob *Outbound) Drop() {
	s := ob.s
	s.mu.Lock()
	var links []*outLink
	for p := range ob.pipes {
		if p.link != nil {
			links = append(links, p.link)
			p.link = nil
		}
	}
	s.broadcastLocked()
	s.mu.Unlock()
	for _, l := range links {
		l.ws.CloseNow()
	}
}

// Heads returns the request head of every upgrade sent, in order, as
// bytes on the wire.
func (ob *Outbound) Heads() []string {
	ob.s.mu.Lock()
	defer ob.s.mu.Unlock()
	return append([]string(nil), ob.heads...)
}

// Attempts counts connection attempts, successful or not.
func (ob *Outbound) Attempts() int {
	ob.s.mu.Lock()
	defer ob.s.mu.Unlock()
	return ob.attempts
}

// ClosesDue counts the per-call closes that have come due (closing set,
// and the connection, if there was one, closed).
func (ob *Outbound) ClosesDue() int {
	ob.s.mu.Lock()
	defer ob.s.mu.Unlock()
	return ob.closesDue
}

// Connections counts the connections open now.
func (ob *Outbound) Connections() int {
	ob.s.mu.Lock()
	defer ob.s.mu.Unlock()
	n := 0
	for p := range ob.pipes {
		if p.link != nil {
			n++
		}
	}
	return n
}

// startPerCall is StartCall for a per_call_config application.
func (ob *Outbound) startPerCall(spec CallSpec) (*Channel, error) {
	s := ob.s
	s.mu.Lock()
	if ob.stopped || s.closed {
		s.mu.Unlock()
		return nil, ErrNotConnected
	}
	ch := s.newChannelLocked(ob.cfg.App, spec)
	p := ob.newPipeLocked(ob.cfg.App + ":" + ch.info.Name)
	p.ch = ch
	ch.route, ch.pipe = p.name, p
	s.apps[p.name] = p
	s.mu.Unlock()

	if p.connect(true) == nil {
		// ast_ari_create_per_call_websocket gives up; Stasis() fails
		// with STASISSTATUS=FAILED and the dialplan goes on.
		sleepOrStop(ob.stop, pollDelay)
		s.mu.Lock()
		ob.forgetPipeLocked(p)
		ch.stopLocked()
		delete(s.channels, ch.info.ID)
		s.broadcastLocked()
		s.mu.Unlock()
		return nil, ErrNotConnected
	}
	sleepOrStop(ob.stop, ob.cfg.StartDelay)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ch.alive || !ch.inStasis {
		return ch, nil
	}
	s.emitLocked(p.name, &ari.StasisStart{
		Header:  ari.Header{Type: "StasisStart"},
		Args:    append([]string{}, spec.Args...),
		Channel: ch.info,
	})
	return ch, nil
}

func sleepOrStop(stop <-chan struct{}, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-stop:
	}
}

func (ob *Outbound) newPipeLocked(name string) *pipe {
	p := &pipe{ob: ob, name: name}
	// Registering the application queues ApplicationRegistered; the
	// first connection sends the queue (session_register_apps, then
	// session_update).
	p.queue = [][]byte{ob.s.registeredLocked(name)}
	ob.pipes[p] = true
	return p
}

func (ob *Outbound) forgetPipeLocked(p *pipe) {
	delete(ob.pipes, p)
	if ob.s.apps[p.name] == sink(p) {
		delete(ob.s.apps, p.name)
	}
}

// registeredLocked is an ApplicationRegistered event for app.
func (s *Server) registeredLocked(app string) []byte {
	b, err := json.Marshal(&ari.Header{
		Type: "ApplicationRegistered", Timestamp: ari.Time{Time: time.Now()},
		Application: app, AsteriskID: s.cfg.AsteriskID,
	})
	if err != nil {
		panic("aritest: " + err.Error())
	}
	return b
}

// pipe is one ARI websocket session of Asterisk: an application's events
// and the REST calls it takes, over whichever connection is up; while
// none is, events are queued and sent first on the next one.
type pipe struct {
	ob   *Outbound
	name string
	ch   *Channel // per-call: its channel

	// Guarded by ob.s.mu.
	link    *outLink
	queue   [][]byte
	closing bool // per-call: the close after StasisEnd has begun
}

func (p *pipe) up() bool { return p.link != nil }

func (p *pipe) push(b []byte) {
	if p.link != nil {
		p.link.push(b)
		return
	}
	p.queue = append(p.queue, b)
}

// stasisEndedLocked closes a per-call connection CloseDelay after its
// channel's StasisEnd (ast_ari_close_per_call_websocket).
func (p *pipe) stasisEndedLocked() {
	ob := p.ob
	if ob.stopped {
		ob.forgetPipeLocked(p)
		return
	}
	ob.wg.Add(1)
	go func() {
		defer ob.wg.Done()
		if ob.cfg.CloseWhen != nil {
			select {
			case <-ob.cfg.CloseWhen:
			case <-ob.stop:
			}
		} else {
			sleepOrStop(ob.stop, ob.cfg.CloseDelay)
		}
		// outbound_session_pc_close_thread: closing is set, and the
		// connection closed if there is one. A connection being re-made
		// right then stays open until the application closes it.
		s := ob.s
		s.mu.Lock()
		p.closing = true
		ob.closesDue++
		l := p.link
		s.mu.Unlock()
		if l != nil {
			l.ws.Close(websocket.StatusNormalClosure, "")
		}
	}()
}

// keep holds a persistent connection up until the Outbound stops.
func (p *pipe) keep() {
	first := true
	for {
		l := p.connect(first)
		if l == nil {
			return // stopped
		}
		first = false
		<-l.done
		if !sleepOrStopped(p.ob.stop, p.ob.cfg.ReconnectInterval) {
			return
		}
	}
}

func sleepOrStopped(stop <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	}
}

// connect makes the connection: per call, one batch of
// ReconnectAttempts tries (false when all fail); persistent, as many
// batches as it takes (nil only when stopped). Once connected it sends
// the queue and, on a reconnect, ApplicationRegistered.
func (p *pipe) connect(first bool) *outLink {
	ob := p.ob
	for {
		for try := 0; try < ob.cfg.ReconnectAttempts; try++ {
			if try > 0 && !sleepOrStopped(ob.stop, ob.cfg.ReconnectInterval) {
				return nil
			}
			ws, err := ob.dial()
			if err != nil {
				continue
			}
			l := newOutLink(p, ws)
			s := ob.s
			s.mu.Lock()
			if ob.stopped {
				s.mu.Unlock()
				ws.CloseNow()
				return nil
			}
			q := p.queue
			p.queue = nil
			p.link = l
			for _, b := range q {
				l.push(b)
			}
			if !first {
				l.push(s.registeredLocked(p.name))
			}
			s.broadcastLocked()
			ob.wg.Add(1)
			s.mu.Unlock()
			go func() {
				defer ob.wg.Done()
				l.run()
			}()
			return l
		}
		if ob.cfg.PerCall {
			return nil
		}
		if !sleepOrStopped(ob.stop, ob.cfg.ReconnectInterval) {
			return nil
		}
	}
}

// lost handles the end of a connection: a per-call one that closed
// before its close began reconnects, and its channel fails when that
// does not work.
func (p *pipe) lost(l *outLink) {
	ob := p.ob
	s := ob.s
	s.mu.Lock()
	if p.link == l {
		p.link = nil
	}
	s.broadcastLocked()
	if !ob.cfg.PerCall {
		s.mu.Unlock()
		return
	}
	if p.closing || ob.stopped {
		ob.forgetPipeLocked(p)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	// outbound_session_handler_thread: "Websocket disconnected.
	// Reconnecting".
	if p.connect(false) != nil {
		return
	}
	s.mu.Lock()
	if p.ch != nil {
		p.ch.failLocked()
	}
	ob.forgetPipeLocked(p)
	s.mu.Unlock()
}

// dial makes one connection attempt with Asterisk's exact upgrade
// request.
func (ob *Outbound) dial() (*websocket.Conn, error) {
	ob.s.mu.Lock()
	ob.attempts++
	ob.s.mu.Unlock()
	h := http.Header{}
	if ob.cfg.Username != "" {
		req := http.Request{Header: h}
		req.SetBasicAuth(ob.cfg.Username, ob.cfg.Password)
	}
	var protos []string
	if !ob.cfg.NoProtocol {
		protos = []string{"ari"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*ob.cfg.ConnectTimeout+2*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, ob.cfg.URI, &websocket.DialOptions{
		HTTPClient:   &http.Client{Transport: &upgrader{ob: ob}},
		HTTPHeader:   h,
		Subprotocols: protos,
	})
	if resp != nil && resp.Body != nil && err != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(1 << 20)
	return ws, nil
}

// upgrader sends the upgrade request exactly as Asterisk's websocket
// client writes it (res/res_http_websocket.c, websocket_client_handshake):
// this header order and case, Authorization and Sec-WebSocket-Protocol
// only when set, nothing else (no User-Agent, no Origin).
type upgrader struct{ ob *Outbound }

func (t *upgrader) RoundTrip(req *http.Request) (*http.Response, error) {
	ob := t.ob
	d := net.Dialer{Timeout: ob.cfg.ConnectTimeout}
	conn, err := d.DialContext(req.Context(), "tcp", ob.u.Host)
	if err != nil {
		return nil, err
	}
	if ob.u.Scheme == "wss" {
		cfg := ob.cfg.TLS.Clone()
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			cfg.ServerName = ob.u.Hostname()
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(req.Context()); err != nil {
			conn.Close()
			return nil, err
		}
		conn = tc
	}
	if dl, ok := req.Context().Deadline(); ok {
		conn.SetDeadline(dl)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\n", ob.u.RequestURI())
	b.WriteString("Sec-WebSocket-Version: 13\r\n")
	b.WriteString("Upgrade: websocket\r\n")
	b.WriteString("Connection: Upgrade\r\n")
	fmt.Fprintf(&b, "Host: %s\r\n", ob.u.Host)
	if v := req.Header.Get("Authorization"); v != "" {
		fmt.Fprintf(&b, "Authorization: %s\r\n", v)
	}
	if v := req.Header.Get("Sec-WebSocket-Protocol"); v != "" {
		fmt.Fprintf(&b, "Sec-WebSocket-Protocol: %s\r\n", v)
	}
	fmt.Fprintf(&b, "Sec-WebSocket-Key: %s\r\n\r\n", req.Header.Get("Sec-WebSocket-Key"))
	head := b.String()
	ob.s.mu.Lock()
	ob.heads = append(ob.heads, head)
	ob.s.mu.Unlock()
	if _, err := io.WriteString(conn, head); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		resp.Body.Close()
		conn.Close()
		resp.Body = io.NopCloser(strings.NewReader(string(body)))
		return resp, nil
	}
	conn.SetDeadline(time.Time{})
	resp.Body = &upgraded{Reader: br, Conn: conn}
	return resp, nil
}

// upgraded is the connection after a 101, its buffered reader first.
type upgraded struct {
	*bufio.Reader
	net.Conn
}

func (u *upgraded) Read(b []byte) (int, error) { return u.Reader.Read(b) }

// outLink is one connection of a pipe: its own writer (events and
// responses in order) and a reader that answers REST requests one at a
// time, as Asterisk's session thread does.
type outLink struct {
	p  *pipe
	ws *websocket.Conn
	w  *wsWriter

	mu   sync.Mutex // held, and the order of what push queues
	held []heldMsg
	done chan struct{}
}

type heldMsg struct {
	b []byte
	n int
}

func newOutLink(p *pipe, ws *websocket.Conn) *outLink {
	return &outLink{p: p, ws: ws, w: newWSWriter(ws), done: make(chan struct{})}
}

// push queues b for sending; a ChannelVarset is held back when LateVarset
// says so.
func (l *outLink) push(b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	late := l.p.ob.cfg.LateVarset
	switch {
	case late > 0 && messageType(b) == "ChannelVarset":
		l.held = append(l.held, heldMsg{b, late})
		time.AfterFunc(50*time.Millisecond, l.flushHeld)
	case messageType(b) == "RESTResponse":
		out := [][]byte{b}
		keep := l.held[:0]
		for _, h := range l.held {
			if h.n--; h.n <= 0 {
				out = append(out, h.b)
			} else {
				keep = append(keep, h)
			}
		}
		l.held = keep
		l.w.send(out...)
	default:
		l.w.send(b)
	}
}

func (l *outLink) flushHeld() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, h := range l.held {
		l.w.send(h.b)
	}
	l.held = nil
}

func messageType(b []byte) string {
	var h struct {
		Type string `json:"type"`
	}
	json.Unmarshal(b, &h)
	return h.Type
}

// run writes and reads until the connection ends, then tells the pipe.
func (l *outLink) run() {
	ctx, cancel := context.WithCancel(context.Background())
	go l.w.run(ctx)
	for {
		typ, data, err := l.ws.Read(ctx)
		if err != nil {
			break
		}
		if typ == websocket.MessageText {
			l.p.ob.s.serveWS(l, data)
		}
	}
	cancel()
	l.ws.CloseNow()
	close(l.done)
	l.p.lost(l)
}

// wsRequest is a RESTRequest as Asterisk reads it.
type wsRequest struct {
	Type          *string         `json:"type"`
	TransactionID string          `json:"transaction_id"`
	RequestID     string          `json:"request_id"`
	Method        string          `json:"method"`
	URI           string          `json:"uri"`
	QueryStrings  json.RawMessage `json:"query_strings"`
	ContentType   string          `json:"content_type"`
	MessageBody   string          `json:"message_body"`
}

// wsResponse is a RESTResponse, fields in Asterisk's order.
type wsResponse struct {
	Type          string   `json:"type"`
	TransactionID string   `json:"transaction_id"`
	RequestID     string   `json:"request_id"`
	StatusCode    int      `json:"status_code"`
	ReasonPhrase  string   `json:"reason_phrase"`
	URI           string   `json:"uri"`
	ContentType   string   `json:"content_type,omitempty"`
	MessageBody   string   `json:"message_body,omitempty"`
	Application   string   `json:"application"`
	Timestamp     ari.Time `json:"timestamp"`
	AsteriskID    string   `json:"asterisk_id"`
}

// afterKey carries, in an outbound request's context, what runs once its
// response is on its way.
type afterKey struct{}

type afterList struct{ fs []func() }

// deferred reports whether r came over an outbound websocket.
func deferred(r *http.Request) bool {
	_, ok := r.Context().Value(afterKey{}).(*afterList)
	return ok
}

// after runs f once r's response is queued (over an outbound websocket),
// or at once.
func after(r *http.Request, f func()) {
	if al, ok := r.Context().Value(afterKey{}).(*afterList); ok {
		al.fs = append(al.fs, f)
		return
	}
	f()
}

// httpMethods are the methods Asterisk knows (main/http.c,
// ast_http_methods_text; compared case-sensitively).
var httpMethods = map[string]bool{"GET": true, "POST": true, "HEAD": true, "PUT": true, "DELETE": true, "OPTIONS": true}

// serveWS answers one message of an outbound connection as
// ari_websocket_process_request does: the checks of
// parse_rest_request_msg in their order (each a 400 "Bad request"), then
// the REST call itself.
func (s *Server) serveWS(l *outLink, data []byte) {
	resp := wsResponse{Type: "RESTResponse"}
	bad := func(msg string) {
		resp.StatusCode, resp.ReasonPhrase = http.StatusBadRequest, "Bad request"
		resp.ContentType = "application/json"
		b, _ := json.Marshal(map[string]string{"message": msg})
		resp.MessageBody = string(b)
	}
	var req wsRequest
	var rec *responseRecorder
	var al afterList
	switch err := json.Unmarshal(data, &req); {
	case err != nil:
		// session_read: no body, no ids.
		resp.StatusCode, resp.ReasonPhrase = http.StatusBadRequest, "Failed to parse request message JSON"
	case req.Type == nil || *req.Type == "":
		resp.TransactionID, resp.RequestID = req.TransactionID, req.RequestID
		bad("No 'type' property.")
	case *req.Type != "RESTRequest":
		resp.TransactionID, resp.RequestID = req.TransactionID, req.RequestID
		bad("Unknown request type.")
	case req.URI == "":
		resp.TransactionID, resp.RequestID = req.TransactionID, req.RequestID
		bad("Empty or missing 'uri' property.")
	default:
		resp.TransactionID, resp.RequestID = req.TransactionID, req.RequestID
		path, rawQuery, _ := strings.Cut(req.URI, "?")
		resp.URI = path
		query, _ := url.ParseQuery(rawQuery)
		if query == nil {
			query = url.Values{}
		}
		if !httpMethods[req.Method] {
			bad("Unknown or missing 'method' property.")
			break
		}
		if len(req.QueryStrings) > 0 && string(req.QueryStrings) != "null" {
			var qs []struct {
				Name  *string `json:"name"`
				Value *string `json:"value"`
			}
			if err := json.Unmarshal(req.QueryStrings, &qs); err != nil {
				bad("Unable to parse 'query_strings' array.")
				break
			}
			okQS := true
			for _, q := range qs {
				if q.Name == nil || q.Value == nil {
					okQS = false
					break
				}
				query.Add(*q.Name, *q.Value)
			}
			if !okQS {
				bad("Unable to parse 'query_strings' array.")
				break
			}
		}
		var body io.Reader
		jsonBody := false
		if req.MessageBody != "" {
			switch req.ContentType {
			case "":
				bad("No 'content_type' for 'message_body'.")
			case "application/x-www-form-urlencoded":
				form, err := url.ParseQuery(req.MessageBody)
				if err != nil {
					bad("Unable to parse 'message_body' as 'application/x-www-form-urlencoded'.")
					break
				}
				for k, vs := range form {
					for _, v := range vs {
						query.Add(k, v)
					}
				}
			case "application/json":
				if !json.Valid([]byte(req.MessageBody)) {
					bad("Unable to parse 'message_body' as 'application/json'.")
					break
				}
				body, jsonBody = strings.NewReader(req.MessageBody), true
			default:
				bad("Unknown content type.")
			}
			if resp.StatusCode != 0 {
				break
			}
		}
		ctx := context.WithValue(context.Background(), afterKey{}, &al)
		hr, err := http.NewRequestWithContext(ctx, req.Method, "/ari/"+path, body)
		if err != nil {
			bad("Empty or missing 'uri' property.")
			break
		}
		hr.URL.RawQuery = query.Encode()
		if jsonBody {
			hr.Header.Set("Content-Type", "application/json")
		}
		rec = &responseRecorder{header: http.Header{}}
		s.serveREST(rec, hr, "/"+strings.TrimPrefix(path, "/"))
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		resp.StatusCode = rec.status
		resp.ReasonPhrase = reasonPhrase(rec.status, rec.body.String())
		if b := strings.TrimSpace(rec.body.String()); b != "" {
			resp.ContentType, resp.MessageBody = "application/json", b
		}
		if !s.cfg.NoLog {
			logged, _ := json.Marshal(map[string]any{
				"method": req.Method, "path": "/" + path, "query": query, "body": req.MessageBody,
				"status": rec.status, "response": json.RawMessage(orEmpty(resp.MessageBody)), "transport": "websocket",
			})
			s.mu.Lock()
			s.requests = append(s.requests, Request{Method: req.Method, Path: "/" + path, Query: query, Body: req.MessageBody, Status: rec.status})
			s.log = append(s.log, Entry{Kind: "rest", At: time.Now(), Data: logged})
			s.mu.Unlock()
		}
	}
	s.mu.Lock()
	resp.Application = l.p.name
	resp.Timestamp = ari.Time{Time: time.Now()}
	resp.AsteriskID = s.cfg.AsteriskID
	b, err := json.Marshal(&resp)
	if err != nil {
		s.mu.Unlock()
		panic("aritest: " + err.Error())
	}
	l.push(b)
	s.mu.Unlock()
	for _, f := range al.fs {
		f()
	}
}

func orEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// reasonPhrase is the reason Asterisk gives a status: the one its handler
// names (res/ari/resource_channels.c, res/res_ari.c), else the standard
// one.
func reasonPhrase(status int, body string) string {
	var m struct {
		Message string `json:"message"`
	}
	json.Unmarshal([]byte(body), &m)
	switch {
	case status == http.StatusNotFound && m.Message == msgNoSuchChannel:
		return "Channel Not Found"
	case status == http.StatusNotFound && m.Message == "Provided variable was not found":
		return "Variable Not Found"
	case status == http.StatusInternalServerError && m.Message == "Unable to read provided function":
		return "Error With Function"
	}
	return http.StatusText(status)
}

// responseRecorder keeps what a REST handler wrote.
type responseRecorder struct {
	header http.Header
	status int
	body   strings.Builder
}

func (r *responseRecorder) Header() http.Header { return r.header }
func (r *responseRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *responseRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// ErrOutboundStopped is what a persistent Outbound's WaitConnected
// returns once it is closed.
var ErrOutboundStopped = errors.New("aritest: outbound websocket stopped")

// WaitConnected waits until the persistent connection is up.
func (ob *Outbound) WaitConnected(ctx context.Context) error {
	return ob.s.waitFor(ctx, func() bool {
		return ob.stopped || (ob.persistent != nil && ob.persistent.link != nil)
	})
}
