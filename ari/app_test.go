package ari_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callscreen/callscreen/ari"
	"github.com/callscreen/callscreen/ari/aritest"
	"github.com/callscreen/callscreen/internal/promtest"
	"github.com/callscreen/callscreen/internal/timingtest"
	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
)

const (
	appName = "callscreen"
	// recoverDelay is the App's RecoverDelay in tests: long enough that a
	// StasisStart is processed in time on a loaded machine.
	recoverDelay = 300 * time.Millisecond
)

// logRecorder is a slog.Handler that keeps every record.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.recs = append(l.recs, r.Clone())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// count returns how many records at level or above contain msg.
func (l *logRecorder) count(level slog.Level, msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.recs {
		if r.Level >= level && strings.Contains(r.Message, msg) {
			n++
		}
	}
	return n
}

// after reports whether a record containing second follows the last
// record containing first.
func (l *logRecorder) after(first, second string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	last := -1
	for i, r := range l.recs {
		if strings.Contains(r.Message, first) {
			last = i
		}
	}
	if last < 0 {
		return false
	}
	for _, r := range l.recs[last+1:] {
		if strings.Contains(r.Message, second) {
			return true
		}
	}
	return false
}

// attr returns attribute key of the first record whose message contains
// msg, nil when none.
func (l *logRecorder) attr(msg, key string) any {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.recs {
		if !strings.Contains(r.Message, msg) {
			continue
		}
		var v any
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == key {
				v = a.Value.Any()
				return false
			}
			return true
		})
		return v
	}
	return nil
}

func (l *logRecorder) dump() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, r := range l.recs {
		fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
		r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
		b.WriteByte('\n')
	}
	return b.String()
}

type harness struct {
	srv  *aritest.Server
	app  *ari.App
	logs *logRecorder
	reg  *prometheus.Registry
	stop context.CancelFunc
	done chan struct{}
}

// start runs app against srv until the test ends, and waits for it to
// connect unless noWait.
func start(t *testing.T, srv *aritest.Server, h ari.Handler, mod ...func(*ari.App)) *harness {
	t.Helper()
	logs := &logRecorder{}
	reg := prometheus.NewRegistry()
	m := ari.NewMetrics(reg)
	client := newClient(t, srv, func(c *ari.ClientConfig) { c.Metrics = m })
	app := &ari.App{
		Client: client, Name: appName, Scope: testScope{},
		Handler: h, Logger: slog.New(logs), Metrics: m,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		AuthRetry: 100 * time.Millisecond, RecoverDelay: recoverDelay,
		Recover: []ari.Var{{"CALLSCREEN_RESULT", "allow"}, {"CALLSCREEN_CHALLENGE", "none"}},
	}
	wait := true
	for _, f := range mod {
		if f == nil {
			wait = false
			continue
		}
		f(app)
	}
	ctx, cancel := context.WithCancel(context.Background())
	hs := &harness{srv: srv, app: app, logs: logs, reg: reg, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(hs.done)
		if err := app.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		hs.shutdown(t)
		if t.Failed() {
			t.Logf("logs:\n%s", logs.dump())
		}
	})
	if wait {
		waitCtx(t, func(ctx context.Context) error { return srv.WaitConnected(ctx, appName) })
	}
	return hs
}

// waitRecovered waits until the recovery scan after the latest connection
// has finished (channels handed back included).
func (h *harness) waitRecovered(t *testing.T) {
	t.Helper()
	timingtest.WaitFor(t, "the recovery scan after the latest connection", func() bool {
		return h.logs.after("ari: connected", "ari: recovery after connect done")
	})
}

// metric returns the value of the series name{labels...}, 0 when absent.
func (h *harness) metric(name string, labels ...string) float64 {
	return promtest.Value(h.reg, name, labels...)
}

