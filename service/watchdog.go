package service

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/callscreen/callscreen/agi"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/screen"
)

// The watchdog tells systemd (Type=notify) that serve is ready, and then,
// when the unit sets WatchdogSec=, keeps telling it that serve is alive,
// but only while serve makes progress: every WatchdogSec/4 it places a
// probe session on its own FastAGI listener (accept loop, environment,
// handler) whose handler runs the flow's self-check (numbers, profile,
// critical numbers, the local reputation sources, the policy). A probe
// that does not come back within its interval sends nothing; after
// WatchdogSec without a ping systemd kills serve (SIGABRT: Go prints every
// goroutine's stack to the journal) and restarts it, and Asterisk, seeing
// the FastAGI socket close, lets the call through. Written against the
// sd_notify protocol with go-systemd's daemon package.
//
// The probe's agi_request carries a random token made at start, so nothing
// outside the process can ask for a self-check instead of a screening.

// selfCheckScript is the AGI script of a probe session; the token follows.
const selfCheckScript = "callscreen-self-check/"

// selfCheckOK is the command a probe's handler sends when the self-check
// passed (NOOP: Asterisk would just answer 200 result=0).
const selfCheckOK = "NOOP callscreen-self-check-ok"

// watchdog is one serve's systemd notifier and liveness prober.
type watchdog struct {
	// notify sends one sd_notify state; it reports false when there is
	// no NOTIFY_SOCKET.
	notify func(state string) (bool, error)
	// every is the probe interval; 0 sends READY and STOPPING only.
	every time.Duration
	// addr is the FastAGI listener to probe; "" when a probe cannot
	// reach it (agi.allow refuses loopback): the self-check runs alone.
	addr string
	// request is the probe's agi_request, token included.
	request string
	// check is the flow's self-check.
	check func(ctx context.Context) error
	log   *slog.Logger
	// probed, when set, hears every probe's outcome (tests).
	probed func(err error)
}

// startWatchdog wires the watchdog into the FastAGI listener: it wraps
// srv's handler with the probe's (so it must run before srv serves), sends
// READY=1 once a first probe came back, and pings while probes come back,
// from a goroutine. The returned stop is called when the listener starts
// its drain: it sends STOPPING=1 and keeps pinging until the returned done
// is called, so that a long drain is not mistaken for a hang. Not under
// systemd (no NOTIFY_SOCKET) it does nothing and returns no-ops.
func startWatchdog(h *Host, srv *agi.Server, l net.Listener) (stop, done func()) {
	noop := func() {}
	every, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		h.Log.Warn("watchdog: ignoring WATCHDOG_USEC", "err", err)
		every = 0
	}
	w := &watchdog{
		notify: func(state string) (bool, error) { return daemon.SdNotify(false, state) },
		every:  every / 4,
		check:  func(ctx context.Context) error { return selfCheck(ctx, h.Flow()) },
		log:    h.Log,
	}
	if sent, err := w.notify("STATUS=starting"); !sent {
		if err != nil {
			h.Log.Warn("watchdog: cannot reach systemd's NOTIFY_SOCKET; not notifying", "err", err)
		}
		return noop, noop
	}
	var token [16]byte
	_, _ = rand.Read(token[:])
	w.request = "agi://127.0.0.1/" + selfCheckScript + hex.EncodeToString(token[:])
	w.addr = probeAddr(l.Addr(), srv.Allow)
	if w.addr == "" {
		h.Log.Warn("watchdog: agi.allow refuses the listener's own address; the accept loop is not probed, only the self-check", "agi", l.Addr().String())
	}
	srv.Handler = w.handler(srv.Handler)
	runCtx, stopRun := context.WithCancel(context.Background())
	drainCtx, endDrain := context.WithCancel(context.Background())
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		w.run(runCtx, drainCtx)
	}()
	return stopRun, func() {
		stopRun()
		endDrain()
		<-finished
	}
}

// selfCheck runs f's self-check through the sources that neither cost
// money nor count calls: the explanation chain without the providers.
func selfCheck(ctx context.Context, f *screen.Flow) error {
	var local reputation.Chain
	if ch, ok := f.ExplainSource.(reputation.Chain); ok {
		for _, n := range ch {
			if n.Name != "providers" {
				local = append(local, n)
			}
		}
	}
	return f.SelfCheck(ctx, local)
}

// probeAddr is where the probe dials the listener at a: its own address,
// loopback when it listens on every address. "" when agi.allow would
// refuse that peer (the kernel makes a local connection's source address
// its destination).
func probeAddr(a net.Addr, allow []netip.Prefix) string {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return ""
	}
	ip := ap.Addr().Unmap()
	if ip.IsUnspecified() {
		ip = netip.MustParseAddr("127.0.0.1")
		if ap.Addr().Is6() && !ap.Addr().Is4In6() {
			ip = netip.IPv6Loopback()
		}
	}
	if len(allow) > 0 {
		ok := false
		for _, p := range allow {
			ok = ok || p.Contains(ip)
		}
		if !ok {
			return ""
		}
	}
	return netip.AddrPortFrom(ip, ap.Port()).String()
}

