package agi

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults for the zero fields of a Server.
const (
	DefaultAddr          = "127.0.0.1:4573"
	DefaultMaxSessions   = 1000
	DefaultHeaderTimeout = 5 * time.Second
	// DefaultMaxPending caps connections still reading their environment
	// block; DefaultMaxPendingPerPeer caps them per peer address.
	DefaultMaxPending        = 4096
	DefaultMaxPendingPerPeer = 256
)

// Handler serves one FastAGI session. ServeAGI returns when it is done with
// the call; the server then closes the connection, which hands the call back
// to the dialplan. ctx is cancelled when the server stops forcibly. The
// Session must not be used after ServeAGI returns.
type Handler interface {
	ServeAGI(ctx context.Context, s *Session)
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(ctx context.Context, s *Session)

// ServeAGI calls f.
func (f HandlerFunc) ServeAGI(ctx context.Context, s *Session) { f(ctx, s) }

var _ Handler = HandlerFunc(nil)

// Server accepts FastAGI connections and runs Handler for each.
//
// Per connection, in order: a peer outside Allow is closed before anything
// is read. Then the connection waits for its environment block in a
// pre-block stage of its own, which holds no session slot: at most
// MaxPending connections, MaxPendingPerPeer from one peer address, and when
// either is full the oldest waiting connection (of that peer, or overall)
// is closed to make room, so idle connections cannot keep a real call out.
// The block must arrive within HeaderTimeout and inside the caps of
// ParseEnv, else the connection is closed. A block without any variable (a
// monitoring probe that connects and sends an empty line) is not a call:
// the connection is closed without running Handler. Only then does the
// call take one of MaxSessions slots (over it, the connection is closed at
// once), and Handler runs; a panic in it is recovered, logged and counted,
// and closes only that session. Each of these is counted in Metrics.
type Server struct {
	// Addr is the TCP address ListenAndServe listens on (DefaultAddr).
	Addr    string
	Handler Handler
	// MaxSessions caps concurrent sessions (DefaultMaxSessions).
	MaxSessions int
	// Allow lists the peer networks served; empty serves everyone.
	Allow []netip.Prefix
	// HeaderTimeout bounds the wait for the environment block
	// (DefaultHeaderTimeout).
	HeaderTimeout time.Duration
	// MaxPending caps connections still waiting for their environment
	// block (DefaultMaxPending); MaxPendingPerPeer caps them per peer
	// address (DefaultMaxPendingPerPeer).
	MaxPending, MaxPendingPerPeer int
	// Logger gets errors and rejections; nil is slog.Default().
	Logger *slog.Logger
	// Metrics may be nil.
	Metrics *Metrics

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	sessions  map[*conn]struct{}
	closing   bool
	wg        sync.WaitGroup
	inFlight  atomic.Int64
	lastWarn  atomic.Int64 // unix nanos of the last rejection warning
	pending   pendingSet
	peers     peers
	// work hands an admitted connection to an idle worker; quit, closed
	// when the server closes, ends the idle ones. Both are made by the
	// first Serve.
	work chan *conn
	quit chan struct{}
	idle time.Duration // workerIdle when zero; tests shorten it
	// workers counts the worker goroutines, waiting those waiting for a
	// connection.
	workers, waiting atomic.Int64
}

// workerIdle is how long a goroutine that served a connection waits for the
// next one before it ends.
//
// A session's goroutine ends up with a stack of about 16 KiB (the handler,
// the screening flow and the sources below it); a new goroutine starts
// with a small one that the runtime grows, copying every frame, twice per
// call. Handing connections to goroutines that already served one keeps
// their grown stacks: about 7% less CPU per allow-path session in
// callscreen-bench flow. An idle worker's stack shrinks
// back at the next garbage collections, so a burst leaves no memory behind.
const workerIdle = 5 * time.Second

// dispatch serves cn on an idle worker, or on a new one when none is idle.
func (s *Server) dispatch(cn *conn) {
	select {
	case s.work <- cn:
	default:
		s.workers.Add(1)
		go s.worker(cn)
	}
}

// worker serves cn, then every connection dispatch hands it until it has
// been idle for workerIdle or the server closes.
func (s *Server) worker(cn *conn) {
	wait := cmp.Or(s.idle, workerIdle)
	idle := time.NewTimer(wait)
	defer idle.Stop()
	defer s.workers.Add(-1)
	for {
		s.serve(cn)
		idle.Reset(wait)
		s.waiting.Add(1)
		select {
		case cn = <-s.work:
			s.waiting.Add(-1)
		case <-idle.C:
			s.waiting.Add(-1)
			return
		case <-s.quit:
			s.waiting.Add(-1)
			return
		}
	}
}

// conn is one admitted connection, cancellable by a forced shutdown.
type conn struct {
	net.Conn
	sctx   context.Context
	cancel context.CancelFunc
	// stopClose unregisters the close-on-cancel hook at a normal end.
	stopClose func() bool
	peer      netip.Addr // the remote IP; zero without one (net.Pipe)
	links     pendingLinks
}

// ListenAndServe listens on Addr and serves until ctx is cancelled or
// Shutdown is called; see Serve.
func (s *Server) ListenAndServe(ctx context.Context) error {
	addr := s.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("agi listen %s: %w", addr, err)
	}
	return s.Serve(ctx, l)
}