func (h *harness) shutdown(t *testing.T) {
	t.Helper()
	h.stop()
	select {
	case <-h.done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func waitCtx(t *testing.T, f func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f(ctx); err != nil {
		t.Fatal(err)
	}
}

func waitDone(t *testing.T, ch *aritest.Channel) {
	t.Helper()
	select {
	case <-ch.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("channel %s still in the application", ch.ID())
	}
}

func mustStart(t *testing.T, srv *aritest.Server, spec aritest.CallSpec) *aritest.Channel {
	t.Helper()
	ch, err := srv.StartCall(appName, spec)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// challenge is a test handler shaped like the screening flow's challenge.
func challenge(result chan<- string) ari.HandlerFunc {
	return func(ctx context.Context, c *ari.Call) {
		report := func(s string) {
			if result != nil {
				result <- s
			}
		}
		if err := c.Answer(ctx); err != nil {
			report("answer: " + err.Error())
			return
		}
		if _, err := c.Play(ctx, []string{"sound:callscreen/intro"}, ""); err != nil {
			report("intro: " + err.Error())
			return
		}
		if _, err := c.Play(ctx, []string{"digits:472"}, ""); err != nil {
			report("digits: " + err.Error())
			return
		}
		got, err := c.ReadDigits(ctx, nil, 2*time.Second, 3)
		if err != nil {
			report("read: " + err.Error())
			return
		}
		res := "failed"
		if got == "472" {
			res = "passed"
		}
		if err := c.SetVariables(ctx, []ari.Var{{"CALLSCREEN_CHALLENGE", res}, {"TENANT", c.Tenant}, {"PROFILE", c.Profile}}); err != nil {
			report("set: " + err.Error())
			return
		}
		report(res)
	}
}

func TestAppChallenge(t *testing.T) {
	tests := []struct {
		name   string
		typist func(*aritest.Channel, ari.Playback, []string)
		want   string
	}{
		{"pass", aritest.Echo(0), "passed"},
		{"pass with #", aritest.Typist(0, func(h string) string { return h + "#" }), "passed"},
		{"wrong digits", aritest.Typist(0, func(string) string { return "999" }), "failed"},
		{"silence", nil, "failed"},
		{"# only", aritest.Typist(0, func(string) string { return "#" }), "failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, aritest.Config{SoundDuration: 20 * time.Millisecond, DigitDuration: 5 * time.Millisecond})
			result := make(chan string, 1)
			h := start(t, srv, challenge(result))
			ch := mustStart(t, srv, aritest.CallSpec{Args: []string{"profile=sales", "tenant=acme", "x"}, OnPlaybackFinished: tt.typist})
			if got := <-result; got != tt.want {
				t.Fatalf("handler: %s, want %s", got, tt.want)
			}
			waitDone(t, ch)
			v := ch.Vars()
			if v["CALLSCREEN_CHALLENGE"] != tt.want || v["TENANT"] != "acme" || v["PROFILE"] != "sales" {
				t.Errorf("vars %v", v)
			}
			if ch.ContinueRequests() != 1 || ch.Continued() != 1 || ch.Answers() != 1 {
				t.Errorf("continue requests %d, continued %d, answers %d", ch.ContinueRequests(), ch.Continued(), ch.Answers())
			}
			if pbs := ch.Playbacks(); len(pbs) != 2 || pbs[0][0] != "sound:callscreen/intro" || pbs[1][0] != "digits:472" {
				t.Errorf("playbacks %v", pbs)
			}
			if n := h.logs.count(slog.LevelWarn, ""); n != 0 {
				t.Errorf("%d warnings or errors:\n%s", n, h.logs.dump())
			}
		})
	}
}

func TestAppHangupMidPlayback(t *testing.T) {
	srv := newServer(t, aritest.Config{SoundDuration: time.Minute})
	result := make(chan string, 1)
	h := start(t, srv, ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
		_, err := c.Play(ctx, []string{"sound:callscreen/intro"}, "")
		if !errors.Is(err, ari.ErrHangup) {
			result <- fmt.Sprintf("play: %v", err)
			return
		}
		// The flow then writes its variables: they fail the same way.
		err = c.SetVariables(ctx, []ari.Var{{"CALLSCREEN_CHALLENGE", "abandoned"}})
		if !errors.Is(err, ari.ErrHangup) {
			result <- fmt.Sprintf("set: %v", err)
			return
		}
		_, _, err = c.Variable(ctx, "X")
		if !errors.Is(err, ari.ErrHangup) {
			result <- fmt.Sprintf("get: %v", err)
			return
		}
		result <- "abandoned"
	}))
	ch := mustStart(t, srv, aritest.CallSpec{
		OnPlaybackStarted: func(ch *aritest.Channel, _ ari.Playback, _ []string) { ch.Hangup() },
	})
	if got := <-result; got != "abandoned" {
		t.Fatal(got)
	}
	waitDone(t, ch)
	h.shutdown(t)
	if n := ch.ContinueRequests(); n != 0 {
		t.Errorf("%d continue requests for a gone channel", n)
	}
	if n := h.logs.count(slog.LevelWarn, ""); n != 0 {
		t.Errorf("%d warnings or errors for a hangup:\n%s", n, h.logs.dump())
	}
	if got := h.metric("callscreen_ari_calls_total", "tenant", "default-tenant", "outcome", "hangup"); got != 1 {
		t.Errorf("hangup outcome counted %v times", got)
	}
}