// handler answers probe sessions and hands every other session to next.
func (w *watchdog) handler(next agi.Handler) agi.Handler {
	return agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
		if w.request == "" || s.Env().Request != w.request {
			next.ServeAGI(ctx, s)
			return
		}
		timeout := w.every
		if timeout <= 0 {
			timeout = 5 * time.Second
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if err := w.check(cctx); err != nil {
			w.log.Warn("watchdog: self-check failed", "err", err)
			return
		}
		_, _ = s.Cmd(ctx, "NOOP", "callscreen-self-check-ok")
	})
}

// run sends READY=1 after the first good probe, WATCHDOG=1 after each
// good probe, STOPPING=1 when ctx ends, and WATCHDOG=1 unconditionally
// while the drain lasts, until serveCtx ends.
func (w *watchdog) run(ctx, serveCtx context.Context) {
	ready := false
	failing := false
	for ctx.Err() == nil {
		timeout := w.every
		if timeout <= 0 {
			timeout = 5 * time.Second
		}
		pctx, cancel := context.WithTimeout(ctx, timeout)
		start := time.Now()
		err := w.probe(pctx)
		cancel()
		if ctx.Err() != nil {
			break
		}
		if w.probed != nil {
			w.probed(err)
		}
		switch {
		case err != nil && !failing:
			failing = true
			w.log.Warn("watchdog: serve is not making progress; not telling systemd it is alive", "err", err)
			_, _ = w.notify("STATUS=not making progress: " + oneLine(err.Error()))
		case err == nil && failing:
			failing = false
			w.log.Info("watchdog: serve is making progress again")
			_, _ = w.notify("STATUS=serving")
		}
		if err == nil {
			if !ready {
				ready = true
				_, _ = w.notify("READY=1\nSTATUS=serving")
				if w.every <= 0 {
					break // no watchdog: READY was all systemd wanted
				}
			}
			_, _ = w.notify(daemon.SdNotifyWatchdog)
		}
		pause := w.every
		if pause <= 0 {
			pause = time.Second // no watchdog: retry until READY
		}
		if !sleepCtx(ctx, pause-time.Since(start)) {
			break
		}
	}
	<-ctx.Done()
	_, _ = w.notify("STOPPING=1\nSTATUS=draining calls in progress")
	if w.every <= 0 {
		return
	}
	for sleepCtx(serveCtx, w.every) {
		_, _ = w.notify(daemon.SdNotifyWatchdog)
	}
}

// probe places one probe session: the handler's NOOP proves the accept
// loop, the environment parser, the handler and the self-check all ran.
// A connection the server closes before any command (over its session
// cap, say) still proves the accept loop; the self-check then runs here.
func (w *watchdog) probe(ctx context.Context) error {
	if w.addr == "" {
		return w.check(ctx)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", w.addr)
	if err != nil {
		return fmt.Errorf("watchdog probe: %w", err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := io.WriteString(conn, probeEnv(w.request)); err != nil {
		return fmt.Errorf("watchdog probe: %w", cause(ctx, err))
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	switch {
	case err == nil && strings.TrimSuffix(line, "\n") == selfCheckOK:
		_, _ = io.WriteString(conn, "200 result=0\n")
		return nil
	case err == nil:
		return fmt.Errorf("watchdog probe: unexpected %q from the FastAGI server", oneLine(line))
	case errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err):
		// Turned away before any command: the accept loop runs; the
		// self-check failed (logged by the handler) or was never run.
		return w.check(ctx)
	default:
		return fmt.Errorf("watchdog probe: no answer from the FastAGI server: %w", cause(ctx, err))
	}
}

// probeEnv is the environment block of a probe session, in the order
// Asterisk 22 sends it (res/res_agi.c, launch_netscript and setup_env).
func probeEnv(request string) string {
	script := strings.TrimPrefix(request, "agi://127.0.0.1/")
	var b strings.Builder
	for _, kv := range [][2]string{
		{"agi_network", "yes"}, {"agi_network_script", script}, {"agi_request", request},
		{"agi_channel", "callscreen/self-check"}, {"agi_language", "en"}, {"agi_type", "callscreen"},
		{"agi_uniqueid", "self-check"}, {"agi_version", "callscreen"}, {"agi_callerid", "unknown"},
		{"agi_calleridname", "unknown"}, {"agi_callingpres", "67"}, {"agi_callingani2", "0"},
		{"agi_callington", "0"}, {"agi_callingtns", "0"}, {"agi_dnid", "unknown"}, {"agi_rdnis", "unknown"},
		{"agi_context", "callscreen-self-check"}, {"agi_extension", "s"}, {"agi_priority", "1"},
		{"agi_enhanced", "0.0"}, {"agi_accountcode", ""}, {"agi_threadid", "0"},
	} {
		b.WriteString(kv[0] + ": " + kv[1] + "\n")
	}
	b.WriteString("\n")
	return b.String()
}

func cause(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && strings.Contains(op.Err.Error(), "reset")
}

func oneLine(s string) string {
	s = strings.ReplaceAll(strings.TrimSpace(s), "\n", " ")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// sleepCtx waits d (at least a millisecond) or until ctx ends; it reports
// whether ctx is still going.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(max(d, time.Millisecond))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
