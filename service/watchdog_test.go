package service

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/callscreen/callscreen/agi"
)

// notifySocket is a fake systemd: a unixgram socket set as NOTIFY_SOCKET,
// collecting what serve sends.
type notifySocket struct {
	t    *testing.T
	conn *net.UnixConn
}

func newNotifySocket(t *testing.T) *notifySocket {
	t.Helper()
	// A short path: unix socket names are limited to ~100 bytes.
	dir, err := os.MkdirTemp("", "sdn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return &notifySocket{t: t, conn: conn}
}

// next returns the next datagram, failing the test after 10s.
func (n *notifySocket) next() string {
	n.t.Helper()
	buf := make([]byte, 4096)
	_ = n.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	k, err := n.conn.Read(buf)
	if err != nil {
		n.t.Fatalf("no notification from the watchdog: %v", err)
	}
	return string(buf[:k])
}

// waitFor reads datagrams until one contains want.
func (n *notifySocket) waitFor(want string) {
	n.t.Helper()
	for {
		if m := n.next(); strings.Contains(m, want) {
			return
		}
	}
}

// pending returns the datagrams already queued, without waiting.
func (n *notifySocket) pending() []string {
	n.t.Helper()
	var out []string
	buf := make([]byte, 4096)
	for {
		_ = n.conn.SetReadDeadline(time.Now())
		k, err := n.conn.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return out
			}
			n.t.Fatal(err)
		}
		out = append(out, string(buf[:k]))
	}
}

// wedgeable is a self-check the test can make hang.
type wedgeable struct {
	stuck atomic.Bool
	calls atomic.Int64
}

func (w *wedgeable) check(ctx context.Context) error {
	w.calls.Add(1)
	if w.stuck.Load() {
		<-ctx.Done() // as a deadlocked flow would, until the probe gives up
		return ctx.Err()
	}
	return nil
}

// startProbed runs a watchdog probing addr with check, pinging every
// 100ms, and returns the channel of probe outcomes.
func startProbed(t *testing.T, addr string, wrap func(*watchdog)) (*watchdog, chan error, context.CancelFunc) {
	t.Helper()
	probes := make(chan error, 1000)
	w := &watchdog{
		notify:  func(state string) (bool, error) { return daemon.SdNotify(false, state) },
		every:   100 * time.Millisecond, // also each probe's timeout: a loaded machine must pass some
		addr:    addr,
		request: "agi://127.0.0.1/" + selfCheckScript + "0123456789abcdef",
		log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		probed:  func(err error) { probes <- err },
	}
	wrap(w)
	ctx, cancel := context.WithCancel(context.Background())
	serveCtx, stopServing := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.run(ctx, serveCtx)
	}()
	t.Cleanup(func() {
		cancel()
		stopServing()
		<-done
	})
	return w, probes, cancel
}

// waitProbes waits for n probe outcomes and returns them.
func waitProbes(t *testing.T, probes chan error, n int) []error {
	t.Helper()
	var out []error
	for len(out) < n {
		select {
		case err := <-probes:
			out = append(out, err)
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d probes in 10s", len(out), n)
		}
	}
	return out
}

// TestWatchdogPingsOnlyWhileProgressing runs the watchdog against a real
// FastAGI server whose handler is the probe's: READY=1 and WATCHDOG=1
// arrive while probes come back; once the self-check wedges the pings
// stop; when it recovers they resume; on stop STOPPING=1 arrives.
func TestWatchdogPingsOnlyWhileProgressing(t *testing.T) {
	sock := newNotifySocket(t)
	check := &wedgeable{}
	screened := atomic.Int64{}
	srv := &agi.Server{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var w *watchdog
	var probes chan error
	var cancel context.CancelFunc
	w, probes, cancel = startProbed(t, l.Addr().String(), func(w *watchdog) {
		w.check = check.check
		srv.Handler = w.handler(agi.HandlerFunc(func(context.Context, *agi.Session) { screened.Add(1) }))
	})
	_ = w
	sctx, stop := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(sctx, l) }()
	t.Cleanup(func() { stop(); <-served })

	sock.waitFor("READY=1")
	sock.waitFor("WATCHDOG=1")
	if screened.Load() != 0 {
		t.Fatal("a probe session reached the screening handler")
	}

	check.stuck.Store(true)
	// The first failing probe may have overlapped a good one: drain what
	// was sent until then, then watch two whole failing probes.
	for {
		if err := waitProbes(t, probes, 1)[0]; err != nil {
			break
		}
	}
	sock.pending()
	for _, err := range waitProbes(t, probes, 2) {
		if err == nil {
			t.Fatal("a probe passed while the self-check was stuck")
		}
	}
	for _, m := range sock.pending() {
		if strings.Contains(m, "WATCHDOG=1") {
			t.Fatalf("pinged systemd while the self-check was stuck: %q", m)
		}
	}

	check.stuck.Store(false)
	sock.waitFor("WATCHDOG=1")
	cancel()
	sock.waitFor("STOPPING=1")
}

// TestWatchdogAcceptLoopWedged: a listener whose accept loop never serves
// (the connection sits in the backlog) gets no READY and no ping.
func TestWatchdogAcceptLoopWedged(t *testing.T) {
	sock := newNotifySocket(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close() // never Accept()ed
	check := &wedgeable{}
	_, probes, _ := startProbed(t, l.Addr().String(), func(w *watchdog) { w.check = check.check })
	for _, err := range waitProbes(t, probes, 3) {
		if err == nil {
			t.Fatal("a probe passed against an accept loop that never serves")
		}
	}
	for _, m := range sock.pending() {
		if strings.Contains(m, "READY=1") || strings.Contains(m, "WATCHDOG=1") {
			t.Fatalf("notified %q with the accept loop wedged", m)
		}
	}
	if check.calls.Load() != 0 {
		t.Errorf("the self-check ran %d times without a probe session", check.calls.Load())
	}
}

// TestWatchdogTurnedAway: a server that closes the probe's connection
// before any command (over its session cap) still shows its accept loop
// running; the self-check then runs in process and the pings go on.
func TestWatchdogTurnedAway(t *testing.T) {
	sock := newNotifySocket(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	check := &wedgeable{}
	startProbed(t, l.Addr().String(), func(w *watchdog) { w.check = check.check })
	sock.waitFor("READY=1")
	sock.waitFor("WATCHDOG=1")
	if check.calls.Load() == 0 {
		t.Error("the self-check never ran")
	}
}

func TestProbeAddr(t *testing.T) {
	tests := []struct {
		listen string
		allow  []string
		want   string
	}{
		{"0.0.0.0:4573", nil, "127.0.0.1:4573"},
		{"[::]:4573", nil, "[::1]:4573"},
		{"127.0.0.1:4573", []string{"127.0.0.0/8"}, "127.0.0.1:4573"},
		{"0.0.0.0:4573", []string{"10.0.0.0/8"}, ""},
		{"10.1.2.3:4573", []string{"10.0.0.0/8"}, "10.1.2.3:4573"},
		{"10.1.2.3:4573", []string{"192.168.0.0/16"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.listen, func(t *testing.T) {
			var allow []netip.Prefix
			for _, a := range tt.allow {
				allow = append(allow, netip.MustParsePrefix(a))
			}
			a, err := net.ResolveTCPAddr("tcp", tt.listen)
			if err != nil {
				t.Fatal(err)
			}
			if got := probeAddr(a, allow); got != tt.want {
				t.Fatalf("probeAddr(%s, %v) = %q; want %q", tt.listen, tt.allow, got, tt.want)
			}
		})
	}
}
