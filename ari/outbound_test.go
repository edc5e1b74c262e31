package ari_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callscreen/callscreen/ari"
	"github.com/callscreen/callscreen/ari/aritest"
	"github.com/callscreen/callscreen/bridge"
	"github.com/callscreen/callscreen/internal/promtest"
	"github.com/prometheus/client_golang/prometheus"
)

const (
	obUser = "pbx1"
	obPass = "s3cret-Pa55"
)

// obHarness runs an OutboundServer on loopback for a test.
type obHarness struct {
	os   *ari.OutboundServer
	addr string
	logs *logRecorder
	reg  *prometheus.Registry
	stop context.CancelFunc
	done chan error
}

// serveOutbound runs an OutboundServer with handler h until the test
// ends (or stop). addr, when not "", is the address to listen on.
func serveOutbound(t *testing.T, addr string, h ari.Handler, mod ...func(*ari.OutboundServer)) *obHarness {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logRecorder{}
	reg := prometheus.NewRegistry()
	os := &ari.OutboundServer{
		Users:   []ari.OutboundUser{{Username: obUser, Password: obPass, Scope: bridge.ARIScope{Tenant: "acme", Profile: "support"}}},
		Handler: h, Logger: slog.New(logs),
		Metrics: ari.NewMetrics(reg), OutboundMetrics: ari.NewOutboundMetrics(reg),
		Recover: []ari.Var{{"CALLSCREEN_RESULT", "allow"}, {"CALLSCREEN_CHALLENGE", "none"}},
		// OrphanWait stays the default (3s): a per-call connection whose
		// StasisStart a loaded machine delays must not be taken for an
		// orphan. The test of orphans shortens it.
		LinkWait: 300 * time.Millisecond, RecoverDelay: recoverDelay,
		PeerCloseWait: 5 * time.Second,
	}
	for _, f := range mod {
		f(os)
	}
	ctx, cancel := context.WithCancel(context.Background())
	hs := &obHarness{os: os, addr: l.Addr().String(), logs: logs, reg: reg, stop: cancel, done: make(chan error, 1)}
	go func() { hs.done <- os.Serve(ctx, l) }()
	t.Cleanup(func() {
		hs.shutdown(t)
		if t.Failed() {
			t.Logf("logs:\n%s", logs.dump())
		}
		if strings.Contains(logs.dump(), obPass) {
			t.Errorf("a password is in the log:\n%s", logs.dump())
		}
	})
	return hs
}

