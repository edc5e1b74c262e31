package aritest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/callscreen/callscreen/ari"
	"github.com/coder/websocket"
)

// ErrNotConnected is StartCall's answer when no event connection has the
// application registered: real Asterisk then fails Stasis() with
// STASISSTATUS=FAILED and the dialplan goes on.
var ErrNotConnected = errors.New("aritest: application not connected (STASISSTATUS=FAILED)")

// Config shapes the fake server. The zero Config needs no authentication.
type Config struct {
	// Username and Password, when Username is not empty, are required as
	// HTTP Basic auth (or, as Asterisk also accepts, api_key=user:pass).
	Username, Password string
	// AsteriskID is the events' asterisk_id; "" is "02:fc:00:00:00:01".
	AsteriskID string
	// SoundDuration is how long a sound:, recording: or tone: media plays;
	// 0 is 100ms. Sounds overrides it per sound name.
	SoundDuration time.Duration
	Sounds        map[string]time.Duration
	// DigitDuration is how long each character of digits:, number: and
	// characters: media plays; 0 is 50ms.
	DigitDuration time.Duration
	// MissingSounds are sound names whose playback fails and that
	// GET /sounds/{id} does not know; "digits/N" makes digits: skip N
	// silently, as Asterisk does.
	MissingSounds []string
	// PluralVariables, when 404 or 405, makes POST /channels/{id}/variables
	// answer like an Asterisk older than 22.10.
	PluralVariables int
	// NoLog turns off the request and event log (for load tests).
	NoLog bool
	// OnEmit, when set, is called with every event as it is generated,
	// before it is queued for sending (load tests time delivery with it).
	// It runs under the server's lock: it must be quick and must not call
	// the Server.
	OnEmit func(app string, ev ari.Event)
	// OnRequest, when set, is called as each REST call arrives (over HTTP
	// or an outbound websocket), before it is answered, with its method
	// and path below /ari (load tests time the flow with it). It must be
	// quick and must not call the Server.
	OnRequest func(method, path string)
}

// Fault lets a test break a REST call: a non-zero status is answered with
// message instead of the real thing. path is relative to /ari
// ("/channels/1.2/variable"). A Fault may block, watching r.Context().
type Fault func(r *http.Request, path string) (status int, message string)

// Request is one REST call the server answered.
type Request struct {
	Method string
	Path   string // relative to /ari
	Query  url.Values
	Body   string
	Status int
	// APIKey is set when the call authenticated with api_key in the URL.
	APIKey bool
}

// Entry is one line of the transcript, in the fixtures' format: an event
// sent (Data is the event as JSON) or a REST call answered.
type Entry struct {
	Kind string          `json:"kind"`
	At   time.Time       `json:"at"`
	Data json.RawMessage `json:"data"`
}

// Server is a fake Asterisk ARI server on 127.0.0.1.
type Server struct {
	// URL is the base URL to give a client ("http://127.0.0.1:PORT");
	// the ARI lives under URL + "/ari".
	URL string

	cfg Config
	hs  *httptest.Server

	mu        sync.Mutex
	password  string
	refuse    int
	apps      map[string]sink
	conns     map[*conn]bool
	outbound  map[string]*Outbound
	channels  map[string]*Channel
	playbacks map[string]*playback
	seq       int
	idBase    int64
	faults    []Fault
	requests  []Request
	log       []Entry
	dials     int
	authFails int
	dropped   int
	closed    bool
	changed   chan struct{}
	closes    []websocket.StatusCode
}

// NewServer starts a fake server. Close it when done.
func NewServer(cfg Config) *Server {
	if cfg.AsteriskID == "" {
		cfg.AsteriskID = "02:fc:00:00:00:01"
	}
	if cfg.SoundDuration <= 0 {
		cfg.SoundDuration = 100 * time.Millisecond
	}
	if cfg.DigitDuration <= 0 {
		cfg.DigitDuration = 50 * time.Millisecond
	}
	s := &Server{
		cfg:       cfg,
		password:  cfg.Password,
		apps:      map[string]sink{},
		conns:     map[*conn]bool{},
		outbound:  map[string]*Outbound{},
		channels:  map[string]*Channel{},
		playbacks: map[string]*playback{},
		idBase:    time.Now().Unix(),
		changed:   make(chan struct{}),
	}
	s.hs = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.hs.URL
	return s
}