// ExposureWarning returns why a FastAGI server listening on addr
// ("host:port") with the allow-list allow serves anyone who can reach the
// port: addr is not a loopback address (or is unspecified: ":4573",
// "0.0.0.0:4573") and allow is empty. It returns "" when neither is so.
func ExposureWarning(addr string, allow []netip.Prefix) string {
	if len(allow) > 0 {
		return ""
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return ""
	}
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil && ip.Unmap().IsLoopback() {
		return ""
	}
	return "listening on " + addr + ", not a loopback address, with agi.allow empty: any host that reaches the port can open sessions; list the Asterisk servers in agi.allow"
}

// Warnings returns ExposureWarning for every listener Serve is using.
func (s *Server) Warnings() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for l := range s.listeners {
		if w := ExposureWarning(l.Addr().String(), s.Allow); w != "" {
			out = append(out, w)
		}
	}
	return out
}

// ListenAddr returns the address of a listener Serve is using, nil when
// there is none.
func (s *Server) ListenAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	for l := range s.listeners {
		return l.Addr()
	}
	return nil
}

// Serve accepts connections on l and serves each in its own goroutine. It
// takes ownership of l and closes it.
//
// Outcomes:
//   - nil after Shutdown: l is closed; Shutdown waits for the sessions.
//   - ctx.Err() when ctx is cancelled: an immediate stop of the whole
//     server, as a Shutdown whose deadline has passed. Every listener is
//     closed, every session's context is cancelled and its connection
//     closed, and Serve returns once their handlers have returned.
//   - any other error: Accept failed for good (l is closed; sessions
//     already running go on).
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	if s.Handler == nil {
		l.Close()
		return errors.New("agi serve: no handler")
	}
	if !s.track(l) {
		l.Close()
		return nil
	}
	if w := ExposureWarning(l.Addr().String(), s.Allow); w != "" {
		s.logger().Warn("agi: " + w)
	}
	defer s.untrack(l)
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()

	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if s.isClosing() {
				return nil
			}
			if ctx.Err() != nil {
				s.mu.Lock()
				s.close()
				for l := range s.listeners {
					l.Close()
				}
				s.mu.Unlock()
				s.closeSessions()
				s.wg.Wait()
				return ctx.Err()
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.logger().Warn("agi accept", "err", err, "retry_in", backoff)
				select {
				case <-time.After(backoff):
					continue
				case <-ctx.Done():
					continue
				}
			}
			l.Close()
			return fmt.Errorf("agi accept: %w", err)
		}
		backoff = 0
		if cn := s.admit(ctx, c); cn != nil {
			s.dispatch(cn)
		}
	}
}

// ServeConn serves one connection that the caller accepted (or one end of
// a net.Pipe in tests) and returns when its session has ended. The
// allow-list, the session cap, panic recovery, metrics and Shutdown apply
// as for Serve.
func (s *Server) ServeConn(ctx context.Context, c net.Conn) {
	if s.Handler == nil {
		c.Close()
		return
	}
	if cn := s.admit(ctx, c); cn != nil {
		s.serve(cn)
	}
}

// Shutdown stops accepting, then waits for the running sessions to end. When
// ctx is done first it cancels their contexts, closes their connections and
// returns ctx.Err() without waiting further.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.close()
	for l := range s.listeners {
		l.Close()
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.closeSessions()
		return fmt.Errorf("agi shutdown: %w", ctx.Err())
	}
}

// admit applies the allow-list and enters c into the pre-block stage. It
// returns nil when c was closed instead.
func (s *Server) admit(ctx context.Context, c net.Conn) *conn {
	if len(s.Allow) > 0 && !s.allowed(c.RemoteAddr()) {
		c.Close()
		s.Metrics.reject(RejectACL)
		s.warnRejected(RejectACL, c.RemoteAddr(), nil)
		return nil
	}
	sctx, cancel := context.WithCancel(ctx)
	cn := &conn{Conn: c, cancel: cancel, peer: peerKey(c.RemoteAddr())}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		cancel()
		c.Close()
		return nil
	}
	if s.sessions == nil {
		s.sessions = make(map[*conn]struct{})
	}
	s.sessions[cn] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	// A cancelled session context (forced stop) closes the connection,
	// which wakes any read, the environment's included.
	cn.stopClose = context.AfterFunc(sctx, func() { c.Close() })
	cn.sctx = sctx
	evicted := s.pending.add(cn, s.maxPending(), s.maxPendingPerPeer())
	for _, old := range evicted {
		old.Close() // its goroutine sees the read fail and cleans up
		s.Metrics.reject(RejectPending)
		s.warnRejected(RejectPending, old.RemoteAddr(), nil)
	}
	return cn
}