func (h *obHarness) shutdown(t *testing.T) {
	t.Helper()
	h.stop()
	select {
	case err := <-h.done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
		h.done <- nil
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
}

// metric sums the series of name that have the labels given.
func (h *obHarness) metric(name string, labels ...string) float64 {
	return promtest.Value(h.reg, name, labels...)
}

// waitMetric waits until the metric reaches want.
func (h *obHarness) waitMetric(t *testing.T, want float64, name string, labels ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for h.metric(name, labels...) != want {
		if pause(ctx) != nil {
			t.Fatalf("%s%v = %v, want %v", name, labels, h.metric(name, labels...), want)
		}
	}
}

// fakeOutbound is the fake Asterisk's outbound websocket towards addr.
func fakeOutbound(t *testing.T, srv *aritest.Server, addr string, perCall bool, mod ...func(*aritest.OutboundConfig)) *aritest.Outbound {
	t.Helper()
	cfg := aritest.OutboundConfig{
		App: appName, URI: "ws://" + addr + "/ari?tenant=acme", Username: obUser, Password: obPass, PerCall: perCall,
		ConnectTimeout: 200 * time.Millisecond, ReconnectInterval: 20 * time.Millisecond,
		StartDelay: 10 * time.Millisecond, CloseDelay: 100 * time.Millisecond,
	}
	if perCall {
		cfg.App = appName + "-pc"
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

func obApp(perCall bool) string {
	if perCall {
		return appName + "-pc"
	}
	return appName
}

func mode(perCall bool) string {
	if perCall {
		return "per_call_config"
	}
	return "persistent"
}

// TestOutboundScreens: a call on either kind of connection is handed to
// the handler as a *Call with the user's tenant and profile (or the
// Stasis arguments'), screened over REST on the websocket, and continued
// once; a per-call connection is then closed by Asterisk.
func TestOutboundScreens(t *testing.T) {
	for _, perCall := range []bool{false, true} {
		for _, late := range []int{0, 1, 2} {
			t.Run(fmt.Sprintf("%s/varset_late_%d", mode(perCall), late), func(t *testing.T) {
				t.Parallel()
				srv := newServer(t, aritest.Config{SoundDuration: 20 * time.Millisecond, DigitDuration: 10 * time.Millisecond})
				h := serveOutbound(t, "", challenge(nil))
				ob := fakeOutbound(t, srv, h.addr, perCall, func(c *aritest.OutboundConfig) { c.LateVarset = late })
				if !perCall {
					waitCtx(t, ob.WaitConnected)
				}
				for i, args := range [][]string{nil, {"tenant=globex", "profile=sales"}} {
					ch, err := srv.StartCall(obApp(perCall), aritest.CallSpec{
						CallerNumber: "+12125551234", Args: args, OnPlaybackFinished: aritest.Echo(0),
					})
					if err != nil {
						t.Fatal(err)
					}
					waitDone(t, ch)
					wantT, wantP := "acme", "support"
					if i == 1 {
						wantT, wantP = "globex", "sales"
					}
					vars := ch.Vars()
					if vars["CALLSCREEN_CHALLENGE"] != "passed" || vars["TENANT"] != wantT || vars["PROFILE"] != wantP {
						t.Errorf("call %d: variables %v", i, vars)
					}
					if ch.Continued() != 1 || ch.StasisStatus() != "SUCCESS" {
						t.Errorf("call %d: continued %d, STASISSTATUS %q", i, ch.Continued(), ch.StasisStatus())
					}
				}
				if perCall {
					// Asterisk closes each per-call connection after StasisEnd.
					waitCtx(t, func(ctx context.Context) error {
						for ob.Connections() > 0 || h.metric("callscreen_ari_outbound_connections", "user", obUser) > 0 {
							if err := pause(ctx); err != nil {
								return err
							}
						}
						return nil
					})
				}
				h.waitMetric(t, 2, "callscreen_ari_calls_total", "outcome", "continued")
				if got := h.metric("callscreen_ari_outbound_handshakes_total", "result", "accepted"); perCall && got != 2 || !perCall && got != 1 {
					t.Errorf("%v handshakes accepted", got)
				}
				if n := h.logs.count(slog.LevelWarn, ""); n > 0 {
					t.Errorf("%d warnings:\n%s", n, h.logs.dump())
				}
			})
		}
	}
}

// pause waits a little, or returns ctx's error.
func pause(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(5 * time.Millisecond):
		return nil
	}
}

// TestOutboundCallGone: a caller who hangs up mid-playback ends the
// handler with ErrHangup whether Asterisk then answers 404 (the channel
// is destroyed) or 409 (it lingers out of Stasis), and the channel is not
// continued; nothing is logged above debug.
func TestOutboundCallGone(t *testing.T) {
	for _, tt := range []struct {
		perCall, linger bool
	}{{false, false}, {true, true}, {true, false}, {false, true}} {
		t.Run(fmt.Sprintf("%s/linger_%v", mode(tt.perCall), tt.linger), func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, aritest.Config{DigitDuration: time.Second})
			errs := make(chan error, 4)
			h := serveOutbound(t, "", ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
				if err := c.Answer(ctx); err != nil {
					errs <- err
					return
				}
				_, err := c.Play(ctx, []string{"digits:1234567890"}, "")
				errs <- err
				_, _, err = c.Variable(ctx, "CALLERID(num-pres)")
				errs <- err
				errs <- c.SetVariables(ctx, []ari.Var{{"CALLSCREEN_RESULT", "allow"}})
			}))
			ob := fakeOutbound(t, srv, h.addr, tt.perCall)
			if !tt.perCall {
				waitCtx(t, ob.WaitConnected)
			}
			ch, err := srv.StartCall(obApp(tt.perCall), aritest.CallSpec{
				CallerNumber: "+12125551234", LingerAfterHangup: tt.linger,
				OnPlaybackStarted: func(ch *aritest.Channel, _ ari.Playback, _ []string) { ch.HangupCause(0) },
			})
			if err != nil {
				t.Fatal(err)
			}
			waitDone(t, ch)
			for i := 0; i < 2; i++ {
				if err := <-errs; !errors.Is(err, ari.ErrHangup) {
					t.Errorf("step %d: %v, want ErrHangup", i, err)
				}
			}
			if err := <-errs; err != nil && !errors.Is(err, ari.ErrHangup) {
				t.Errorf("variable: %v", err)
			}
			h.waitMetric(t, 1, "callscreen_ari_calls_total", "outcome", "hangup")
			if ch.ContinueRequests() != 0 {
				t.Errorf("%d continue requests for a gone channel", ch.ContinueRequests())
			}
			if n := h.logs.count(slog.LevelInfo, ""); n > 0 {
				t.Errorf("%d records above debug:\n%s", n, h.logs.dump())
			}
		})
	}
}

