package aritest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callscreen/callscreen/ari"
	"github.com/callscreen/callscreen/ari/aritest"
	"github.com/coder/websocket"
)

// The outbound captures (ari/testdata/outbound, from a real Asterisk
// 22.10.1) replayed against the fake: the test plays the application
// server the recorder was, sends the recorded RESTRequests, and checks
// that the fake's upgrade request, events and RESTResponses are the
// recorded ones, in the recorded order, and that it closes as recorded.

const outboundDir = "../testdata/outbound/"

// obEntry is one line of an outbound capture.
type obEntry struct {
	Kind string `json:"kind"`
	// Section is set in app-unreachable-asterisk-log.jsonl.
	Section string          `json:"section"`
	At      time.Time       `json:"at"`
	Conn    int             `json:"conn"`
	Data    json.RawMessage `json:"data"`
}

func readOutbound(t *testing.T, name string) []obEntry {
	t.Helper()
	b, err := os.ReadFile(outboundDir + name)
	if err != nil {
		t.Fatal(err)
	}
	var out []obEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e obEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, e)
	}
	return out
}

// byConn splits a capture by connection, in order of first appearance.
func byConn(entries []obEntry) [][]obEntry {
	var order []int
	m := map[int][]obEntry{}
	for _, e := range entries {
		if _, ok := m[e.Conn]; !ok {
			order = append(order, e.Conn)
		}
		m[e.Conn] = append(m[e.Conn], e)
	}
	var out [][]obEntry
	for _, c := range order {
		out = append(out, m[c])
	}
	return out
}

func field(raw json.RawMessage, key string) string {
	var m map[string]any
	json.Unmarshal(raw, &m)
	s, _ := m[key].(string)
	return s
}

// canonical moves every ChannelVarset to just before the RESTResponse of
// the request that set its variable: the capture shows it before or after
// (even after the next request) by timing; the fake, left alone, sends it
// first, as Asterisk does when nothing is in the way.
func canonical(entries []obEntry) []obEntry {
	setter := map[string]string{} // variable -> request_id setting it
	for _, e := range entries {
		if e.Kind != "send" {
			continue
		}
		var r struct {
			RequestID    string `json:"request_id"`
			Method       string `json:"method"`
			URI          string `json:"uri"`
			MessageBody  string `json:"message_body"`
			QueryStrings []struct {
				Name, Value string
			} `json:"query_strings"`
		}
		json.Unmarshal(e.Data, &r)
		if r.Method != "POST" || !strings.Contains(r.URI, "/variable") {
			continue
		}
		all := r.URI + "&" + r.MessageBody
		for _, q := range r.QueryStrings {
			all += "&" + q.Name + "=" + q.Value
		}
		for _, m := range regexp.MustCompile(`"?variable"?[=:]"?([A-Z_]+)`).FindAllStringSubmatch(all, -1) {
			setter[m[1]] = r.RequestID
		}
	}
	var varsets []obEntry
	var rest []obEntry
	for _, e := range entries {
		if e.Kind == "event" && field(e.Data, "type") == "ChannelVarset" && setter[field(e.Data, "variable")] != "" {
			varsets = append(varsets, e)
			continue
		}
		rest = append(rest, e)
	}
	var out []obEntry
	for _, e := range rest {
		if e.Kind == "event" && field(e.Data, "type") == "RESTResponse" {
			for _, v := range varsets {
				if setter[field(v.Data, "variable")] == field(e.Data, "request_id") {
					out = append(out, v)
				}
			}
		}
		out = append(out, e)
	}
	return out
}

// normaliseOB drops what differs between runs (timestamps) and reads a
// message_body (a JSON document in a string) as JSON.
func normaliseOB(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	delete(m, "timestamp")
	if b, ok := m["message_body"].(string); ok {
		var v any
		if err := json.Unmarshal([]byte(b), &v); err != nil {
			t.Errorf("message_body %q is not JSON: %v", b, err)
		}
		m["message_body"] = v
	}
	return m
}

// teeListener keeps the request head of every connection, as received.
type teeListener struct {
	net.Listener
	mu    sync.Mutex
	heads map[string]string
}

func (l *teeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &teeConn{Conn: c, l: l}, nil
}

func (l *teeListener) head(remote string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.heads[remote]
}

type teeConn struct {
	net.Conn
	l    *teeListener
	buf  []byte
	done bool
}