func (s *Server) maxPending() int {
	if s.MaxPending > 0 {
		return s.MaxPending
	}
	return DefaultMaxPending
}

func (s *Server) maxPendingPerPeer() int {
	if s.MaxPendingPerPeer > 0 {
		return s.MaxPendingPerPeer
	}
	return DefaultMaxPendingPerPeer
}

func (s *Server) serve(cn *conn) {
	start := time.Now()
	defer func() {
		s.pending.remove(cn)
		cn.stopClose()
		cn.Close()
		cn.cancel()
		s.mu.Lock()
		delete(s.sessions, cn)
		s.mu.Unlock()
		s.wg.Done()
	}()

	r := readerPool.Get().(*bufio.Reader)
	r.Reset(cn.Conn)
	timeout := s.HeaderTimeout
	if timeout <= 0 {
		timeout = DefaultHeaderTimeout
	}
	_ = cn.SetReadDeadline(time.Now().Add(timeout))
	env, err := ParseEnv(r, Limits{})
	evicted := !s.pending.remove(cn)
	if err != nil || len(env.All) == 0 {
		r.Reset(nil)
		readerPool.Put(r)
		switch {
		case err == nil:
			s.Metrics.reject(RejectProbe)
			s.logger().Debug("agi connection sent an empty environment block (a probe, not a call)", "remote", cn.RemoteAddr())
		case evicted:
			// Counted when it was closed to make room.
		case errors.Is(err, io.EOF) || cn.sctx.Err() != nil:
			s.Metrics.reject(RejectHeader)
			s.logger().Debug("agi session ended before its environment", "remote", cn.RemoteAddr(), "err", err)
		default:
			s.Metrics.reject(RejectHeader)
			s.warnRejected(RejectHeader, cn.RemoteAddr(), err)
		}
		return
	}
	limit := int64(s.MaxSessions)
	if limit <= 0 {
		limit = DefaultMaxSessions
	}
	if s.inFlight.Add(1) > limit {
		s.inFlight.Add(-1)
		r.Reset(nil)
		readerPool.Put(r)
		s.Metrics.reject(RejectCap)
		s.warnRejected(RejectCap, cn.RemoteAddr(), nil)
		return
	}
	s.Metrics.sessionStart()
	defer func() {
		s.inFlight.Add(-1)
		s.Metrics.sessionEnd(time.Since(start))
	}()
	_ = cn.SetReadDeadline(time.Time{})
	sess := newSession(cn.Conn, r, env, s.Metrics)
	sess.peer = s.peers.get(cn.peer, cn.RemoteAddr, s.logger())
	defer sess.close()
	defer func() {
		if p := recover(); p != nil {
			s.Metrics.panicked()
			s.logger().Error("agi handler panicked", "remote", cn.RemoteAddr(), "uniqueid", env.UniqueID,
				"channel", env.Channel, "panic", p, "stack", string(debug.Stack()))
		}
	}()
	s.Handler.ServeAGI(cn.sctx, sess)
}

func (s *Server) allowed(a net.Addr) bool {
	var ip netip.Addr
	switch a := a.(type) {
	case *net.TCPAddr:
		ip = a.AddrPort().Addr()
	default:
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return false
		}
		ip = ap.Addr()
	}
	ip = ip.Unmap()
	for _, p := range s.Allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// warnRejected logs a rejection at most once a second, so a flood does not
// flood the log too; the metric counts every one.
func (s *Server) warnRejected(reason string, remote net.Addr, err error) {
	now := time.Now().UnixNano()
	last := s.lastWarn.Load()
	if now-last < int64(time.Second) || !s.lastWarn.CompareAndSwap(last, now) {
		return
	}
	if err != nil {
		s.logger().Warn("agi connection rejected", "reason", reason, "remote", remote, "err", err)
		return
	}
	s.logger().Warn("agi connection rejected", "reason", reason, "remote", remote)
}

func (s *Server) track(l net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	if s.listeners == nil {
		s.listeners = make(map[net.Listener]struct{})
		s.work = make(chan *conn)
		s.quit = make(chan struct{})
	}
	s.listeners[l] = struct{}{}
	return true
}

func (s *Server) untrack(l net.Listener) {
	s.mu.Lock()
	delete(s.listeners, l)
	s.mu.Unlock()
	l.Close()
}

// close marks the server closing and ends its idle workers; s.mu is held.
func (s *Server) close() {
	if s.closing {
		return
	}
	s.closing = true
	if s.quit != nil {
		close(s.quit)
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Server) closeSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for cn := range s.sessions {
		cn.cancel()
	}
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