// TestOutboundQueuedWhileDown: callscreen stops while Asterisk holds a
// persistent connection; calls arrive meanwhile and wait in Ring. When a
// callscreen listens again, Asterisk sends the queued events first: the
// call whose caller gave up is counted as abandoned and not handed to the
// handler, the other is screened.
func TestOutboundQueuedWhileDown(t *testing.T) {
	srv := newServer(t, aritest.Config{})
	var mu sync.Mutex
	handled := map[string]bool{}
	h := func(ctx context.Context, c *ari.Call) {
		mu.Lock()
		handled[c.ID()] = true
		mu.Unlock()
		c.SetVariables(ctx, []ari.Var{{"CALLSCREEN_RESULT", "allow"}})
	}
	first := serveOutbound(t, "", ari.HandlerFunc(h))
	ob := fakeOutbound(t, srv, first.addr, false)
	waitCtx(t, ob.WaitConnected)
	first.shutdown(t)
	waitCtx(t, func(ctx context.Context) error { return srv.WaitDisconnected(ctx, appName) })

	gaveUp := mustStart(t, srv, aritest.CallSpec{CallerNumber: "+12125551234"})
	gaveUp.HangupCause(19)
	waiting := mustStart(t, srv, aritest.CallSpec{CallerNumber: "+12125551235"})
	if st := waiting.Info().State; st != "Ring" {
		t.Fatalf("waiting channel in %s, want Ring", st)
	}

	second := serveOutbound(t, first.addr, ari.HandlerFunc(h))
	waitDone(t, waiting)
	if v, _ := waiting.Var("CALLSCREEN_RESULT"); v != "allow" || waiting.Continued() != 1 {
		t.Errorf("waiting call: result %q, continued %d", v, waiting.Continued())
	}
	second.waitMetric(t, 1, "callscreen_ari_calls_total", "outcome", "abandoned")
	mu.Lock()
	defer mu.Unlock()
	if handled[gaveUp.ID()] || !handled[waiting.ID()] {
		t.Errorf("handled %v; want only %s", handled, waiting.ID())
	}
	if second.logs.count(slog.LevelWarn, "") > 0 {
		t.Errorf("warnings:\n%s", second.logs.dump())
	}
}