// Close hangs every channel up silently, drops every event connection,
// stops every outbound websocket and stops the server.
func (s *Server) Close() {
	s.mu.Lock()
	obs := make([]*Outbound, 0, len(s.outbound))
	for _, ob := range s.outbound {
		obs = append(obs, ob)
	}
	s.mu.Unlock()
	for _, ob := range obs {
		ob.Close()
	}
	s.mu.Lock()
	s.closed = true
	for _, ch := range s.channels {
		ch.stopLocked()
	}
	for c := range s.conns {
		c.ws.CloseNow()
	}
	s.mu.Unlock()
	s.hs.Close()
}

// broadcastLocked wakes everyone waiting for a change of state.
func (s *Server) broadcastLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// SetPassword changes the password the server accepts.
func (s *Server) SetPassword(p string) {
	s.mu.Lock()
	s.password = p
	s.mu.Unlock()
}

// Refuse makes the event WebSocket handshake fail with status (503, say)
// until Refuse(0).
func (s *Server) Refuse(status int) {
	s.mu.Lock()
	s.refuse = status
	s.mu.Unlock()
}

// Fail adds a fault; faults are consulted in order on every REST call.
func (s *Server) Fail(f Fault) {
	s.mu.Lock()
	s.faults = append(s.faults, f)
	s.mu.Unlock()
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
}

// Dials counts event WebSocket handshakes attempted (accepted or not).
func (s *Server) Dials() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dials
}

// AuthFailures counts requests refused with 401.
func (s *Server) AuthFailures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authFails
}

// CloseStatuses lists how each event connection ended, in order: the
// status of the client's close frame (1000 normal, 1001 going away), or
// -1 when the connection was dropped without one, which Asterisk logs as
// "Web socket closed abruptly".
func (s *Server) CloseStatuses() []websocket.StatusCode {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]websocket.StatusCode(nil), s.closes...)
}

// WaitClosed waits until n event connections have ended.
func (s *Server) WaitClosed(ctx context.Context, n int) error {
	return s.waitFor(ctx, func() bool { return len(s.closes) >= n })
}

// DroppedEvents counts events generated while no connection had their
// application registered (lost, as with real Asterisk).
func (s *Server) DroppedEvents() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Requests returns the REST calls answered so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Transcript returns the REST calls and events so far, in order.
func (s *Server) Transcript() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Entry(nil), s.log...)
}

// Connected reports whether app has an event connection (for a
// persistent outbound websocket: whether it is connected now).
func (s *Server) Connected(app string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connectedLocked(app)
}

func (s *Server) connectedLocked(app string) bool {
	c := s.apps[app]
	return c != nil && c.up()
}

// WaitConnected waits until app has an event connection, or ctx ends.
func (s *Server) WaitConnected(ctx context.Context, app string) error {
	return s.waitFor(ctx, func() bool { return s.connectedLocked(app) })
}

// WaitDisconnected waits until app has no event connection, or ctx ends.
func (s *Server) WaitDisconnected(ctx context.Context, app string) error {
	return s.waitFor(ctx, func() bool { return !s.connectedLocked(app) })
}

// waitFor waits until cond, evaluated under the lock, holds.
func (s *Server) waitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ok := cond()
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// DropConnections cuts every event connection at once, as a network
// failure would. Channels stay in their applications; events generated
// until the client reconnects are lost.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		s.unregisterLocked(c)
		c.ws.CloseNow()
	}
}

// SendRaw sends data as one message on app's event connection, as it is:
// for testing how a client copes with event types it does not know and
// with messages that are not events. False when app has no connection.
func (s *Server) SendRaw(app string, data []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.apps[app]
	if c == nil {
		return false
	}
	c.push(append([]byte(nil), data...))
	return true
}

