package e2e

import (
	"context"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/callscreen/callscreen/agi/agitest"
	"github.com/callscreen/callscreen/ari/aritest"
	"github.com/callscreen/callscreen/internal/redistest"
)

// waitMetric waits until series reads want on p's /metrics.
func waitMetric(t *testing.T, p *process, series, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := p.metric(t, series)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %q after %s; want %q", series, got, timeout, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// exited waits for p to exit after a signal, for at most limit (a bound
// that catches a hang, not a measure); it fails the test unless the exit
// status is 0.
func exited(t *testing.T, p *process, limit time.Duration) {
	t.Helper()
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("serve exited with %v\n%s", err, strings.Join(p.logs.all(), "\n"))
		}
	case <-time.After(limit):
		_ = p.cmd.Process.Kill()
		t.Fatalf("serve still running %s after the signal\n%s", limit, strings.Join(p.logs.all(), "\n"))
	}
}

// TestStartLine: serve says in one line at start what it listens on, which
// sources and which Redis it uses, and the mode.
func TestStartLine(t *testing.T) {
	r := redistest.Start(t)
	p := startServe(t, baseConfig+"mode: monitor\nredis:\n  addrs: ["+r.Addr()+"]\n", baseFiles)
	rs := p.logs.records("callscreen serving")
	if len(rs) != 1 {
		t.Fatalf("%d start lines", len(rs))
	}
	want := map[string]string{
		"agi": p.agi, "admin": p.admin, "mode": "monitor",
		"sources": "emergency,feedback,lists,feed,behavior",
		"redis":   "single " + r.Addr(),
	}
	for k, v := range want {
		if rs[0][k] != v {
			t.Errorf("start line %s = %v; want %q (line %v)", k, rs[0][k], v, rs[0])
		}
	}
	if !strings.HasPrefix(p.agi, "127.0.0.1:") || !strings.HasPrefix(p.admin, "127.0.0.1:") {
		t.Errorf("listening on %q and %q", p.agi, p.admin)
	}
}

// TestDrainOnSIGTERM: SIGTERM during 50 challenges in progress lets every
// one finish (passed, with its routing variables), refuses new calls, and
// serve exits 0 within shutdown_timeout.
func TestDrainOnSIGTERM(t *testing.T) {
	const (
		sessions = 50
		timeout  = 20 * time.Second
	)
	p := startServe(t, baseConfig+fmt.Sprintf("shutdown_timeout: %s\n", timeout), baseFiles)
	type result struct {
		tr  *agitest.Transcript
		err error
	}
	results := make(chan result, sessions)
	for i := range sessions {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			// Each prompt takes 2s to play: a challenge lasts about 8s,
			// time enough for all 50 to be in it at once on a busy machine.
			tr, err := agitest.Dial(ctx, p.agi, agitest.Call{
				CallerID: fmt.Sprintf("+1212555%04d", 2000+i), CallingPres: 35,
				Latency: 2 * time.Second, Caller: agitest.Caller{Auto: true},
			})
			results <- result{tr, err}
		}()
	}
	// All 50 in the flow, in their challenge.
	waitMetric(t, p, "callscreen_screen_sessions_in_flight", fmt.Sprint(sessions), 30*time.Second)
	p.signal(t, syscall.SIGTERM)
	p.logs.waitFor(t, "callscreen draining", 20*time.Second)

	// A call arriving now is refused: the dialplan sees FAILURE and rings.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	late, err := agitest.Dial(ctx, p.agi, agitest.Call{CallerID: "+12125550666"})
	cancel()
	if err == nil || late.Status != "FAILURE" {
		t.Errorf("a call during the drain: status %q, err %v; want FAILURE", late.Status, err)
	}

	for range sessions {
		r := <-results
		if r.err != nil || r.tr == nil {
			t.Errorf("call: %v", r.err)
			continue
		}
		v := r.tr.Vars
		if v["CALLSCREEN_CHALLENGE"] != "passed" || v["CALLSCREEN_RESULT"] != "allow" || v["CALLSCREEN_ACTION"] != "challenge" ||
			len(v["CALLSCREEN_ID"]) < 10 || r.tr.Status != "SUCCESS" {
			t.Errorf("call cut by the drain: status %s vars %v", r.tr.Status, v)
		}
	}
	// Bounded to catch a hang, not timed: that the drain ended before
	// shutdown_timeout is what the absence of a cut-off says.
	exited(t, p, timeout+10*time.Second)
	if rs := p.logs.records("calls still running at shutdown_timeout were cut off"); len(rs) > 0 {
		t.Errorf("calls cut off: %v", rs)
	}
	p.logs.waitFor(t, "callscreen stopped", time.Second)
	if errs := p.logs.errors(); len(errs) > 0 {
		t.Fatalf("errors logged:\n%s", strings.Join(errs, "\n"))
	}
}

