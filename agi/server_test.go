package agi_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/callscreen/callscreen/agi"
	"github.com/callscreen/callscreen/agi/agitest"
	"github.com/callscreen/callscreen/internal/citest"
	"github.com/callscreen/callscreen/internal/timingtest"
)

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// callCtx bounds a simulated call: no test client waits for ever.
func callCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// waitClosed reads from conn until the server closes it or d passes.
func waitClosed(t *testing.T, conn net.Conn, d time.Duration) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(d))
	n, err := io.Copy(io.Discard, conn)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) { // reset: closed with our bytes unread
		t.Fatalf("connection not closed by the server within %v (read %d bytes): %v", d, n, err)
	}
}

func TestSlowlorisClosedByHeaderTimeout(t *testing.T) {
	m := agi.NewMetrics(nil)
	var ran atomic.Bool
	srv := &agi.Server{HeaderTimeout: 100 * time.Millisecond, Metrics: m, Logger: quietLogger(),
		Handler: agi.HandlerFunc(func(context.Context, *agi.Session) { ran.Store(true) })}
	addr := startServer(t, srv)

	t.Run("sends nothing", func(t *testing.T) {
		start := time.Now()
		conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(time.Minute)) // no test client without a timeout
		waitClosed(t, conn, 20*time.Second)
		// A lower bound holds on any machine: the server's clock for the
		// header starts after the dial began.
		if el := time.Since(start); el < 90*time.Millisecond {
			t.Errorf("closed %v after the dial began, before the header timeout", el)
		}
	})
	t.Run("trickles", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(time.Minute)) // no test client without a timeout
		stop := make(chan struct{})
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
					if _, err := conn.Write([]byte("a")); err != nil {
						return
					}
				}
			}
		}()
		waitClosed(t, conn, 20*time.Second)
		close(stop)
	})
	t.Run("never-ending block", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(time.Minute)) // no test client without a timeout
		go func() {
			for i := 0; i < 2000; i++ {
				if _, err := conn.Write([]byte("agi_x: y\n")); err != nil {
					return
				}
			}
		}()
		waitClosed(t, conn, 20*time.Second)
	})
	t.Run("closed mid-block", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = conn.Write([]byte("agi_network: yes\nagi_request: agi://x/y\nagi_chan"))
		conn.Close()
	})
	t.Run("1 MB of header", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(time.Minute)) // no test client without a timeout
		go func() { _, _ = conn.Write([]byte("agi_x: " + strings.Repeat("a", 1<<20) + "\n\n")) }()
		waitClosed(t, conn, 20*time.Second)
	})
	for deadline := time.Now().Add(20 * time.Second); testutil.ToFloat64(m.RejectedCounter(agi.RejectHeader)) < 5 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if ran.Load() {
		t.Error("handler ran without an environment")
	}
	if got := testutil.ToFloat64(m.RejectedCounter(agi.RejectHeader)); got != 5 {
		t.Errorf("rejected header = %v, want 5", got)
	}
}

func TestAllowList(t *testing.T) {
	m := agi.NewMetrics(nil)
	var ran atomic.Int32
	handler := agi.HandlerFunc(func(context.Context, *agi.Session) { ran.Add(1) })
	deny := &agi.Server{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Metrics: m, Logger: quietLogger(), Handler: handler}
	addr := startServer(t, deny)
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Minute)) // no test client without a timeout
	// Closed before anything is read: the peer's env is never answered.
	_, _ = conn.Write(agitest.EnvBlock(agitest.Call{}))
	waitClosed(t, conn, 20*time.Second)
	if got := testutil.ToFloat64(m.RejectedCounter(agi.RejectACL)); got != 1 {
		t.Errorf("rejected acl = %v", got)
	}

	allow := &agi.Server{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.0/8")}, Logger: quietLogger(), Handler: handler}
	tr, err := agitest.Dial(callCtx(t), startServer(t, allow), agitest.Call{})
	if err != nil || tr.Status != "SUCCESS" {
		t.Fatalf("allowed peer: %v %+v", err, tr)
	}
	if ran.Load() != 1 {
		t.Errorf("handler ran %d times, want 1 (allowed peer only)", ran.Load())
	}

	// A pipe has no IP address: with an allow-list it is refused.
	tr, err = agitest.Pipe(context.Background(), deny.ServeConn, agitest.Call{})
	if err != nil || ran.Load() != 1 {
		t.Errorf("pipe through an allow-list: %v, handler ran %d times", err, ran.Load())
	}
	_ = tr
}

func TestPanicRecovered(t *testing.T) {
	m := agi.NewMetrics(nil)
	srv := &agi.Server{Metrics: m, Logger: quietLogger(), Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
		if s.Env().CallerID == "666" {
			panic("handler bug")
		}
		_ = s.SetVariable(ctx, "OK", "1")
	})}
	addr := startServer(t, srv)
	tr, err := agitest.Dial(callCtx(t), addr, agitest.Call{CallerID: "666"})
	if err != nil || len(tr.Commands) != 0 {
		t.Fatalf("panicking session: %v %v", err, tr.Commands)
	}
	tr, err = agitest.Dial(callCtx(t), addr, agitest.Call{CallerID: "1"})
	if err != nil || tr.Vars["OK"] != "1" {
		t.Fatalf("server did not survive the panic: %v %+v", err, tr)
	}
	if got := testutil.ToFloat64(m.PanicsCounter()); got != 1 {
		t.Errorf("panics = %v", got)
	}
}