// TestOutboundReconnectMidCall: the connection drops while a call waits
// for its caller's digits; Asterisk reconnects (to the same callscreen)
// and the call goes on over the new connection, its digits among the
// events Asterisk queued.
func TestOutboundReconnectMidCall(t *testing.T) {
	for _, perCall := range []bool{false, true} {
		t.Run(mode(perCall), func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, aritest.Config{SoundDuration: 10 * time.Millisecond, DigitDuration: 10 * time.Millisecond})
			result := make(chan string, 1)
			h := serveOutbound(t, "", challenge(result), func(o *ari.OutboundServer) { o.LinkWait = 10 * time.Second })
			ob := fakeOutbound(t, srv, h.addr, perCall)
			if !perCall {
				waitCtx(t, ob.WaitConnected)
			}
			ch, err := srv.StartCall(obApp(perCall), aritest.CallSpec{
				CallerNumber: "+12125551234",
				OnPlaybackFinished: func(ch *aritest.Channel, pb ari.Playback, media []string) {
					if aritest.Heard(media) == "" {
						return
					}
					ob.Drop()
					ch.SendDTMF(aritest.Heard(media)) // queued until Asterisk reconnects
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			waitDone(t, ch)
			if r := <-result; r != "passed" {
				t.Errorf("challenge %s", r)
			}
			if ch.Continued() != 1 || ch.StasisStatus() != "SUCCESS" {
				t.Errorf("continued %d, STASISSTATUS %q", ch.Continued(), ch.StasisStatus())
			}
			if ob.Attempts() < 2 {
				t.Errorf("%d connection attempts; the drop should have made another", ob.Attempts())
			}
		})
	}
}

// switchProxy forwards TCP connections to its current target.
type switchProxy struct {
	l      net.Listener
	mu     sync.Mutex
	target string
	conns  []net.Conn
	// forwarded and refused count the accepted connections that reached
	// the target and those that did not.
	forwarded, refused int
}

func (p *switchProxy) counts() (forwarded, refused int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.forwarded, p.refused
}

func newSwitchProxy(t *testing.T, target string) *switchProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &switchProxy{l: l, target: target}
	go p.serve()
	t.Cleanup(func() { l.Close(); p.cut() })
	return p
}

func (p *switchProxy) addr() string { return p.l.Addr().String() }

func (p *switchProxy) set(target string) {
	p.mu.Lock()
	p.target = target
	p.mu.Unlock()
}

// cut closes every forwarded connection, as a crashed instance would.
func (p *switchProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *switchProxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		target := p.target
		p.mu.Unlock()
		u, err := net.DialTimeout("tcp", target, time.Second)
		if err != nil {
			c.Close()
			p.mu.Lock()
			p.refused++
			p.mu.Unlock()
			continue
		}
		p.mu.Lock()
		p.forwarded++
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		go func() { io.Copy(u, c); u.Close() }()
		go func() { io.Copy(c, u); c.Close() }()
	}
}

// TestOutboundPerCallInstanceLost: the callscreen screening a per-call
// call goes away mid-call. Asterisk reconnects that call's websocket: if
// the reconnect reaches another callscreen, that one finds the channel
// waiting without a StasisStart and hands it back, fail-open; if nothing
// answers, Stasis() returns with STASISSTATUS=FAILED and the include
// fails open. The lost instance gives the call up after LinkWait.
func TestOutboundPerCallInstanceLost(t *testing.T) {
	for _, other := range []bool{true, false} {
		t.Run(fmt.Sprintf("another_instance_%v", other), func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, aritest.Config{SoundDuration: 10 * time.Millisecond})
			parked := make(chan struct{})
			a := serveOutbound(t, "", ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
				close(parked)
				c.ReadDigits(ctx, nil, time.Minute, 3) // a caller who never types
			}))
			b := serveOutbound(t, "", ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
				t.Errorf("instance b was handed call %s; it never had its StasisStart", c.ID())
			}), func(o *ari.OutboundServer) { o.OrphanWait = 100 * time.Millisecond }) // it never comes here
			proxy := newSwitchProxy(t, a.addr)
			fakeOutbound(t, srv, proxy.addr(), true)
			ch, err := srv.StartCall(appName+"-pc", aritest.CallSpec{CallerNumber: "+12125551234"})
			if err != nil {
				t.Fatal(err)
			}
			<-parked
			if other {
				proxy.set(b.addr)
			} else {
				proxy.set("127.0.0.1:1") // nothing there
			}
			proxy.cut()
			waitDone(t, ch)
			if other {
				if v, _ := ch.Var("CALLSCREEN_RESULT"); v != "allow" || ch.StasisStatus() != "SUCCESS" {
					t.Errorf("handed back with %v, STASISSTATUS %q; want allow, SUCCESS", ch.Vars(), ch.StasisStatus())
				}
				b.waitMetric(t, 1, "callscreen_ari_calls_total", "outcome", "recovered")
			} else if ch.StasisStatus() != "FAILED" {
				t.Errorf("STASISSTATUS %q, want FAILED", ch.StasisStatus())
			}
			a.waitMetric(t, 1, "callscreen_ari_outbound_calls_lost_total", "user", obUser)
		})
	}
}