// emitLocked sends ev to the connection that has app registered, or drops
// it when there is none.
func (s *Server) emitLocked(app string, ev ari.Event) {
	h := ev.EventHeader()
	h.Application = app
	h.AsteriskID = s.cfg.AsteriskID
	h.Timestamp = ari.Time{Time: time.Now()}
	data, err := json.Marshal(ev)
	if err != nil {
		panic("aritest: marshal event: " + err.Error())
	}
	if !s.cfg.NoLog {
		s.log = append(s.log, Entry{Kind: "event", At: time.Now(), Data: data})
	}
	if s.cfg.OnEmit != nil {
		s.cfg.OnEmit(app, ev)
	}
	c := s.apps[app]
	if c == nil {
		s.dropped++
		return
	}
	c.push(data)
}

func (s *Server) unregisterLocked(c *conn) {
	if !s.conns[c] {
		return
	}
	delete(s.conns, c)
	for _, app := range c.apps {
		if s.apps[app] == sink(c) {
			delete(s.apps, app)
		}
	}
	s.broadcastLocked()
}

// sink is where the events of an application go: an event WebSocket
// (conn), or an outbound websocket, which queues them while it is not
// connected (pipe).
type sink interface {
	push(b []byte)
	up() bool
}

// conn is one event WebSocket with its own writer, so that generating an
// event never waits on the network.
type conn struct {
	ws   *websocket.Conn
	apps []string
	w    *wsWriter
}

func (c *conn) up() bool { return true }

func (c *conn) push(b []byte) { c.w.send(b) }

// wsWriter writes the messages queued on one WebSocket, in order, from a
// goroutine of its own (run).
type wsWriter struct {
	ws   *websocket.Conn
	mu   sync.Mutex
	q    [][]byte
	wake chan struct{}
}

func newWSWriter(ws *websocket.Conn) *wsWriter {
	return &wsWriter{ws: ws, wake: make(chan struct{}, 1)}
}

// send queues msgs, in order, and wakes the writer.
func (w *wsWriter) send(msgs ...[]byte) {
	w.mu.Lock()
	w.q = append(w.q, msgs...)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run writes what is queued until ctx ends or a write fails (the
// connection is then closed).
func (w *wsWriter) run(ctx context.Context) {
	for {
		select {
		case <-w.wake:
		case <-ctx.Done():
			return
		}
		w.mu.Lock()
		q := w.q
		w.q = nil
		w.mu.Unlock()
		for _, b := range q {
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := w.ws.Write(wctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				w.ws.CloseNow()
				return
			}
		}
	}
}

func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	refuse := s.refuse
	s.mu.Unlock()
	if refuse != 0 {
		writeError(w, refuse, http.StatusText(refuse))
		return
	}
	names := r.URL.Query().Get("app")
	if names == "" {
		writeError(w, http.StatusBadRequest, "HTTP request is missing param: [app]")
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"ari"}})
	if err != nil {
		return
	}
	c := &conn{ws: ws, apps: strings.Split(names, ","), w: newWSWriter(ws)}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ws.CloseNow()
		return
	}
	for _, app := range c.apps {
		if old := s.apps[app]; old != nil {
			// The old connection hears ApplicationReplaced and nothing more.
			s.emitLocked(app, &ari.ApplicationReplaced{Header: ari.Header{Type: "ApplicationReplaced"}})
		}
		s.apps[app] = c
	}
	s.conns[c] = true
	s.broadcastLocked()
	s.mu.Unlock()

	// Read until the connection ends, as Asterisk does, noting how: a
	// close frame's status, or none when the peer just dropped it.
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer cancel()
		for {
			if _, _, err := ws.Read(ctx); err != nil {
				s.mu.Lock()
				s.closes = append(s.closes, websocket.CloseStatus(err))
				s.broadcastLocked()
				s.mu.Unlock()
				return
			}
		}
	}()
	go c.w.run(ctx)
	<-ctx.Done()
	s.mu.Lock()
	s.unregisterLocked(c)
	s.mu.Unlock()
	ws.CloseNow()
}

