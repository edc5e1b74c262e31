package ari

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Defaults of the OutboundServer's zero fields.
const (
	DefaultOutboundMaxConns = 5000
	DefaultOrphanWait       = 3 * time.Second
	DefaultLinkWait         = 10 * time.Second
	DefaultPeerCloseWait    = 10 * time.Second

	// firstMessageWait bounds the wait for Asterisk's first message on a
	// new connection (it sends ApplicationRegistered, or the events it
	// queued, at once).
	firstMessageWait = 10 * time.Second
	// holdMax bounds how long a StasisStart waits for the
	// ApplicationRegistered of its connection (see outApp.dispatch).
	holdMax = time.Second
	// authLogEvery bounds the log lines about refused logins, per user name.
	authLogEvery = time.Minute
	// realm is sent with a 401.
	realm = "callscreen"
)

// OutboundUser is one set of credentials Asterisk may connect with: the
// username and password of a websocket_client.conf entry, sent as HTTP
// Basic auth. Give each PBX (or tenant) its own.
type OutboundUser struct {
	Username, Password string
	// Scope names its calls' tenant and profile from their Stasis
	// arguments, with this user's defaults (package bridge's ARIScope);
	// nil gives every call the default tenant and profile.
	Scope Scope
	// MaxConns bounds its open connections; 0 is no bound of its own.
	MaxConns int
}

// OutboundServer is the other way round from App: Asterisk (22.5 and
// later, ARI outbound websockets) opens the websocket to callscreen and
// takes its REST calls as messages on that same socket. A
// websocket_client.conf entry with connection_type=persistent holds one
// connection for all calls of its applications; per_call_config opens
// one per call, for an application named "<app>:<channel name>", so that
// a plain TCP load balancer spreads calls over any number of callscreen
// instances. Either way each call goes to the Handler as a *Call, exactly
// as App does, and is continued once when it returns.
//
// Set the fields, then Serve. ServeHTTP may also be mounted on a server
// of the caller's while Serve's context is live.
type OutboundServer struct {
	// Users are who may connect. At least one.
	Users []OutboundUser
	// Path, when set, is the only request path accepted (other paths get
	// 404); "" accepts any.
	Path string
	// Handler screens each call.
	Handler Handler
	// Recover lists the variables set on a channel handed back unscreened
	// (one found waiting without a StasisStart, or over MaxCalls).
	Recover []Var
	// TLS, when set, serves wss:// (Serve only).
	TLS *tls.Config
	// MaxConns bounds the open connections of all users; 0 is
	// DefaultOutboundMaxConns. A connection over a bound is refused with
	// 503, and Asterisk fails the call's Stasis() (STASISSTATUS=FAILED).
	MaxConns int
	// MaxCalls bounds the calls in flight; 0 is DefaultMaxCalls.
	MaxCalls int
	// CallTimeout bounds a handler, as App.CallTimeout.
	CallTimeout time.Duration
	// RequestTimeout bounds each REST call; 0 is DefaultTimeout.
	RequestTimeout time.Duration
	// PingInterval is how often a persistent connection is pinged; 0 is
	// DefaultPingInterval.
	PingInterval time.Duration
	// OrphanWait is how long a per-call connection may go without its
	// StasisStart before callscreen looks for the channel (Asterisk
	// reconnects a per-call websocket that dropped mid-call, and the new
	// connection may reach another instance); 0 is DefaultOrphanWait.
	OrphanWait time.Duration
	// LinkWait is how long the calls of an application may wait for
	// Asterisk to reconnect after their connection closed before they are
	// given up; 0 is DefaultLinkWait.
	LinkWait time.Duration
	// RecoverDelay is as App.RecoverDelay, for a persistent connection
	// that (re)connects; 0 is DefaultRecoverDelay.
	RecoverDelay time.Duration
	// PeerCloseWait is how long a per-call connection whose call has
	// ended is kept for Asterisk to close it (it does 3.5 s after
	// StasisEnd); 0 is DefaultPeerCloseWait.
	PeerCloseWait time.Duration
	// OnConnect, when set, runs each time Asterisk (re)connects a
	// persistent connection (at its ApplicationRegistered), in a goroutine
	// of its own, with a ctx that ends when Serve stops (Serve waits for
	// it), and the application's client, whose REST calls travel over that
	// connection: the place for checks a PBX allows before any call, such
	// as the screening's prompt check (package bridge's ARIPromptCheck).
	// A per_call_config connection exists for its one call, which the
	// screening checks as it goes; it gets no OnConnect.
	OnConnect func(ctx context.Context, c *Client)
	// Logger; nil is slog.Default().
	Logger *slog.Logger
	// Metrics (calls and REST requests) and OutboundMetrics (connections)
	// may be nil.
	Metrics         *Metrics
	OutboundMetrics *OutboundMetrics

	running atomic.Bool
	log     *slog.Logger
	base    context.Context // ends when Serve stops: the handlers' parent
	stop    context.CancelFunc

	mu       sync.Mutex
	closing  bool
	sessions map[*session]struct{}
	perUser  map[string]int
	apps     map[appKey]*outApp
	authLog  map[string]time.Time
	ncalls   atomic.Int64
	calls    sync.WaitGroup // handlers and hand-backs
	conns    sync.WaitGroup // sessions
}