func (c *teeConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if !c.done && n > 0 {
		c.buf = append(c.buf, b[:n]...)
		if i := bytes.Index(c.buf, []byte("\r\n\r\n")); i >= 0 {
			c.done = true
			c.l.mu.Lock()
			c.l.heads[c.RemoteAddr().String()] = string(c.buf[:i+4])
			c.l.mu.Unlock()
		}
	}
	return n, err
}

// appServer plays the application server of the captures.
type appServer struct {
	t    *testing.T
	ln   *teeListener
	hs   *http.Server
	addr string

	mu    sync.Mutex
	down  bool
	open  map[*appConn]bool
	conns chan *appConn
}

// appConn is one connection Asterisk made to it.
type appConn struct {
	ws     *websocket.Conn
	unread []byte
	head   string
	msgs   chan []byte
	done   chan struct{}
	err    error
}

func newAppServer(t *testing.T) *appServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &appServer{t: t, ln: &teeListener{Listener: l, heads: map[string]string{}}, addr: l.Addr().String(),
		open: map[*appConn]bool{}, conns: make(chan *appConn, 16)}
	s.hs = &http.Server{Handler: http.HandlerFunc(s.serve)}
	go s.hs.Serve(s.ln)
	t.Cleanup(func() {
		s.setDown(true)
		s.hs.Close()
	})
	return s
}

func (s *appServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"ari"}})
	if err != nil {
		return
	}
	ws.SetReadLimit(1 << 20)
	if ws.Subprotocol() != "ari" {
		s.t.Errorf("subprotocol %q, want ari", ws.Subprotocol())
	}
	c := &appConn{ws: ws, head: s.ln.head(r.RemoteAddr), msgs: make(chan []byte, 1000), done: make(chan struct{})}
	s.mu.Lock()
	s.open[c] = true
	s.mu.Unlock()
	s.conns <- c
	for {
		_, data, err := ws.Read(context.Background())
		if err != nil {
			c.err = err
			break
		}
		c.msgs <- data
	}
	close(c.done)
	s.mu.Lock()
	delete(s.open, c)
	s.mu.Unlock()
}

// setDown makes the server refuse connections (503) and drops the open
// ones, as a stopped application server would; or accept them again.
func (s *appServer) setDown(down bool) {
	s.mu.Lock()
	s.down = down
	var drop []*appConn
	if down {
		for c := range s.open {
			drop = append(drop, c)
		}
	}
	s.mu.Unlock()
	for _, c := range drop {
		c.ws.CloseNow()
	}
}

func (s *appServer) next(ctx context.Context) *appConn {
	s.t.Helper()
	select {
	case c := <-s.conns:
		return c
	case <-ctx.Done():
		s.t.Fatal("no connection from the fake Asterisk")
		return nil
	}
}

// read returns the next message, nil when the connection closed.
func (c *appConn) read(ctx context.Context, t *testing.T) []byte {
	t.Helper()
	if m := c.unread; m != nil {
		c.unread = nil
		return m
	}
	select {
	case m := <-c.msgs:
		return m
	case <-c.done:
		select {
		case m := <-c.msgs:
			return m
		default:
			return nil
		}
	case <-ctx.Done():
		t.Fatal("no message from the fake Asterisk")
		return nil
	}
}

// specFrom is the fake channel a capture's StasisStart describes.
func specFrom(t *testing.T, entries []obEntry) aritest.CallSpec {
	t.Helper()
	for _, e := range entries {
		if e.Kind == "event" && field(e.Data, "type") == "StasisStart" {
			var st ari.StasisStart
			if err := json.Unmarshal(e.Data, &st); err != nil {
				t.Fatal(err)
			}
			c := st.Channel
			return aritest.CallSpec{
				ID: c.ID, Name: c.Name, CallerNumber: c.Caller.Number, CallerName: c.Caller.Name,
				Context: c.Dialplan.Context, Exten: c.Dialplan.Exten, Priority: c.Dialplan.Priority,
				Args: st.Args, State: c.State, Language: c.Language, CreationTime: c.CreationTime.Time,
			}
		}
	}
	t.Fatal("no StasisStart in the capture")
	return aritest.CallSpec{}
}