// params are a REST call's parameters from the query string, a form body
// or a JSON body, the last one given winning, as Asterisk reads them.
type params struct {
	v     map[string]string
	media []string
	json  map[string]json.RawMessage
}

func readParams(r *http.Request) (*params, int, string) {
	p := &params{v: map[string]string{}}
	for k, vs := range r.URL.Query() {
		p.v[k] = vs[len(vs)-1] // a repeated parameter keeps only the last
	}
	if m, ok := p.v["media"]; ok {
		p.media = splitArgs(m)
	}
	if r.Body == nil {
		return p, 0, ""
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 40961))
	if err != nil {
		return nil, http.StatusBadRequest, "Error parsing request body"
	}
	if len(body) > 40960 {
		return nil, http.StatusRequestEntityTooLarge, "Request body too large"
	}
	if len(body) == 0 {
		return p, 0, ""
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case r.Header.Get("Content-Type") == "application/json":
		if err := json.Unmarshal(body, &p.json); err != nil {
			return nil, http.StatusBadRequest, "Error parsing request body"
		}
		for k, raw := range p.json {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				p.v[k] = s
				if k == "media" {
					p.media = splitArgs(s)
				}
				continue
			}
			var list []string
			if k == "media" && json.Unmarshal(raw, &list) == nil {
				p.media = list
				p.v[k] = strings.Join(list, ",")
			}
		}
	case ct == "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, http.StatusBadRequest, "Error parsing request body"
		}
		for k, vs := range form {
			p.v[k] = vs[len(vs)-1]
			if k == "media" {
				p.media = splitArgs(p.v[k])
			}
		}
	}
	return p, 0, ""
}