// Serve accepts Asterisk's connections on l until ctx ends. It then stops
// accepting, lets running handlers end (their ctx is cancelled), hands
// their channels back, closes every connection and returns nil. Its
// errors are about its own fields and the listener.
func (s *OutboundServer) Serve(ctx context.Context, l net.Listener) error {
	if err := s.init(); err != nil {
		l.Close()
		return err
	}
	defer s.running.Store(false)
	if s.TLS != nil {
		l = tls.NewListener(l, s.TLS)
	}
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(l) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-served:
		err = fmt.Errorf("ari outbound: %w", err)
	}
	_ = hs.Close() // the listener; hijacked websockets are ours to close
	s.shutdown()
	return err
}

func (s *OutboundServer) init() error {
	switch {
	case s.Handler == nil:
		return errors.New("ari outbound: no handler")
	case len(s.Users) == 0:
		return errors.New("ari outbound: no users")
	}
	seen := map[string]bool{}
	for i, u := range s.Users {
		switch {
		case u.Username == "" || u.Password == "":
			return fmt.Errorf("ari outbound: users[%d]: username and password are required", i)
		case strings.ContainsAny(u.Username, ":\r\n"):
			return fmt.Errorf("ari outbound: users[%d]: username %q must not contain ':' or line breaks", i, u.Username)
		case seen[u.Username]:
			return fmt.Errorf("ari outbound: users[%d]: username %q is listed twice", i, u.Username)
		case u.MaxConns < 0:
			return fmt.Errorf("ari outbound: users[%d]: max connections %d: must not be negative", i, u.MaxConns)
		}
		seen[u.Username] = true
	}
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("ari outbound: already serving")
	}
	s.log = s.Logger
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("ari", "outbound")
	s.base, s.stop = context.WithCancel(context.Background())
	s.mu.Lock()
	s.closing = false
	s.sessions = map[*session]struct{}{}
	s.perUser = map[string]int{}
	s.apps = map[appKey]*outApp{}
	s.authLog = map[string]time.Time{}
	s.mu.Unlock()
	s.ncalls.Store(0)
	return nil
}

// shutdown ends every handler, then every connection.
func (s *OutboundServer) shutdown() {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.stop()
	s.calls.Wait()
	s.mu.Lock()
	for ss := range s.sessions {
		ss.close(websocket.StatusGoingAway, "callscreen stopping")
	}
	s.mu.Unlock()
	s.conns.Wait()
}

// authenticate returns the user whose credentials r carries, nil when
// none. Every configured user's name and password is compared, each in
// constant time, so the time taken says nothing about which part was
// wrong.
func (s *OutboundServer) authenticate(r *http.Request) (*OutboundUser, string) {
	name, pass, ok := r.BasicAuth()
	if !ok {
		return nil, ""
	}
	nameSum, passSum := sha256.Sum256([]byte(name)), sha256.Sum256([]byte(pass))
	var found *OutboundUser
	for i := range s.Users {
		u := &s.Users[i]
		un, up := sha256.Sum256([]byte(u.Username)), sha256.Sum256([]byte(u.Password))
		nameOK := subtle.ConstantTimeCompare(nameSum[:], un[:])
		passOK := subtle.ConstantTimeCompare(passSum[:], up[:])
		if nameOK&passOK == 1 {
			found = u
		}
	}
	return found, name
}

// offersARI reports whether the handshake offers the subprotocol ari.
func offersARI(r *http.Request) bool {
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			if strings.TrimSpace(p) == "ari" {
				return true
			}
		}
	}
	return false
}