// wantHead is the capture's upgrade head with the parts that differ
// between runs (host port, key, credentials) replaced by the run's.
func wantHead(t *testing.T, recorded obEntry, host, auth, key string) string {
	t.Helper()
	var up struct {
		Raw string `json:"raw_request_head"`
	}
	if err := json.Unmarshal(recorded.Data, &up); err != nil {
		t.Fatal(err)
	}
	h := regexp.MustCompile(`Host: [^\r]*`).ReplaceAllString(up.Raw, "Host: "+host)
	h = regexp.MustCompile(`Authorization: Basic [^\r]*`).ReplaceAllString(h, "Authorization: Basic "+auth)
	return regexp.MustCompile(`Sec-WebSocket-Key: [^\r]*`).ReplaceAllString(h, "Sec-WebSocket-Key: "+key)
}

var keyRE = regexp.MustCompile(`Sec-WebSocket-Key: ([^\r]*)`)

// replayConn plays one connection of a capture. hangup is called when the
// next recorded event is the caller's ChannelHangupRequest.
func replayConn(ctx context.Context, t *testing.T, s *appServer, c *appConn, entries []obEntry, hangup func(cause int)) {
	t.Helper()
	auth := "b2J3cy11c2VyOnMzY3JldA==" // obws-user:s3cret
	for i, e := range canonical(entries) {
		switch e.Kind {
		case "upgrade":
			key := keyRE.FindStringSubmatch(c.head)
			if key == nil {
				t.Fatalf("no Sec-WebSocket-Key in %q", c.head)
			}
			if want := wantHead(t, e, s.addr, auth, key[1]); c.head != want {
				t.Errorf("upgrade head\n got %q\nwant %q", c.head, want)
			}
		case "send":
			if err := c.ws.Write(ctx, websocket.MessageText, e.Data); err != nil {
				t.Fatalf("entry %d: send: %v", i, err)
			}
		case "event":
			if field(e.Data, "type") == "ChannelHangupRequest" && hangup != nil {
				var hr struct{ Cause int }
				json.Unmarshal(e.Data, &hr)
				hangup(hr.Cause)
			}
			got := c.read(ctx, t)
			if got == nil {
				t.Fatalf("entry %d: connection closed (%v), want %s", i, c.err, e.Data)
			}
			if want, have := normaliseOB(t, e.Data), normaliseOB(t, got); !reflect.DeepEqual(want, have) {
				t.Errorf("entry %d:\n got %s\nwant %s", i, got, e.Data)
			}
		case "close":
			var cl struct {
				Status int `json:"close_status"`
			}
			json.Unmarshal(e.Data, &cl)
			if got := c.read(ctx, t); got != nil {
				t.Fatalf("entry %d: message %s, want the close", i, got)
			}
			if st := websocket.CloseStatus(c.err); int(st) != cl.Status {
				t.Errorf("closed with %d (%v), want %d", st, c.err, cl.Status)
			}
		}
	}
}