// splitArgs splits a comma-separated media list.
func splitArgs(s string) []string {
	var out []string
	for _, m := range strings.Split(s, ",") {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	return out
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"message": msg})
	w.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic("aritest: " + err.Error())
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// recorder remembers the status and body written, for the request log.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// authorize checks Basic auth first, then api_key, as Asterisk does.
func (s *Server) authorize(r *http.Request) (ok, apiKey bool) {
	user, pass, basic := r.BasicAuth()
	if !basic {
		if k := r.URL.Query().Get("api_key"); k != "" {
			apiKey = true
			user, pass, basic = strings.Cut(k, ":")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.Username == "" {
		return true, apiKey
	}
	if !basic || user != s.cfg.Username || pass != s.password || pass == "" {
		s.authFails++
		return false, apiKey
	}
	return true, apiKey
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, "/ari")
	if !ok || (path != "" && path[0] != '/') {
		writeError(w, http.StatusNotFound, "Resource not found")
		return
	}
	if path == "/events" {
		s.mu.Lock()
		s.dials++
		s.mu.Unlock()
	}
	ok, apiKey := s.authorize(r)
	if !ok {
		if apiKey {
			s.mu.Lock()
			s.requests = append(s.requests, Request{Method: r.Method, Path: path, Query: r.URL.Query(), Status: http.StatusUnauthorized, APIKey: true})
			s.mu.Unlock()
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="Asterisk REST Interface"`)
		writeError(w, http.StatusUnauthorized, "Authentication required")
		return
	}
	if path == "/events" {
		s.serveEvents(w, r)
		return
	}
	rec := &recorder{ResponseWriter: w}
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(r.Body, 40961))
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	s.serveREST(rec, r, path)
	if s.cfg.NoLog {
		return
	}
	var resp json.RawMessage
	if rec.body.Len() > 0 {
		resp = append(resp, rec.body.Bytes()...)
	} else {
		resp = json.RawMessage(`""`)
	}
	q := r.URL.Query()
	var qjson any
	if len(q) > 0 {
		qjson = q
	}
	data, _ := json.Marshal(map[string]any{
		"method": r.Method, "path": path, "query": qjson, "body": string(body),
		"status": rec.status, "response": resp,
	})
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: path, Query: q, Body: string(body), Status: rec.status, APIKey: apiKey})
	s.log = append(s.log, Entry{Kind: "rest", At: time.Now(), Data: data})
	s.mu.Unlock()
}

func (s *Server) serveREST(w http.ResponseWriter, r *http.Request, path string) {
	if s.cfg.OnRequest != nil {
		s.cfg.OnRequest(r.Method, path)
	}
	if strings.HasSuffix(path, "/") {
		writeError(w, http.StatusNotFound, "ARI URLs do not end with a slash. Try /ari"+strings.TrimSuffix(path, "/"))
		return
	}
	s.mu.Lock()
	faults := append([]Fault(nil), s.faults...)
	s.mu.Unlock()
	for _, f := range faults {
		if status, msg := f(r, path); status != 0 {
			writeError(w, status, msg)
			return
		}
	}
	p, status, msg := readParams(r)
	if status != 0 {
		writeError(w, status, msg)
		return
	}
	seg := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for i, sg := range seg {
		if u, err := url.PathUnescape(sg); err == nil {
			seg[i] = u
		}
	}
	allow := func(methods ...string) bool {
		for _, m := range methods {
			if r.Method == m {
				return true
			}
		}
		w.Header().Set("Allow", strings.Join(methods, ","))
		writeError(w, http.StatusMethodNotAllowed, "Invalid method")
		return false
	}
	switch {
	case len(seg) == 1 && seg[0] == "channels":
		if allow(http.MethodGet) {
			s.listChannels(w)
		}
	case len(seg) == 2 && seg[0] == "channels":
		if allow(http.MethodGet, http.MethodDelete) {
			if r.Method == http.MethodGet {
				s.getChannel(w, seg[1])
			} else {
				s.deleteChannel(w, seg[1], p)
			}
		}
	case len(seg) >= 3 && seg[0] == "channels":
		s.channelOp(w, r, seg[1], seg[2:], p)
	case len(seg) >= 2 && seg[0] == "sounds":
		if allow(http.MethodGet) {
			s.getSound(w, r)
		}
	case len(seg) == 2 && seg[0] == "playbacks":
		if allow(http.MethodGet, http.MethodDelete) {
			if r.Method == http.MethodGet {
				s.getPlayback(w, seg[1])
			} else {
				s.stopPlayback(w, seg[1])
			}
		}
	default:
		writeError(w, http.StatusNotFound, "Resource not found")
	}
}

func (s *Server) listChannels(w http.ResponseWriter) {
	s.mu.Lock()
	out := make([]ari.Channel, 0, len(s.channels))
	for _, ch := range s.channels {
		out = append(out, ch.info)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getChannel(w http.ResponseWriter, id string) {
	s.mu.Lock()
	ch := s.channels[id]
	var info ari.Channel
	if ch != nil {
		info = ch.info
	}
	s.mu.Unlock()
	if ch == nil {
		writeError(w, http.StatusNotFound, "Channel not found")
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) deleteChannel(w http.ResponseWriter, id string, p *params) {
	_, hasReason := p.v["reason"]
	_, hasCode := p.v["reason_code"]
	if hasReason && hasCode {
		writeError(w, http.StatusBadRequest, "The reason and reason_code can't both be specified")
		return
	}
	s.mu.Lock()
	ch := s.channels[id]
	if ch == nil {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "Channel not found")
		return
	}
	ch.hangupReason = p.v["reason"]
	if ch.hangupReason == "" {
		ch.hangupReason = "normal"
	}
	ch.hangupLocked(true, 32)
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) getPlayback(w http.ResponseWriter, id string) {
	s.mu.Lock()
	pb := s.playbacks[id]
	var info ari.Playback
	if pb != nil {
		info = pb.infoLocked()
	}
	s.mu.Unlock()
	if pb == nil {
		writeError(w, http.StatusNotFound, "Playback not found")
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) stopPlayback(w http.ResponseWriter, id string) {
	s.mu.Lock()
	pb := s.playbacks[id]
	if pb == nil {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "Playback not found")
		return
	}
	switch pb.state {
	case "queued":
		// A queued playback is cancelled at once.
		pb.cancelled = true
		pb.ch.finishLocked(pb, "done")
	case "playing":
		if !controllable(pb.media[pb.idx]) {
			s.mu.Unlock()
			writeError(w, http.StatusInternalServerError, "Could not stop playback")
			return
		}
		pb.stopOnce.Do(func() { close(pb.stop) })
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// controllable reports whether Asterisk can stop a playback of media
// while it plays: only sound:, recording: and tone:.
func controllable(media string) bool {
	scheme, _, _ := strings.Cut(media, ":")
	return scheme == "sound" || scheme == "recording" || scheme == "tone"
}

// duration says how long media plays and whether it fails.
func (s *Server) duration(media string) (time.Duration, bool) {
	scheme, arg, _ := strings.Cut(media, ":")
	switch scheme {
	case "sound", "recording":
		for _, m := range s.cfg.MissingSounds {
			if m == arg {
				return 0, true
			}
		}
		if d, ok := s.cfg.Sounds[arg]; ok {
			return d, false
		}
		return s.cfg.SoundDuration, false
	case "tone":
		return s.cfg.SoundDuration, false
	case "digits":
		return time.Duration(s.digitsDuration(arg)) * s.cfg.DigitDuration, false
	case "number", "characters":
		return time.Duration(len(arg)) * s.cfg.DigitDuration, false
	}
	return 0, false // other schemes are logged and skipped
}

func (s *Server) channelOp(w http.ResponseWriter, r *http.Request, id string, rest []string, p *params) {
	op := rest[0]
	methods := map[string][]string{
		"answer": {http.MethodPost}, "play": {http.MethodPost}, "variable": {http.MethodGet, http.MethodPost},
		"variables": {http.MethodPost}, "continue": {http.MethodPost},
	}[op]
	if methods == nil || (len(rest) > 1 && op != "play") || len(rest) > 2 {
		writeError(w, http.StatusNotFound, "Resource not found")
		return
	}
	if op == "variables" && (s.cfg.PluralVariables == http.StatusNotFound || s.cfg.PluralVariables == http.StatusMethodNotAllowed) {
		if s.cfg.PluralVariables == http.StatusNotFound {
			writeError(w, http.StatusNotFound, "Resource not found")
		} else {
			w.Header().Set("Allow", "GET")
			writeError(w, http.StatusMethodNotAllowed, "Invalid method")
		}
		return
	}
	okMethod := false
	for _, m := range methods {
		okMethod = okMethod || r.Method == m
	}
	if !okMethod {
		w.Header().Set("Allow", strings.Join(methods, ","))
		writeError(w, http.StatusMethodNotAllowed, "Invalid method")
		return
	}
	s.mu.Lock()
	ch := s.channels[id]
	s.mu.Unlock()
	if ch == nil {
		switch {
		case op == "variable" && r.Method == http.MethodGet && p.v["variable"] == "":
			writeError(w, http.StatusBadRequest, "Variable name is required")
		case op == "variables" || (op == "variable" && r.Method == http.MethodGet):
			// The variable calls look the channel up themselves
			// (res/ari/resource_channels.c, ast_ari_channels_get_channel_var
			// and ast_ari_channels_set_channel_vars).
			writeError(w, http.StatusNotFound, msgNoSuchChannel)
		default:
			writeError(w, http.StatusNotFound, "Channel not found")
		}
		return
	}
	switch {
	case op == "variable" && r.Method == http.MethodGet:
		ch.getVar(w, p)
	case op == "variable":
		ch.setVars(w, r, p, false)
	case op == "variables":
		ch.setVars(w, r, p, true)
	case op == "answer":
		ch.answer(w, r)
	case op == "continue":
		ch.cont(w, r)
	case op == "play":
		pbID := p.v["playbackId"]
		if len(rest) == 2 {
			pbID = rest[1]
		}
		ch.play(w, r, pbID, p)
	}
}

// msgNoSuchChannel is the variable calls' message for a channel that does
// not exist (404, reason "Channel Not Found").
const msgNoSuchChannel = "Provided channel was not found"

// newIDLocked returns a fresh unique id in Asterisk's uniqueid shape.
func (s *Server) newIDLocked() string {
	s.seq++
	return fmt.Sprintf("%d.%d", s.idBase, s.seq)
}