// ServeHTTP checks a websocket handshake from Asterisk (path, Basic auth,
// subprotocol ari, connection caps), completes it and serves the
// connection until it closes.
func (s *OutboundServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.running.Load() {
		http.Error(w, "not serving", http.StatusServiceUnavailable)
		return
	}
	m := s.OutboundMetrics
	remote := r.RemoteAddr
	if s.Path != "" && r.URL.Path != s.Path {
		m.handshake(handshakeNotFound)
		s.log.Warn("ari outbound: refused a connection to another path", "remote", remote, "path", r.URL.Path, "want", s.Path)
		http.NotFound(w, r)
		return
	}
	user, name := s.authenticate(r)
	if user == nil {
		m.handshake(handshakeUnauthorized)
		s.authFailed(remote, name)
		w.Header().Set("WWW-Authenticate", `Basic realm="`+realm+`"`)
		http.Error(w, "authentication required", http.StatusUnauthorized)
		return
	}
	if !offersARI(r) {
		m.handshake(handshakeNoProtocol)
		s.log.Warn("ari outbound: refused a connection that does not offer the subprotocol ari (set protocols = ari in websocket_client.conf)",
			"remote", remote, "user", user.Username)
		http.Error(w, "subprotocol ari required", http.StatusBadRequest)
		return
	}
	if why := s.reserve(user); why != "" {
		result := handshakeOverCapacity
		if why == "stopping" {
			result = handshakeClosing
		}
		m.handshake(result)
		s.log.Warn("ari outbound: refused a connection; Asterisk fails its Stasis() and the call is not screened", "remote", remote, "user", user.Username, "why", why)
		http.Error(w, "too many connections", http.StatusServiceUnavailable)
		return
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols: []string{"ari"},
		// Asterisk's client refuses any extension (res_http_websocket.c,
		// websocket_client_handshake_get_response).
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		s.release(user)
		m.handshake(handshakeFailed)
		s.log.Debug("ari outbound: handshake failed", "remote", remote, "err", err)
		return
	}
	m.handshake(handshakeAccepted)
	conn.SetReadLimit(maxEventSize)
	ss := newSession(s, user, conn, remote)
	if !s.track(ss) {
		// Stopped while upgrading.
		s.release(user)
		conn.Close(websocket.StatusGoingAway, "callscreen stopping")
		return
	}
	ss.run()
}

// reserve takes a connection slot for u; the reason it cannot, else "".
func (s *OutboundServer) reserve(u *OutboundUser) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	total := 0
	for _, n := range s.perUser {
		total += n
	}
	maxConns := s.MaxConns
	if maxConns <= 0 {
		maxConns = DefaultOutboundMaxConns
	}
	switch {
	case s.closing:
		return "stopping"
	case total >= maxConns:
		return fmt.Sprintf("%d connections open, the most for all users", total)
	case u.MaxConns > 0 && s.perUser[u.Username] >= u.MaxConns:
		return fmt.Sprintf("%d connections open, the most for this user", s.perUser[u.Username])
	}
	s.perUser[u.Username]++
	s.OutboundMetrics.conns(u.Username, 1)
	return ""
}

func (s *OutboundServer) release(u *OutboundUser) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.perUser[u.Username]--
	s.OutboundMetrics.conns(u.Username, -1)
}

// track registers a session; false once the server stops.
func (s *OutboundServer) track(ss *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.sessions[ss] = struct{}{}
	s.conns.Add(1)
	return true
}

func (s *OutboundServer) untrack(ss *session) {
	s.mu.Lock()
	delete(s.sessions, ss)
	s.mu.Unlock()
	s.release(ss.user)
	s.conns.Done()
}

// authFailed logs a refused login at most once a minute per user name,
// never with the password.
func (s *OutboundServer) authFailed(remote, name string) {
	if len(name) > 64 {
		name = name[:64] + "..."
	}
	now := time.Now()
	s.mu.Lock()
	last, seen := s.authLog[name]
	logIt := !seen || now.Sub(last) >= authLogEvery
	if logIt {
		if len(s.authLog) > 1000 {
			clear(s.authLog)
		}
		s.authLog[name] = now
	}
	s.mu.Unlock()
	if logIt {
		s.log.Warn("ari outbound: refused a login (401): check username and password in websocket_client.conf; repeats are counted, logged once a minute",
			"remote", remote, "user", name)
	}
}

// attachApp returns the application key names, creating it on first
// use, with ss as its connection (under s.mu: dropApp cannot forget it
// in between).
func (s *OutboundServer) attachApp(key appKey, ss *session) *outApp {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[key]
	if a == nil {
		a = newOutApp(s, key, ss.user)
		s.apps[key] = a
	}
	a.attach(ss)
	return a
}

// dropApp forgets a when it has neither a connection nor calls.
func (s *OutboundServer) dropApp(a *outApp) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.apps[a.key] == a && a.idle() {
		delete(s.apps, a.key)
	}
}

func (s *OutboundServer) maxCalls() int64 {
	if s.MaxCalls > 0 {
		return int64(s.MaxCalls)
	}
	return DefaultMaxCalls
}