// TestOutboundHandshakes: what is refused before the upgrade, with which
// status, and how it is counted; a refused per-call connection fails the
// call's Stasis().
func TestOutboundHandshakes(t *testing.T) {
	h := serveOutbound(t, "", ari.HandlerFunc(func(context.Context, *ari.Call) {}), func(o *ari.OutboundServer) {
		o.Path = "/ari"
		o.Users = append(o.Users, ari.OutboundUser{Username: "pbx2", Password: "other-pw-2", MaxConns: 1})
	})
	upgrade := http.Header{
		"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key": {"KpYaTwAAAAB4jfgUAAAAAA=="}, "Sec-Websocket-Protocol": {"ari"},
	}
	tests := []struct {
		name       string
		path       string
		user, pass string
		noProtocol bool
		status     int
		result     string
	}{
		{"no credentials", "/ari", "", "", false, http.StatusUnauthorized, "unauthorized"},
		{"wrong password", "/ari", obUser, "wrong-pw-1", false, http.StatusUnauthorized, "unauthorized"},
		{"another user's password", "/ari", obUser, "other-pw-2", false, http.StatusUnauthorized, "unauthorized"},
		{"unknown user", "/ari", "nobody", obPass, false, http.StatusUnauthorized, "unauthorized"},
		{"other path", "/events", obUser, obPass, false, http.StatusNotFound, "not_found"},
		{"no subprotocol", "/ari", obUser, obPass, true, http.StatusBadRequest, "no_subprotocol"},
		{"good", "/ari", obUser, obPass, false, http.StatusSwitchingProtocols, "accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.metric("callscreen_ari_outbound_handshakes_total", "result", tt.result)
			req, _ := http.NewRequest(http.MethodGet, "http://"+h.addr+tt.path, nil)
			for k, v := range upgrade {
				req.Header[k] = v
			}
			if tt.noProtocol {
				req.Header.Del("Sec-Websocket-Protocol")
			}
			if tt.user != "" {
				req.SetBasicAuth(tt.user, tt.pass)
			}
			client := &http.Client{Timeout: 5 * time.Second}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("401 without a Basic challenge: %v", resp.Header)
			}
			h.waitMetric(t, before+1, "callscreen_ari_outbound_handshakes_total", "result", tt.result)
		})
	}
	// One line a minute per user name: "", pbx1 (twice refused) and nobody.
	if n := h.logs.count(slog.LevelWarn, "refused a login"); n != 3 {
		t.Errorf("%d refused-login lines, want 3:\n%s", n, h.logs.dump())
	}
	if d := h.logs.dump(); strings.Contains(d, "wrong-pw-1") || strings.Contains(d, "other-pw-2") {
		t.Errorf("a tried password is in the log:\n%s", d)
	}

	for _, which := range []string{"user", "overall"} {
		t.Run("over the "+which+" cap", func(t *testing.T) { overCap(t, which) })
	}
}

// overCap: a connection over a cap is refused with 503 and the call's
// Stasis() fails (the include's fail-open branch).
func overCap(t *testing.T, which string) {
	srv := newServer(t, aritest.Config{})
	parked := make(chan struct{}, 1)
	release := make(chan struct{})
	h2 := serveOutbound(t, "", ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
		parked <- struct{}{}
		<-release
	}), func(o *ari.OutboundServer) {
		if which == "user" {
			o.Users[0].MaxConns = 1
		} else {
			o.MaxConns = 1
		}
	})
	fakeOutbound(t, srv, h2.addr, true, func(c *aritest.OutboundConfig) { c.ReconnectAttempts = 2 })
	first := mustStartApp(t, srv, appName+"-pc", aritest.CallSpec{CallerNumber: "+12125551234"})
	<-parked
	if _, err := srv.StartCall(appName+"-pc", aritest.CallSpec{CallerNumber: "+12125551235"}); !errors.Is(err, aritest.ErrNotConnected) {
		t.Errorf("second call over the cap: %v, want ErrNotConnected (STASISSTATUS=FAILED)", err)
	}
	close(release)
	waitDone(t, first)
	h2.waitMetric(t, 2, "callscreen_ari_outbound_handshakes_total", "result", "over_capacity")
}