func newOutbound(t *testing.T, srv *aritest.Server, s *appServer, path string, perCall bool, mod ...func(*aritest.OutboundConfig)) *aritest.Outbound {
	t.Helper()
	app := "callscreen"
	if perCall {
		app = "callscreen-pc"
	}
	cfg := aritest.OutboundConfig{
		App: app, URI: "ws://" + s.addr + path, Username: "obws-user", Password: "s3cret", PerCall: perCall,
		ReconnectInterval: 20 * time.Millisecond, StartDelay: 20 * time.Millisecond, CloseDelay: 200 * time.Millisecond,
	}
	for _, f := range mod {
		f(&cfg)
	}
	ob, err := srv.Outbound(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ob
}

func TestReplayOutboundCaptures(t *testing.T) {
	tests := []struct {
		file    string
		perCall bool
		linger  bool
		// down: the call is placed while the application server is down
		// (queued), then it comes back; gaveUp: the caller hangs up first.
		down, gaveUp bool
	}{
		{file: "persistent-screen.jsonl"},
		{file: "persistent-hangup-mid-playback.jsonl"},
		{file: "persistent-app-down-then-up.jsonl", down: true},
		{file: "persistent-app-down-caller-gave-up.jsonl", down: true, gaveUp: true},
		{file: "percall-screen.jsonl", perCall: true},
		{file: "percall-hangup-mid-playback.jsonl", perCall: true, linger: true},
		{file: "percall-concurrent.jsonl", perCall: true},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.file, ".jsonl"), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			entries := readOutbound(t, tt.file)
			srv := aritest.NewServer(aritest.Config{
				SoundDuration: 20 * time.Millisecond, DigitDuration: time.Second, NoLog: true,
			})
			defer srv.Close()
			s := newAppServer(t)
			path := "/ari/persistent?tenant=acme"
			if tt.perCall {
				path = "/ari/percall?tenant=acme"
			}
			newOutbound(t, srv, s, path, tt.perCall)
			conns := byConn(entries)

			if tt.perCall {
				var wg sync.WaitGroup
				chans := make(map[string]*aritest.Channel)
				var mu sync.Mutex
				for _, ce := range conns {
					spec := specFrom(t, ce)
					spec.LingerAfterHangup = tt.linger
					wg.Add(1)
					go func() {
						defer wg.Done()
						ch, err := srv.StartCall("callscreen-pc", spec)
						if err != nil {
							t.Errorf("StartCall: %v", err)
							return
						}
						mu.Lock()
						chans[spec.Name] = ch
						mu.Unlock()
					}()
				}
				// Each connection goes with the capture of its channel.
				var rw sync.WaitGroup
				for range conns {
					c := s.next(ctx)
					first := c.read(ctx, t)
					app := field(first, "application")
					var ce []obEntry
					for _, cand := range conns {
						for _, e := range cand {
							if e.Kind == "event" && field(e.Data, "application") == app {
								ce = cand
							}
						}
					}
					if ce == nil {
						t.Fatalf("connection for %q: no such connection in the capture", app)
					}
					// The first message was read already: put it back.
					c.unread = first
					rw.Add(1)
					go func() {
						defer rw.Done()
						name := strings.TrimPrefix(app, "callscreen-pc:")
						replayConn(ctx, t, s, c, ce, func(cause int) {
							wg.Wait()
							mu.Lock()
							ch := chans[name]
							mu.Unlock()
							ch.HangupCause(cause)
						})
					}()
				}
				rw.Wait()
				wg.Wait()
				return
			}

			// Persistent: the first connection is made at once.
			c := s.next(ctx)
			ce := conns[0]
			spec := specFrom(t, ce)
			var ch *aritest.Channel
			if tt.down {
				// What the capture shows began on the connection after an
				// outage: a first connection, the server going down, the
				// call placed, the server back.
				if first := c.read(ctx, t); field(first, "type") != "ApplicationRegistered" {
					t.Fatalf("first message %s, want ApplicationRegistered", first)
				}
				s.setDown(true)
				waitCtx(t, func(ctx context.Context) error { return srv.WaitDisconnected(ctx, "callscreen") })
				var err error
				if ch, err = srv.StartCall("callscreen", spec); err != nil {
					t.Fatal(err)
				}
				if tt.gaveUp {
					ch.HangupCause(19)
				}
				s.setDown(false)
				c = s.next(ctx)
			} else {
				var err error
				if ch, err = srv.StartCall("callscreen", spec); err != nil {
					t.Fatal(err)
				}
			}
			replayConn(ctx, t, s, c, ce, func(cause int) {
				if !tt.gaveUp {
					ch.HangupCause(cause)
				}
			})
		})
	}
}

// TestReplayOutboundReconnect: a persistent connection that drops is made
// again after reconnect_interval with the same upgrade request (a new
// key), and ApplicationRegistered comes again.
func TestReplayOutboundReconnect(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	entries := readOutbound(t, "persistent-reconnect.jsonl")
	srv := aritest.NewServer(aritest.Config{NoLog: true})
	defer srv.Close()
	s := newAppServer(t)
	ob := newOutbound(t, srv, s, "/ari/persistent?tenant=acme", false)
	c := s.next(ctx)
	if m := c.read(ctx, t); field(m, "type") != "ApplicationRegistered" {
		t.Fatalf("first message %s", m)
	}
	c.ws.CloseNow() // the recorder process restarted
	c = s.next(ctx)
	replayConn(ctx, t, s, c, entries, nil)
	heads := ob.Heads()
	if len(heads) != 2 {
		t.Fatalf("%d upgrade requests, want 2", len(heads))
	}
	k0, k1 := keyRE.FindStringSubmatch(heads[0]), keyRE.FindStringSubmatch(heads[1])
	if k0[1] == k1[1] || keyRE.ReplaceAllString(heads[0], "") != keyRE.ReplaceAllString(heads[1], "") {
		t.Errorf("reconnect head differs other than by its key:\n%q\n%q", heads[0], heads[1])
	}
}

