package ari

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/coder/websocket"
)

// maxEventSize bounds one event message (a channel with many channelvars
// can exceed the WebSocket library's 32 KiB default).
const maxEventSize = 1 << 20

// Events is one event WebSocket (GET /ari/events?app=NAME). Opening it
// registers the application with Asterisk; closing it unregisters it, and
// Stasis() then fails with STASISSTATUS=FAILED until the next Subscribe.
type Events struct {
	conn *websocket.Conn
}

// Subscribe opens the event WebSocket for app with subprotocol "ari",
// authenticated with HTTP Basic auth, subscribed to the app's own channels
// only (subscribeAll=false). A refused handshake is an *Error carrying the
// HTTP status (errors.Is(err, ErrUnauthorized) on 401).
func (c *Client) Subscribe(ctx context.Context, app string) (*Events, error) {
	op := "ari subscribe " + app
	if err := checkName("application name", app); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	h := http.Header{}
	req := http.Request{Header: h}
	req.SetBasicAuth(c.user, c.pass)
	u := c.endpoint(url.Values{"app": {app}, "subscribeAll": {"false"}}, "events")
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{
		HTTPClient:   c.http,
		HTTPHeader:   h,
		Subprotocols: []string{"ari"},
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			var body []byte
			if resp.Body != nil {
				body, _ = io.ReadAll(io.LimitReader(resp.Body, 1024))
			}
			return nil, fmt.Errorf("%s: %w", op, errorFrom(resp.StatusCode, body))
		}
		return nil, fmt.Errorf("%s: %w", op, scrub(err))
	}
	conn.SetReadLimit(maxEventSize)
	return &Events{conn: conn}, nil
}

// Read returns the next message. An error other than ctx's means the
// connection is lost.
func (e *Events) Read(ctx context.Context) ([]byte, error) {
	for {
		typ, data, err := e.conn.Read(ctx)
		if err != nil {
			return nil, fmt.Errorf("ari events: %w", err)
		}
		if typ == websocket.MessageText {
			return data, nil
		}
	}
}

// Next reads and decodes the next event. A message that is not an event is
// an error wrapping ErrBadEvent and the connection stays usable; any other
// error means it is lost.
func (e *Events) Next(ctx context.Context) (Event, error) {
	data, err := e.Read(ctx)
	if err != nil {
		return nil, err
	}
	return ParseEvent(data)
}

// Ping checks the connection is alive; it needs a concurrent Read.
func (e *Events) Ping(ctx context.Context) error {
	if err := e.conn.Ping(ctx); err != nil {
		return fmt.Errorf("ari events ping: %w", err)
	}
	return nil
}

// Close closes the connection, waiting briefly for the close handshake.
func (e *Events) Close() error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = e.conn.Close(websocket.StatusNormalClosure, "")
	}()
	select {
	case <-done:
	case <-time.After(time.Second):
		_ = e.conn.CloseNow()
		<-done
	}
	return nil
}

// Abort drops the connection at once.
func (e *Events) Abort() { _ = e.conn.CloseNow() }