func mustStartApp(t *testing.T, srv *aritest.Server, app string, spec aritest.CallSpec) *aritest.Channel {
	t.Helper()
	ch, err := srv.StartCall(app, spec)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// TestOutboundTLS: wss://, with the server's certificate trusted by the
// fake Asterisk (ca_list_file in websocket_client.conf).
func TestOutboundTLS(t *testing.T) {
	ts := httptest.NewTLSServer(http.NotFoundHandler())
	cert := ts.TLS.Certificates[0]
	roots := ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	ts.Close()
	srv := newServer(t, aritest.Config{})
	h := serveOutbound(t, "", ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
		c.SetVariables(ctx, []ari.Var{{"CALLSCREEN_RESULT", "allow"}})
	}), func(o *ari.OutboundServer) { o.TLS = &tls.Config{Certificates: []tls.Certificate{cert}} })
	ob := fakeOutbound(t, srv, h.addr, true, func(c *aritest.OutboundConfig) {
		c.URI = "wss://" + h.addr + "/ari"
		c.TLS = &tls.Config{RootCAs: roots}
	})
	ch := mustStartApp(t, srv, appName+"-pc", aritest.CallSpec{CallerNumber: "+12125551234"})
	waitDone(t, ch)
	if v, _ := ch.Var("CALLSCREEN_RESULT"); v != "allow" {
		t.Errorf("over wss: %v", ch.Vars())
	}
	if !strings.HasPrefix(ob.Heads()[0], "GET /ari HTTP/1.1\r\n") {
		t.Errorf("head %q", ob.Heads()[0])
	}
}

// TestOutboundShutdown: Serve returns once the calls in flight have been
// handed back (their handlers see their context end) and every
// connection is closed.
func TestOutboundShutdown(t *testing.T) {
	srv := newServer(t, aritest.Config{})
	parked := make(chan struct{}, 2)
	h := serveOutbound(t, "", ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
		parked <- struct{}{}
		<-ctx.Done()
	}))
	pc := fakeOutbound(t, srv, h.addr, true)
	ps := fakeOutbound(t, srv, h.addr, false)
	waitCtx(t, ps.WaitConnected)
	a := mustStartApp(t, srv, appName+"-pc", aritest.CallSpec{CallerNumber: "+12125551234"})
	b := mustStartApp(t, srv, appName, aritest.CallSpec{CallerNumber: "+12125551235"})
	<-parked
	<-parked
	h.shutdown(t)
	for _, ch := range []*aritest.Channel{a, b} {
		waitDone(t, ch)
		if ch.Continued() != 1 {
			t.Errorf("channel %s continued %d times", ch.ID(), ch.Continued())
		}
	}
	waitCtx(t, func(ctx context.Context) error {
		for pc.Connections()+ps.Connections() > 0 {
			if err := pause(ctx); err != nil {
				return err
			}
		}
		return nil
	})
}

// TestOutboundServeRejects: Serve refuses a server it cannot run.
func TestOutboundServeRejects(t *testing.T) {
	h := ari.HandlerFunc(func(context.Context, *ari.Call) {})
	tests := []struct {
		name string
		os   *ari.OutboundServer
		want string
	}{
		{"no handler", &ari.OutboundServer{Users: []ari.OutboundUser{{Username: "a", Password: "b"}}}, "no handler"},
		{"no users", &ari.OutboundServer{Handler: h}, "no users"},
		{"no password", &ari.OutboundServer{Handler: h, Users: []ari.OutboundUser{{Username: "a"}}}, "username and password are required"},
		{"colon", &ari.OutboundServer{Handler: h, Users: []ari.OutboundUser{{Username: "a:b", Password: "c"}}}, "must not contain"},
		{"twice", &ari.OutboundServer{Handler: h, Users: []ari.OutboundUser{{Username: "a", Password: "b"}, {Username: "a", Password: "c"}}}, "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			err = tt.os.Serve(context.Background(), l)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Serve: %v, want %q", err, tt.want)
			}
		})
	}
}