func TestAppSoftHangupRequests(t *testing.T) {
	tests := []struct {
		name  string
		event string
		gone  bool
	}{
		{"explicit", `{"type":"ChannelHangupRequest","soft":true,"cause":32,"channel":{"id":"%s"}}`, true},
		{"remote", `{"type":"ChannelHangupRequest","cause":16,"channel":{"id":"%s"}}`, true},
		{"no cause", `{"type":"ChannelHangupRequest","channel":{"id":"%s"}}`, true},
		{"async goto", `{"type":"ChannelHangupRequest","soft":true,"cause":2,"channel":{"id":"%s"}}`, false},
		{"unbridge", `{"type":"ChannelHangupRequest","soft":true,"cause":64,"channel":{"id":"%s"}}`, false},
		{"destroyed", `{"type":"ChannelDestroyed","cause":16,"cause_txt":"Normal Clearing","channel":{"id":"%s"}}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, aritest.Config{})
			result := make(chan error, 1)
			started := make(chan string, 1)
			start(t, srv, ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
				started <- c.ID()
				_, err := c.ReadDigits(ctx, nil, 300*time.Millisecond, 1)
				result <- err
			}))
			mustStart(t, srv, aritest.CallSpec{})
			srv.SendRaw(appName, []byte(fmt.Sprintf(tt.event, <-started)))
			err := <-result
			if gone := errors.Is(err, ari.ErrHangup); gone != tt.gone {
				t.Errorf("read digits: %v; want gone %v", err, tt.gone)
			}
		})
	}
}

func TestAppHangupAnswered404(t *testing.T) {
	// The hangup is only learnt from a REST answer: the events are lost.
	srv := newServer(t, aritest.Config{})
	result := make(chan error, 1)
	release := make(chan struct{})
	started := make(chan struct{})
	start(t, srv, ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
		close(started)
		<-release
		result <- c.Answer(ctx)
		if !c.Gone() {
			t.Error("call not marked gone after 404")
		}
	}))
	ch := mustStart(t, srv, aritest.CallSpec{})
	<-started
	srv.DropConnections()
	ch.Hangup()
	close(release)
	if err := <-result; !errors.Is(err, ari.ErrHangup) {
		t.Fatalf("answer: %v", err)
	}
}

func TestAppInterrupt(t *testing.T) {
	t.Run("sound playback stops on a key", func(t *testing.T) {
		srv := newServer(t, aritest.Config{SoundDuration: time.Minute})
		result := make(chan string, 1)
		start(t, srv, ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
			key, err := c.Play(ctx, []string{"sound:long"}, "5")
			rest, err2 := c.ReadDigits(ctx, nil, 200*time.Millisecond, 5)
			result <- fmt.Sprintf("%s %v %s %v", key, err, rest, err2)
		}))
		mustStart(t, srv, aritest.CallSpec{
			// 1 is not an interrupt key: it stays buffered.
			OnPlaybackStarted: func(ch *aritest.Channel, _ ari.Playback, _ []string) { ch.SendDTMF("15") },
		})
		if got := <-result; got != "5 <nil> 1 <nil>" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("digits playback cannot be stopped: keys are buffered", func(t *testing.T) {
		srv := newServer(t, aritest.Config{DigitDuration: 30 * time.Millisecond})
		result := make(chan string, 1)
		start(t, srv, ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
			key, err := c.Play(ctx, []string{"digits:123456"}, ari.AnyKey)
			rest, err2 := c.ReadDigits(ctx, nil, 500*time.Millisecond, 2)
			result <- fmt.Sprintf("%s %v %s %v", key, err, rest, err2)
		}))
		ch := mustStart(t, srv, aritest.CallSpec{
			OnPlaybackStarted: func(ch *aritest.Channel, _ ari.Playback, _ []string) { ch.SendDTMF("987") },
		})
		if got := <-result; got != "9 <nil> 87 <nil>" {
			t.Fatalf("got %q", got)
		}
		waitDone(t, ch)
		var stops int
		for _, r := range srv.Requests() {
			if r.Method == http.MethodDelete && strings.HasPrefix(r.Path, "/playbacks/") {
				stops++
				if r.Status != http.StatusInternalServerError {
					t.Errorf("stop answered %d", r.Status)
				}
			}
		}
		if stops != 1 {
			t.Errorf("%d stop requests, want 1", stops)
		}
	})
	t.Run("read digits prompt is interrupted by the first key", func(t *testing.T) {
		srv := newServer(t, aritest.Config{SoundDuration: time.Minute})
		result := make(chan string, 1)
		start(t, srv, ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
			got, err := c.ReadDigits(ctx, []string{"sound:enter-code"}, 500*time.Millisecond, 3)
			result <- fmt.Sprintf("%s %v", got, err)
		}))
		mustStart(t, srv, aritest.CallSpec{
			OnPlaybackStarted: func(ch *aritest.Channel, _ ari.Playback, _ []string) { ch.SendDTMF("42#7") },
		})
		if got := <-result; got != "42 <nil>" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("keys typed before the prompt come before the key that stops it", func(t *testing.T) {
		// A caller typing along: 7 while the digits are said (buffered),
		// 2 during the beep (it stops it), then 5.
		srv := newServer(t, aritest.Config{SoundDuration: time.Minute})
		result := make(chan string, 1)
		start(t, srv, ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
			key, err := c.Play(ctx, []string{"sound:digits"}, "9")
			got, err2 := c.ReadDigits(ctx, []string{"sound:beep"}, 5*time.Second, 3)
			result <- fmt.Sprintf("%s %v %s %v", key, err, got, err2)
		}))
		mustStart(t, srv, aritest.CallSpec{
			OnPlaybackStarted: func(ch *aritest.Channel, _ ari.Playback, media []string) {
				switch media[0] {
				case "sound:digits":
					ch.SendDTMF("79")
				case "sound:beep":
					ch.SendDTMF("25")
				}
			},
		})
		if got := <-result; got != "9 <nil> 725 <nil>" {
			t.Fatalf("got %q", got)
		}
	})
}

func TestAppSetVariablesStopsPlayback(t *testing.T) {
	// Asterisk would hold the set-variable behind a minute-long playback.
	srv := newServer(t, aritest.Config{SoundDuration: time.Minute})
	result := make(chan string, 1)
	start(t, srv, ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
		pctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		_, err := c.Play(pctx, []string{"sound:long"}, "")
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			result <- fmt.Sprintf("play: %v", err)
			return
		}
		result <- fmt.Sprint(c.SetVariables(ctx, []ari.Var{{"CALLSCREEN_RESULT", "allow"}}))
	}), func(a *ari.App) {
		a.Client = newClient(t, srv, func(c *ari.ClientConfig) { c.Timeout = time.Second })
	})
	ch := mustStart(t, srv, aritest.CallSpec{})
	if got := <-result; got != "<nil>" {
		t.Fatalf("set variables: %s", got)
	}
	waitDone(t, ch)
	if v, _ := ch.Var("CALLSCREEN_RESULT"); v != "allow" || ch.Continued() != 1 {
		t.Errorf("result %q, continued %d", v, ch.Continued())
	}
}

func TestAppContinueStopsLeftoverPlayback(t *testing.T) {
	// A handler that returns with a playback running: continue would only
	// act after it, so the App stops it first.
	srv := newServer(t, aritest.Config{SoundDuration: time.Minute})
	start(t, srv, ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
		pctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		c.Play(pctx, []string{"sound:long"}, "")
	}))
	ch := mustStart(t, srv, aritest.CallSpec{})
	waitDone(t, ch)
	if ch.Continued() != 1 {
		t.Errorf("continued %d", ch.Continued())
	}
}

func TestAppVariableErrors(t *testing.T) {
	srv := newServer(t, aritest.Config{})
	srv.Fail(func(r *http.Request, path string) (int, string) {
		if r.Method == http.MethodGet && strings.HasSuffix(path, "/variable") && r.URL.Query().Get("variable") == "BROKEN" {
			return http.StatusInternalServerError, "Internal Server Error"
		}
		return 0, ""
	})
	type res struct {
		v   string
		ok  bool
		err error
	}
	results := make(chan map[string]res, 1)
	start(t, srv, ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
		out := map[string]res{}
		for _, name := range []string{"CALLERID(num-pres)", "STIR_SHAKEN(count)", "CALLSCREEN_ID", "BROKEN", "SET"} {
			v, ok, err := c.Variable(ctx, name)
			out[name] = res{v, ok, err}
		}
		results <- out
	}))
	ch := mustStart(t, srv, aritest.CallSpec{Presentation: "prohib", Vars: map[string]string{"SET": "x"}})
	got := <-results
	check := func(name string, v string, ok, wantErr bool) {
		t.Helper()
		r := got[name]
		if r.v != v || r.ok != ok || (r.err != nil) != wantErr {
			t.Errorf("%s = %q, %v, %v", name, r.v, r.ok, r.err)
		}
	}
	check("CALLERID(num-pres)", "prohib", true, false)
	check("STIR_SHAKEN(count)", "", false, false) // 500 on a function: not ok
	check("CALLSCREEN_ID", "", false, false)      // 404: unset
	check("BROKEN", "", false, true)              // 500 on a plain variable: an error
	check("SET", "x", true, false)
	if r := got["BROKEN"]; r.err != nil && (errors.Is(r.err, ari.ErrHangup) || !strings.Contains(r.err.Error(), "500")) {
		t.Errorf("BROKEN error %v", r.err)
	}
	waitDone(t, ch)
	if ch.ContinueRequests() != 1 {
		t.Errorf("continue requests %d", ch.ContinueRequests())
	}
}

func TestAppEventLoopNeverBlocks(t *testing.T) {
	srv := newServer(t, aritest.Config{SoundDuration: 10 * time.Millisecond, DigitDuration: time.Millisecond})
	release := make(chan struct{})
	result := make(chan string, 1)
	start(t, srv, ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
		if c.Params["role"] == "stuck" {
			<-release // a handler stuck in a slow lookup
			return
		}
		challenge(result)(ctx, c)
	}))
	stuck := mustStart(t, srv, aritest.CallSpec{Args: []string{"role=stuck"}})
	// Junk, unknown events and events for unknown channels are ignored.
	srv.SendRaw(appName, []byte(`not json`))
	srv.SendRaw(appName, []byte(`{"type":"ChannelTalkingStarted","channel":{"id":"x"}}`))
	srv.SendRaw(appName, []byte(`{"type":"ChannelDtmfReceived","digit":"1","channel":{"id":"nobody"}}`))
	stuck.SendDTMF("123")
	ch := mustStart(t, srv, aritest.CallSpec{OnPlaybackFinished: aritest.Echo(0)})
	if got := <-result; got != "passed" {
		t.Fatalf("second call: %s", got)
	}
	waitDone(t, ch)
	close(release)
	waitDone(t, stuck)
}

// testScope stands for the screening's rules (bridge.ARIScope): tenant=
// and profile= or the defaults, and tenant=initech ignored.
type testScope struct{}

func (testScope) Scope(params map[string]string) (tenant, profile string, ignored []any) {
	tenant, profile = "default-tenant", "default"
	switch t := params["tenant"]; t {
	case "":
	case "initech":
		ignored = append(ignored, "unlisted_tenant", t)
	default:
		tenant = t
	}
	if p := params["profile"]; p != "" {
		profile = p
	}
	return tenant, profile, ignored
}

// TestAppScope: the App asks its Scope once per call, hands the handler
// the tenant and profile, labels its metrics with the tenant and warns of
// the arguments the Scope ignored.
func TestAppScope(t *testing.T) {
	srv := newServer(t, aritest.Config{})
	var mu sync.Mutex
	seen := map[string]string{}
	h := start(t, srv, ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
		mu.Lock()
		seen[c.Channel.Caller.Number] = c.Tenant + "/" + c.Profile
		mu.Unlock()
	}))
	tests := []struct {
		caller string
		args   []string
		want   string
	}{
		{"1", []string{"tenant=acme", "profile=sales"}, "acme/sales"},
		{"2", []string{"TENANT=globex"}, "globex/default"}, // keys are lower-cased
		{"3", nil, "default-tenant/default"},
		{"4", []string{"tenant=initech"}, "default-tenant/default"},
	}
	var chans []*aritest.Channel
	for _, tt := range tests {
		chans = append(chans, mustStart(t, srv, aritest.CallSpec{CallerNumber: tt.caller, Args: tt.args}))
	}
	for _, ch := range chans {
		waitDone(t, ch)
	}
	for _, tt := range tests {
		if got := seen[tt.caller]; got != tt.want {
			t.Errorf("args %v: %s, want %s", tt.args, got, tt.want)
		}
	}
	if n := h.logs.count(slog.LevelWarn, "Stasis argument ignored"); n != 1 {
		t.Errorf("%d warnings about arguments, want 1", n)
	}
	timingtest.WaitFor(t, "the continued call to be counted", func() bool {
		return h.metric("callscreen_ari_calls_total", "tenant", "acme", "outcome", "continued") == 1
	})
}

func TestAppReconnectMidCall(t *testing.T) {
	srv := newServer(t, aritest.Config{SoundDuration: 50 * time.Millisecond, DigitDuration: 10 * time.Millisecond})
	result := make(chan string, 1)
	inRead := make(chan struct{})
	var once sync.Once
	h := start(t, srv, ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
		if _, err := c.Play(ctx, []string{"sound:callscreen/intro"}, ""); err != nil {
			result <- "intro: " + err.Error()
			return
		}
		once.Do(func() { close(inRead) })
		got, err := c.ReadDigits(ctx, nil, 5*time.Second, 3)
		if err != nil {
			result <- "read: " + err.Error()
			return
		}
		if err := c.SetVariables(ctx, []ari.Var{{"GOT", got}}); err != nil {
			result <- "set: " + err.Error()
			return
		}
		result <- got
	}), func(a *ari.App) {
		// Reconnecting takes longer than the intro plays.
		a.MinBackoff, a.MaxBackoff = 400*time.Millisecond, 400*time.Millisecond
	})
	ch := mustStart(t, srv, aritest.CallSpec{
		// The connection drops while the intro plays: its
		// PlaybackFinished is lost.
		OnPlaybackStarted: func(*aritest.Channel, ari.Playback, []string) { srv.DropConnections() },
	})
	select {
	case <-inRead:
	case got := <-result:
		t.Fatal(got)
	case <-time.After(10 * time.Second):
		t.Fatal("the lost PlaybackFinished was never recovered")
	}
	waitCtx(t, func(ctx context.Context) error { return srv.WaitConnected(ctx, appName) })
	ch.SendDTMF("472")
	if got := <-result; got != "472" {
		t.Fatal(got)
	}
	waitDone(t, ch)
	if srv.DroppedEvents() == 0 {
		t.Error("no event was lost: the test did not test the loss")
	}
	// Resolved exactly once, by its handler; not again as a leftover.
	h.waitRecovered(t)
	if n := ch.ContinueRequests(); n != 1 {
		t.Errorf("%d continue requests, want 1", n)
	}
	if got := h.metric("callscreen_ari_calls_total", "tenant", "default-tenant", "outcome", "recovered"); got != 0 {
		t.Errorf("recovered %v", got)
	}
	if got := h.metric("callscreen_ari_reconnects_total", "server", h.app.Client.Server()); got < 1 {
		t.Errorf("reconnects %v", got)
	}
}

func TestAppHangupWhileDisconnected(t *testing.T) {
	srv := newServer(t, aritest.Config{})
	result := make(chan error, 1)
	reading := make(chan struct{})
	start(t, srv, ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
		close(reading)
		_, err := c.ReadDigits(ctx, nil, time.Minute, 3)
		result <- err
	}), func(a *ari.App) { a.MinBackoff, a.MaxBackoff = 100*time.Millisecond, 200*time.Millisecond })
	ch := mustStart(t, srv, aritest.CallSpec{})
	<-reading
	srv.DropConnections()
	ch.Hangup() // ChannelHangupRequest and StasisEnd are lost
	if err := <-result; !errors.Is(err, ari.ErrHangup) {
		t.Fatalf("read digits: %v", err)
	}
}

func TestAppLeftoverChannels(t *testing.T) {
	srv := newServer(t, aritest.Config{})
	// Channels sitting in the application before we connect: their
	// StasisStart went to a connection (or a process) now gone.
	left := srv.AddChannel(appName, aritest.CallSpec{})
	other := srv.AddChannel("another-app", aritest.CallSpec{})
	calls := make(chan string, 10)
	h := start(t, srv, ari.HandlerFunc(func(ctx context.Context, c *ari.Call) { calls <- c.ID() }))
	waitDone(t, left)
	v := left.Vars()
	if v["CALLSCREEN_RESULT"] != "allow" || v["CALLSCREEN_CHALLENGE"] != "none" {
		t.Errorf("leftover vars %v", v)
	}
	// Reconnect twice more: handed back once only, and never screened.
	for range 2 {
		before := srv.Dials()
		srv.DropConnections()
		timingtest.WaitFor(t, "a new connection", func() bool { return srv.Dials() > before && srv.Connected(appName) })
		h.waitRecovered(t)
	}
	if n := left.ContinueRequests(); n != 1 {
		t.Errorf("leftover continued %d times, want 1", n)
	}
	if other.ContinueRequests() != 0 {
		t.Error("a channel of another application was continued")
	}
	select {
	case id := <-calls:
		t.Errorf("leftover %s was screened", id)
	default:
	}
	if got := h.metric("callscreen_ari_calls_total", "tenant", "default-tenant", "outcome", "recovered"); got != 1 {
		t.Errorf("recovered %v", got)
	}
}

func TestAppInFlightNotALeftover(t *testing.T) {
	srv := newServer(t, aritest.Config{})
	release := make(chan struct{})
	started := make(chan struct{})
	h := start(t, srv, ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
		close(started)
		<-release
		c.SetVariables(ctx, []ari.Var{{"BY", "handler"}})
	}))
	ch := mustStart(t, srv, aritest.CallSpec{})
	<-started
	before := srv.Dials()
	srv.DropConnections()
	timingtest.WaitFor(t, "a new connection", func() bool { return srv.Dials() > before && srv.Connected(appName) })
	h.waitRecovered(t)
	if n := ch.ContinueRequests(); n != 0 {
		t.Fatalf("in-flight call continued %d times by the reconnect", n)
	}
	close(release)
	waitDone(t, ch)
	if v, _ := ch.Var("BY"); v != "handler" || ch.ContinueRequests() != 1 {
		t.Errorf("BY=%q, continue requests %d", v, ch.ContinueRequests())
	}
	if _, ok := ch.Var("CALLSCREEN_RESULT"); ok {
		t.Error("recovery variables set on an in-flight call")
	}
}

// TestAppCallEndingDuringRecovery: a call in flight when the connection
// drops is listed by the recovery after the reconnect, then ends (handed
// back by its handler, StasisEnd) while the recovery waits out its delay.
// The recovery's listing is stale by then: the channel is no longer in
// the application and must not be handed back a second time (with the
// recovery variables, over the call's own).
func TestAppCallEndingDuringRecovery(t *testing.T) {
	srv := newServer(t, aritest.Config{})
	release := make(chan struct{})
	started := make(chan struct{})
	// A delay long enough for the call to end inside it on any machine
	// (if it does not, the call is still in flight at the hand-back, and
	// the test shows nothing, wrongly or rightly).
	h := start(t, srv, ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
		close(started)
		<-release
		c.SetVariables(ctx, []ari.Var{{"CALLSCREEN_RESULT", "block"}})
	}), func(a *ari.App) { a.RecoverDelay = 3 * time.Second })
	ch := mustStart(t, srv, aritest.CallSpec{})
	<-started
	listings := func() int {
		n := 0
		for _, r := range srv.Requests() {
			if r.Method == http.MethodGet && r.Path == "/channels" {
				n++
			}
		}
		return n
	}
	listed, dials := listings(), srv.Dials()
	srv.DropConnections()
	timingtest.WaitFor(t, "the recovery to list the channels after the reconnect", func() bool {
		return srv.Dials() > dials && listings() > listed
	})
	close(release)
	waitDone(t, ch)
	h.waitRecovered(t)
	if n := ch.ContinueRequests(); n != 1 {
		t.Errorf("continued %d times, want once (by its handler)", n)
	}
	if v, _ := ch.Var("CALLSCREEN_RESULT"); v != "block" {
		t.Errorf("CALLSCREEN_RESULT=%q after the recovery; want the handler's block", v)
	}
	if n := h.logs.count(slog.LevelWarn, "handing back channels left in the application"); n != 0 {
		t.Errorf("a call that ended was handed back as left in the application:\n%s", h.logs.dump())
	}
}

func TestAppLoginRefused(t *testing.T) {
	srv := newServer(t, aritest.Config{})
	srv.SetPassword("rotated")
	began := time.Now()
	h := start(t, srv, ari.HandlerFunc(func(context.Context, *ari.Call) {}), nil)
	timingtest.WaitFor(t, "4 dials", func() bool { return srv.Dials() >= 4 })
	// Three waits of at least AuthRetry/2 each: not a tight loop.
	if elapsed := time.Since(began); elapsed < 150*time.Millisecond {
		t.Errorf("4 attempts in %s: retrying too fast", elapsed)
	}
	if n := h.logs.count(slog.LevelError, "login refused"); n != 1 {
		t.Errorf("login refusal logged %d times, want once:\n%s", n, h.logs.dump())
	}
	srv.SetPassword(testPass)
	waitCtx(t, func(ctx context.Context) error { return srv.WaitConnected(ctx, appName) })
	if strings.Contains(h.logs.dump(), testPass) || strings.Contains(h.logs.dump(), "rotated") {
		t.Error("a password was logged")
	}
}

func TestAppBackoff(t *testing.T) {
	srv := newServer(t, aritest.Config{})
	srv.Refuse(http.StatusServiceUnavailable)
	h := start(t, srv, ari.HandlerFunc(func(context.Context, *ari.Call) {}), nil)
	timingtest.WaitFor(t, "5 dials", func() bool { return srv.Dials() >= 5 })
	if n := h.logs.count(slog.LevelWarn, "cannot connect"); n != 1 {
		t.Errorf("connect failure warned %d times, want once", n)
	}
	// While disconnected, Stasis() fails and the dialplan goes on.
	if _, err := srv.StartCall(appName, aritest.CallSpec{}); !errors.Is(err, aritest.ErrNotConnected) {
		t.Errorf("StartCall while disconnected: %v", err)
	}
	if got := h.metric("callscreen_ari_websocket_up", "server", h.app.Client.Server()); got != 0 {
		t.Errorf("websocket_up %v while refused", got)
	}
	srv.Refuse(0)
	timingtest.WaitFor(t, "the websocket_up gauge", func() bool { return h.metric("callscreen_ari_websocket_up", "server", h.app.Client.Server()) == 1 })
}

func TestAppReplaced(t *testing.T) {
	srv := newServer(t, aritest.Config{})
	h := start(t, srv, ari.HandlerFunc(func(context.Context, *ari.Call) {}), func(a *ari.App) { a.AuthRetry = time.Hour })
	// A second connection registers the same name.
	hdr := http.Header{}
	req := http.Request{Header: hdr}
	req.SetBasicAuth(testUser, testPass)
	dctx, dcancel := context.WithTimeout(context.Background(), time.Minute)
	defer dcancel()
	ws, _, err := websocket.Dial(dctx, srv.URL+"/ari/events?app="+appName, &websocket.DialOptions{HTTPHeader: hdr, Subprotocols: []string{"ari"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	timingtest.WaitFor(t, "the replaced-application error", func() bool { return h.logs.count(slog.LevelError, "another connection registered") == 1 })
	// It waits AuthRetry (an hour here, jittered to at least half) before
	// trying again, instead of fighting back at once.
	if d, ok := h.logs.attr("another connection registered", "retry_in").(time.Duration); !ok || d < 30*time.Minute {
		t.Errorf("retry_in %v: the App would fight back for its name", d)
	}

}

func TestAppOverload(t *testing.T) {
	srv := newServer(t, aritest.Config{})
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	start(t, srv, ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
		started <- struct{}{}
		<-release
	}), func(a *ari.App) { a.MaxCalls = 1 })
	first := mustStart(t, srv, aritest.CallSpec{})
	<-started
	second := mustStart(t, srv, aritest.CallSpec{})
	waitDone(t, second)
	if v, _ := second.Var("CALLSCREEN_RESULT"); v != "allow" {
		t.Errorf("overload call result %q", v)
	}
	select {
	case <-started:
		t.Error("the call over MaxCalls was screened")
	default:
	}
	close(release)
	waitDone(t, first)
}

func TestAppHandlerFailures(t *testing.T) {
	t.Run("panic", func(t *testing.T) {
		srv := newServer(t, aritest.Config{})
		h := start(t, srv, ari.HandlerFunc(func(context.Context, *ari.Call) { panic("boom") }))
		ch := mustStart(t, srv, aritest.CallSpec{})
		waitDone(t, ch)
		if ch.Continued() != 1 || h.logs.count(slog.LevelError, "handler panic") != 1 {
			t.Errorf("continued %d, logs:\n%s", ch.Continued(), h.logs.dump())
		}
	})
	t.Run("overrun", func(t *testing.T) {
		srv := newServer(t, aritest.Config{})
		release := make(chan struct{})
		h := start(t, srv, ari.HandlerFunc(func(context.Context, *ari.Call) { <-release }), func(a *ari.App) { a.CallTimeout = 30 * time.Millisecond })
		ch := mustStart(t, srv, aritest.CallSpec{})
		waitDone(t, ch)
		close(release)
		if ch.Continued() != 1 || h.logs.count(slog.LevelError, "overran") != 1 {
			t.Errorf("continued %d, logs:\n%s", ch.Continued(), h.logs.dump())
		}
		// The channel goes back with the fail-open variables the handler
		// never wrote.
		if v, _ := ch.Var("CALLSCREEN_RESULT"); v != "allow" {
			t.Errorf("CALLSCREEN_RESULT %q after an overrun; want allow", v)
		}
		h.shutdown(t)
		if ch.ContinueRequests() != 1 {
			t.Errorf("continue requests %d", ch.ContinueRequests())
		}
	})
	t.Run("hangup by the handler", func(t *testing.T) {
		srv := newServer(t, aritest.Config{})
		result := make(chan error, 1)
		start(t, srv, ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
			result <- c.Hangup(ctx)
		}))
		ch := mustStart(t, srv, aritest.CallSpec{})
		if err := <-result; err != nil {
			t.Fatal(err)
		}
		waitDone(t, ch)
		if ch.HangupReason() != "normal" || ch.ContinueRequests() != 0 {
			t.Errorf("reason %q, continue requests %d", ch.HangupReason(), ch.ContinueRequests())
		}
	})
}

func TestAppShutdown(t *testing.T) {
	before := runtime.NumGoroutine()
	srv := newServer(t, aritest.Config{})
	reading := make(chan struct{}, 10)
	h := start(t, srv, ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
		reading <- struct{}{}
		_, err := c.ReadDigits(ctx, nil, time.Hour, 3)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("read digits: %v", err)
		}
	}))
	var chans []*aritest.Channel
	for range 5 {
		chans = append(chans, mustStart(t, srv, aritest.CallSpec{}))
		<-reading
	}
	h.shutdown(t)
	for _, ch := range chans {
		// Run returns once every continue was accepted; Asterisk (and
		// the fake) carries a continue out asynchronously, on the
		// channel's own queue: wait for the channel to leave Stasis.
		if ch.ContinueRequests() != 1 {
			t.Errorf("%s: %d continue requests before Run returned; want 1", ch.ID(), ch.ContinueRequests())
		}
		waitDone(t, ch)
		if ch.Continued() != 1 {
			t.Errorf("%s: continued %d on shutdown", ch.ID(), ch.Continued())
		}
	}
	// Run closed the event connection; the server notices on its own.
	waitCtx(t, func(ctx context.Context) error { return srv.WaitDisconnected(ctx, appName) })
	if _, err := srv.StartCall(appName, aritest.CallSpec{}); !errors.Is(err, aritest.ErrNotConnected) {
		t.Errorf("application still registered after Run returned: %v", err)
	}
	srv.Close()
	timingtest.WaitFor(t, "the goroutines to end", func() bool { return runtime.NumGoroutine() <= before+2 })
}

func TestAppRunRejects(t *testing.T) {
	srv := newServer(t, aritest.Config{})
	c := newClient(t, srv)
	h := ari.HandlerFunc(func(context.Context, *ari.Call) {})
	tests := []struct {
		name string
		app  *ari.App
		want string
	}{
		{"no client", &ari.App{Name: "x", Handler: h}, "no client"},
		{"no handler", &ari.App{Client: c, Name: "x"}, "no handler"},
		{"no name", &ari.App{Client: c, Handler: h}, "application name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.app.Run(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