func TestServeErrors(t *testing.T) {
	var srv agi.Server
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(context.Background(), l); err == nil {
		t.Error("Serve without a handler: no error")
	}
	if _, err := net.DialTimeout("tcp", l.Addr().String(), 10*time.Second); err == nil {
		t.Error("listener left open")
	}
	bad := &agi.Server{Addr: "256.0.0.1:1", Handler: agi.HandlerFunc(func(context.Context, *agi.Session) {})}
	if err := bad.ListenAndServe(context.Background()); err == nil || !strings.Contains(err.Error(), "agi listen") {
		t.Errorf("bad address: %v", err)
	}
}

func TestListenAndServeAndShutdown(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	srv := &agi.Server{Addr: "127.0.0.1:0", Logger: quietLogger(), Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
		started <- struct{}{}
		<-release
		_ = s.SetVariable(ctx, "DONE", "yes") // still works during a graceful shutdown
	})}
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe(context.Background()) }()
	var addr net.Addr
	for deadline := time.Now().Add(20 * time.Second); addr == nil && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		addr = srv.ListenAddr()
	}
	if addr == nil {
		t.Fatal("no listener")
	}
	call := make(chan *agitest.Transcript, 1)
	go func() {
		tr, _ := agitest.Dial(callCtx(t), addr.String(), agitest.Call{})
		call <- tr
	}()
	<-started

	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	if err := <-served; err != nil {
		t.Errorf("Serve after Shutdown: %v", err)
	}
	if _, err := net.DialTimeout("tcp", addr.String(), time.Second); err == nil {
		t.Error("still accepting after Shutdown")
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a session running", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if tr := <-call; tr.Vars["DONE"] != "yes" {
		t.Errorf("session cut short by a graceful shutdown: %+v", tr)
	}
}

func TestShutdownDeadlineClosesSessions(t *testing.T) {
	got := make(chan error, 1)
	srv := &agi.Server{Logger: quietLogger(), Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
		_, err := s.WaitForDigit(ctx, -1) // never answered: we stop first
		got <- err
	})}
	addr := startServer(t, srv)
	// Asterisk's side by hand: the environment, then the command arrives.
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Minute)) // no test client without a timeout
	if _, err := conn.Write(agitest.EnvBlock(agitest.Call{})); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	if line, err := r.ReadString('\n'); err != nil || line != "WAIT FOR DIGIT -1\n" {
		t.Fatalf("read %q, %v; want the WAIT FOR DIGIT command", line, err)
	}
	// The session is in its command now: a 50ms shutdown cannot drain it.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want DeadlineExceeded", err)
	}
	select {
	case err := <-got:
		if err == nil {
			t.Error("command survived a forced shutdown")
		}
	case <-time.After(timingtest.HangTimeout):
		t.Fatal("handler not stopped by the forced shutdown")
	}
	if rest, err := io.ReadAll(r); err != nil && !errors.Is(err, syscall.ECONNRESET) || len(rest) != 0 {
		t.Errorf("after the command: %q, %v; want the connection closed, nothing more sent", rest, err)
	}
}

func TestServeContextCancelStopsEverything(t *testing.T) {
	running := make(chan struct{})
	stopped := make(chan error, 1)
	srv := &agi.Server{Logger: quietLogger(), Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
		close(running)
		<-ctx.Done()
		stopped <- ctx.Err()
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, l) }()
	conn, err := net.DialTimeout("tcp", l.Addr().String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Minute)) // no test client without a timeout
	_, _ = conn.Write(agitest.EnvBlock(agitest.Call{}))
	// A second connection still in its header phase (accepted or still in
	// the backlog: either way it must end up closed).
	idle, err := net.DialTimeout("tcp", l.Addr().String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	_ = idle.SetDeadline(time.Now().Add(time.Minute)) // no test client without a timeout
	<-running
	cancel()
	if err := <-served; !errors.Is(err, context.Canceled) {
		t.Errorf("Serve = %v, want Canceled", err)
	}
	if err := <-stopped; !errors.Is(err, context.Canceled) {
		t.Errorf("handler ctx: %v", err)
	}
	waitClosed(t, conn, 20*time.Second)
	waitClosed(t, idle, 20*time.Second)
}