// TestOutboundPersistentLeftover: after a persistent connection is
// (re)established, a channel waiting in the application that no call here
// handles (its StasisStart went to a callscreen that stopped) is handed
// back once, with the recovery variables; a call screened meanwhile is
// not touched.
func TestOutboundPersistentLeftover(t *testing.T) {
	srv := newServer(t, aritest.Config{})
	h := serveOutbound(t, "", ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
		c.SetVariables(ctx, []ari.Var{{"CALLSCREEN_RESULT", "block"}})
	}))
	ob := fakeOutbound(t, srv, h.addr, false)
	waitCtx(t, ob.WaitConnected)
	left := srv.AddChannel(appName, aritest.CallSpec{CallerNumber: "+12125551234"})
	ob.Drop()
	screened := mustStart(t, srv, aritest.CallSpec{CallerNumber: "+12125551235"}) // queued, then screened
	waitDone(t, left)
	waitDone(t, screened)
	if v, _ := left.Var("CALLSCREEN_RESULT"); v != "allow" || left.Continued() != 1 {
		t.Errorf("leftover: %v, continued %d; want the recovery variables, continued once", left.Vars(), left.Continued())
	}
	if v, _ := screened.Var("CALLSCREEN_RESULT"); v != "block" || screened.ContinueRequests() != 1 {
		t.Errorf("screened call: %v, %d continue requests", screened.Vars(), screened.ContinueRequests())
	}
	h.waitMetric(t, 1, "callscreen_ari_calls_total", "outcome", "recovered")
}

// TestOutboundPerCallDropAfterEnd: a per-call connection that drops after
// its call left the application, and is made again only once Asterisk's
// close is due (its close then finds no connection to close), stays open
// until callscreen, finding its channel gone from the application when
// it lists the channels after the reconnect, closes it.
func TestOutboundPerCallDropAfterEnd(t *testing.T) {
	srv := newServer(t, aritest.Config{})
	h := serveOutbound(t, "", ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
		c.SetVariables(ctx, []ari.Var{{"CALLSCREEN_RESULT", "allow"}})
	}))
	proxy := newSwitchProxy(t, h.addr)
	closeDue := make(chan struct{})
	ob := fakeOutbound(t, srv, proxy.addr(), true, func(c *aritest.OutboundConfig) {
		c.CloseWhen = closeDue
		c.ReconnectInterval = 100 * time.Millisecond
		c.ReconnectAttempts = 1000
	})
	ch := mustStartApp(t, srv, appName+"-pc", aritest.CallSpec{CallerNumber: "+12125551234"})
	waitDone(t, ch)
	// The call has left the application; its connection drops before its
	// close is due, and the reconnects fail until after it.
	proxy.set("127.0.0.1:1")
	proxy.cut()
	waitCtx(t, func(ctx context.Context) error {
		for _, refused := proxy.counts(); refused < 1; _, refused = proxy.counts() {
			if err := pause(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	close(closeDue)
	waitCtx(t, func(ctx context.Context) error {
		for ob.ClosesDue() < 1 {
			if err := pause(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	proxy.set(h.addr)
	waitCtx(t, func(ctx context.Context) error {
		for forwarded, _ := proxy.counts(); forwarded < 2; forwarded, _ = proxy.counts() {
			if err := pause(ctx); err != nil {
				return err
			}
		}
		for ob.Connections() > 0 || h.metric("callscreen_ari_outbound_connections") > 0 {
			if err := pause(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	if ch.Continued() != 1 {
		t.Errorf("continued %d times", ch.Continued())
	}
	if n := h.metric("callscreen_ari_calls_total", "outcome", "recovered"); n != 0 {
		t.Errorf("%v calls recovered; the call had ended", n)
	}
}