// TestOutboundCloseDelayMatchesCaptures: the fake's default close delay
// is what every per-call capture shows between StasisEnd and the close.
func TestOutboundCloseDelayMatchesCaptures(t *testing.T) {
	for _, f := range []string{"percall-screen.jsonl", "percall-hangup-mid-playback.jsonl", "percall-concurrent.jsonl"} {
		for _, ce := range byConn(readOutbound(t, f)) {
			var end, closed time.Time
			for _, e := range ce {
				switch {
				case e.Kind == "event" && field(e.Data, "type") == "StasisEnd":
					end = e.At
				case e.Kind == "close":
					closed = e.At
				}
			}
			gap := closed.Sub(end)
			if d := gap - aritest.DefaultCloseDelay; d < -200*time.Millisecond || d > 200*time.Millisecond {
				t.Errorf("%s conn %d: StasisEnd to close %s; DefaultCloseDelay %s", f, ce[0].Conn, gap, aritest.DefaultCloseDelay)
			}
		}
	}
}

// TestOutboundUnreachable replays app-unreachable-asterisk-log.jsonl: with
// nothing listening, a per-call Stasis() fails (STASISSTATUS=FAILED) after
// one batch of tries, about 2.5 s with the capture's settings, and
// nothing is sent; a persistent one does not fail: the channel waits in
// Ring, its events queued, and Asterisk keeps trying.
func TestOutboundUnreachable(t *testing.T) {
	entries := readOutbound(t, "app-unreachable-asterisk-log.jsonl")
	var stasisAt, failedAt time.Time
	for _, e := range entries {
		var line string
		json.Unmarshal(e.Data, &line)
		if !strings.HasPrefix(e.Section, "B") || e.Kind != "asterisk-log" {
			continue
		}
		switch {
		case strings.Contains(line, "Stasis(") && stasisAt.IsZero():
			stasisAt = e.At
		case strings.Contains(line, "Failed to create per call websocket thread"):
			failedAt = e.At
		}
	}
	recorded := failedAt.Sub(stasisAt)
	if recorded < 2*time.Second || recorded > 3*time.Second {
		t.Fatalf("capture: per-call Stasis() failed after %s; the test expects about 2.5 s", recorded)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close() // nothing listens there now

	srv := aritest.NewServer(aritest.Config{NoLog: true})
	defer srv.Close()
	// The capture's settings: connection_timeout 500, reconnect_interval
	// 1000, reconnect_attempts 3.
	pc, err := srv.Outbound(aritest.OutboundConfig{App: "callscreen-pc", URI: "ws://" + dead + "/ari/percall", PerCall: true})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = srv.StartCall("callscreen-pc", aritest.CallSpec{CallerNumber: "+15551231111"})
	took := time.Since(start)
	if !errors.Is(err, aritest.ErrNotConnected) {
		t.Fatalf("per-call StartCall with nothing listening: %v, want ErrNotConnected", err)
	}
	if took < recorded-100*time.Millisecond {
		t.Errorf("per-call Stasis() failed after %s; the capture took %s", took, recorded)
	}
	if pc.Attempts() != aritest.DefaultReconnectAttempts {
		t.Errorf("%d connection attempts, want %d", pc.Attempts(), aritest.DefaultReconnectAttempts)
	}

	ps, err := srv.Outbound(aritest.OutboundConfig{App: "callscreen", URI: "ws://" + dead + "/ari/persistent", ReconnectInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := srv.StartCall("callscreen", aritest.CallSpec{CallerNumber: "+15551230000"})
	if err != nil {
		t.Fatalf("persistent StartCall with nothing listening: %v; Asterisk accepts the call", err)
	}
	if st := ch.Info().State; st != "Ring" || ch.StasisStatus() != "" {
		t.Errorf("channel state %s, STASISSTATUS %q; want Ring, still in Stasis", st, ch.StasisStatus())
	}
	if srv.DroppedEvents() != 0 {
		t.Errorf("%d events dropped; a persistent websocket queues them", srv.DroppedEvents())
	}
	// It keeps trying, batch after batch.
	waitCtx(t, func(ctx context.Context) error {
		for ps.Attempts() <= 2*aritest.DefaultReconnectAttempts {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
		}
		return nil
	})
}

// waitCtx runs wait with a deadline and fails the test when it passes.
func waitCtx(t *testing.T, wait func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := wait(ctx); err != nil {
		t.Fatal(err)
	}
}