// TestConnectionFlood opens 2,000 connections at once against a cap of 50:
// no more than 50 handlers ever run, every connection is either served or
// closed at once, and afterwards no goroutine is left behind.
func TestConnectionFlood(t *testing.T) {
	citest.Short(t, "2,000 connections")
	const total, limit = 2000, 50
	before := runtime.NumGoroutine()
	m := agi.NewMetrics(nil)
	var running, peak, served atomic.Int64
	release := make(chan struct{})
	// Every connection sends its block at once: the pre-block caps are
	// not what this test is about.
	srv := &agi.Server{MaxSessions: limit, Metrics: m, Logger: quietLogger(), HeaderTimeout: 10 * time.Second,
		MaxPendingPerPeer: total,
		Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
			n := running.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			<-release
			served.Add(1)
			running.Add(-1)
		})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	servedErr := make(chan error, 1)
	go func() { servedErr <- srv.Serve(ctx, l) }()

	env := agitest.EnvBlock(agitest.Call{})
	var wg sync.WaitGroup
	var closed, dialFailed atomic.Int64
	conns := make(chan net.Conn, total)
	for i := 0; i < total; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", l.Addr().String(), 10*time.Second)
			if err != nil {
				dialFailed.Add(1)
				return
			}
			conns <- c
			_, _ = c.Write(env)
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
			if _, err := c.Read(make([]byte, 1)); err == io.EOF || errors.Is(err, syscall.ECONNRESET) {
				closed.Add(1)
			}
		}()
	}
	// Before any session ends: exactly limit admitted, every other
	// connection closed by the server.
	settled := func() bool {
		return testutil.ToFloat64(m.AcceptedCounter())+testutil.ToFloat64(m.RejectedCounter(agi.RejectCap)) == total &&
			closed.Load() == int64(testutil.ToFloat64(m.RejectedCounter(agi.RejectCap)))
	}
	for deadline := time.Now().Add(15 * time.Second); !settled() && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
	}
	if !settled() || dialFailed.Load() != 0 {
		t.Errorf("accepted %v, rejected %v, closed %d, dial failures %d", testutil.ToFloat64(m.AcceptedCounter()),
			testutil.ToFloat64(m.RejectedCounter(agi.RejectCap)), closed.Load(), dialFailed.Load())
	}
	if a := testutil.ToFloat64(m.AcceptedCounter()); a != limit {
		t.Errorf("admitted %v sessions, cap is %d", a, limit)
	}
	if p := peak.Load(); p > limit {
		t.Errorf("%d handlers ran at once, cap is %d", p, limit)
	}
	close(release)
	wg.Wait()
	if closed.Load() != total {
		t.Errorf("%d connections closed by the server, want all %d", closed.Load(), total)
	}
	close(conns)
	for c := range conns {
		c.Close()
	}
	cancel()
	if err := <-servedErr; !errors.Is(err, context.Canceled) {
		t.Errorf("Serve: %v", err)
	}
	if served.Load() != limit {
		t.Errorf("served %d sessions, want %d", served.Load(), limit)
	}
	if g := testutil.ToFloat64(m.InFlightGauge()); g != 0 {
		t.Errorf("in flight after the flood: %v", g)
	}
	var after int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if after = runtime.NumGoroutine(); after <= before+2 {
			break
		}
	}
	if after > before+2 {
		buf := make([]byte, 1<<16)
		t.Errorf("goroutines: %d before, %d after\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

// TestPipe runs a whole call over net.Pipe through ServeConn.
func TestPipe(t *testing.T) {
	srv := &agi.Server{Logger: quietLogger(), Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
		must(t, s.Answer(ctx))
		d, _, err := s.GetData(ctx, "enter", time.Second, 3)
		if err != nil || d != "472" {
			t.Errorf("GET DATA over a pipe: %q %v", d, err)
		}
		must(t, s.SetVariable(ctx, "CALLSCREEN_RESULT", "allow"))
	})}
	tr, err := agitest.Pipe(context.Background(), srv.ServeConn, agitest.Call{Caller: agitest.Caller{Keys: []string{"472"}}})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Vars["CALLSCREEN_RESULT"] != "allow" || !tr.Answered || tr.Status != "SUCCESS" {
		t.Errorf("%+v", tr)
	}
}

func TestExposureWarning(t *testing.T) {
	lan := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}
	for _, tt := range []struct {
		addr  string
		allow []netip.Prefix
		warn  bool
	}{
		{"127.0.0.1:4573", nil, false},
		{"[::1]:4573", nil, false},
		{"localhost:4573", nil, false},
		{"127.0.0.5:4573", nil, false},
		{"0.0.0.0:4573", nil, true},
		{":4573", nil, true},
		{"[::]:4573", nil, true},
		{"10.0.0.5:4573", nil, true},
		{"pbx.example:4573", nil, true},
		{"0.0.0.0:4573", lan, false},
	} {
		if got := agi.ExposureWarning(tt.addr, tt.allow); (got != "") != tt.warn {
			t.Errorf("ExposureWarning(%q, %v) = %q, want a warning: %t", tt.addr, tt.allow, got, tt.warn)
		}
	}
	// A running server reports it for its listener, and logs it at start.
	var logs strings.Builder
	var mu sync.Mutex
	srv := &agi.Server{Handler: agi.HandlerFunc(func(context.Context, *agi.Session) {}),
		Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))}
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	for deadline := time.Now().Add(20 * time.Second); srv.ListenAddr() == nil && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
	}
	if w := srv.Warnings(); len(w) != 1 {
		t.Errorf("Warnings() = %q, want one", w)
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "agi.allow empty") {
		t.Errorf("no warning logged at start:\n%s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