// TestDrainDeadline: a call still running at shutdown_timeout is closed,
// and serve exits 0 right after the deadline, saying so.
func TestDrainDeadline(t *testing.T) {
	const timeout = time.Second
	p := startServe(t, baseConfig+fmt.Sprintf("shutdown_timeout: %s\n", timeout), baseFiles)
	done := make(chan *agitest.Transcript, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		// Every prompt plays for 30s: far longer than the deadline.
		tr, _ := agitest.Dial(ctx, p.agi, agitest.Call{CallerID: "anonymous", Latency: 30 * time.Second, Caller: agitest.Caller{Auto: true}})
		done <- tr
	}()
	waitMetric(t, p, "callscreen_screen_sessions_in_flight", "1", 10*time.Second)
	sent := time.Now()
	p.signal(t, syscall.SIGTERM)
	select {
	case tr := <-done:
		if tr == nil {
			t.Fatal("no transcript")
		}
		if tr.Vars["CALLSCREEN_CHALLENGE"] == "passed" {
			t.Fatalf("the call was not cut: %v", tr.Vars)
		}
		if took := time.Since(sent); took < timeout {
			t.Fatalf("the call was closed %s after SIGTERM, before shutdown_timeout %s", took, timeout)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the call was still open 20s after SIGTERM")
	}
	// Bounded, not measured: the deadline plus the time to close the log.
	exited(t, p, timeout+10*time.Second)
	p.logs.waitFor(t, "calls still running at shutdown_timeout were cut off", time.Second)
	p.logs.waitFor(t, "callscreen stopped", time.Second)
}

// TestARIDrainOnSIGTERM: a Stasis call in its challenge when SIGTERM
// arrives finishes (passed), a call arriving during the drain goes back to
// the dialplan at once, unscreened and allowed, and serve exits 0.
func TestARIDrainOnSIGTERM(t *testing.T) {
	fake := aritest.NewServer(aritest.Config{Username: "callscreen", Password: "s3cret"})
	defer fake.Close()
	p := startServe(t, baseConfig+fmt.Sprintf(`
shutdown_timeout: 20s
ari:
  servers:
    - url: %s
      username: callscreen
      password: s3cret
`, fake.URL), baseFiles)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := fake.WaitConnected(ctx, "callscreen"); err != nil {
		t.Fatalf("serve never connected to ARI: %v", err)
	}
	// The caller types the digits 3s after hearing them.
	first, err := fake.StartCall("callscreen", aritest.CallSpec{CallerNumber: "+12125551234", Presentation: "prohib", OnPlaybackFinished: aritest.Echo(3 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	for len(first.Playbacks()) == 0 {
		if ctx.Err() != nil {
			t.Fatal("the challenge never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.signal(t, syscall.SIGTERM)
	p.logs.waitFor(t, "callscreen draining", 20*time.Second)

	late, err := fake.StartCall("callscreen", aritest.CallSpec{CallerNumber: "+12125550666"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		ch   *aritest.Channel
		want map[string]string
	}{
		{"in flight", first, map[string]string{"CALLSCREEN_RESULT": "allow", "CALLSCREEN_CHALLENGE": "passed", "CALLSCREEN_ACTION": "challenge"}},
		{"during the drain", late, map[string]string{"CALLSCREEN_RESULT": "allow", "CALLSCREEN_ACTION": "allow", "CALLSCREEN_CHALLENGE": "none"}},
	} {
		select {
		case <-c.ch.Done():
		case <-ctx.Done():
			t.Fatalf("%s: call not finished", c.name)
		}
		for k, want := range c.want {
			if got, _ := c.ch.Var(k); got != want {
				t.Errorf("%s: %s = %q; want %q (all: %v)", c.name, k, got, want, c.ch.Vars())
			}
		}
		if c.ch.Continued() != 1 {
			t.Errorf("%s: continued %d times", c.name, c.ch.Continued())
		}
	}
	if id, _ := late.Var("CALLSCREEN_ID"); id != "" {
		t.Errorf("the call during the drain was screened: CALLSCREEN_ID %q", id)
	}
	exited(t, p, 30*time.Second)
	if rs := p.logs.records("calls still running at shutdown_timeout were cut off"); len(rs) > 0 {
		t.Errorf("calls cut off: %v", rs)
	}
	if errs := p.logs.errors(); len(errs) > 0 {
		t.Fatalf("errors logged:\n%s", strings.Join(errs, "\n"))
	}
}

// TestListsFollowStoreWithoutWatch: with lists.watch off, an instance
// still applies the list entries another instance adds to the shared
// Redis store.
func TestListsFollowStoreWithoutWatch(t *testing.T) {
	r := redistest.Start(t)
	cfg := baseConfig + "redis:\n  addrs: [" + r.Addr() + "]\n"
	a := startServe(t, cfg, baseFiles, callPathSeconds...)
	b := startServe(t, strings.Replace(cfg, "lists:\n", "lists:\n  watch: false\n", 1), baseFiles, callPathSeconds...)
	const caller = "+13125550188"
	if tr := call(t, b, agitest.Call{CallerID: caller}); tr.Vars["CALLSCREEN_RESULT"] != "allow" {
		t.Fatalf("before: %v", tr.Vars)
	}
	resp, err := testClient.Post("http://"+a.admin+"/api/v1/lists/block", "application/json", strings.NewReader(`{"value":"`+caller+`","added_by":"ops"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("add on the first instance: %d %s", resp.StatusCode, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		tr := call(t, b, agitest.Call{CallerID: caller})
		if tr.Vars["CALLSCREEN_RESULT"] == "block" && tr.Vars["CALLSCREEN_REASONS"] == "list.block" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second instance never saw the entry: %v\n%s", tr.Vars, strings.Join(b.logs.all(), "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
