package bridge

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callscreen/callscreen/agi"
	"github.com/callscreen/callscreen/agi/agitest"
	"github.com/callscreen/callscreen/agi/loadtest"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/screen"
)

// recorded keeps every Result a flow records.
type recorded struct {
	mu  sync.Mutex
	res []*decision.Result
}

func (r *recorded) Record(res *decision.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res = append(r.res, res)
}

func (r *recorded) last(t *testing.T) *decision.Result {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.res) == 0 {
		t.Fatal("no decision recorded")
	}
	return r.res[len(r.res)-1]
}

func (r *recorded) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.res)
}

// listFlow screens with a must-pass number, a must-block number and a
// must-block name pattern, under an enforcing "support" profile and a
// monitoring "pilot" one.
func listFlow(rec decision.Recorder, mod func(p *policy.Profile)) *screen.Flow {
	support, pilot := policy.Default(), policy.Default()
	support.Name, pilot.Name, pilot.Mode = "support", "pilot", policy.ModeMonitor
	if mod != nil {
		mod(&support)
	}
	return seen(&screen.Flow{
		Source: reputation.SourceFunc(func(_ context.Context, q reputation.Query) (reputation.Verdict, error) {
			var v reputation.Verdict
			switch {
			case q.Caller.E164 == "+12125550777":
				v.Reasons, v.Final = []policy.Reason{policy.ListAllow}, true
			case q.Caller.E164 == "+12125550666":
				v.Tier, v.Reasons, v.Final = policy.TierSpam, []policy.Reason{policy.ListBlock}, true
			case strings.Contains(strings.ToUpper(q.Name), "WARRANTY"):
				v.Tier, v.Reasons, v.Final = policy.TierSpam, []policy.Reason{policy.ListBlockName}, true
			}
			return v, nil
		}),
		Profiles: screen.ProfileMap{"support": support, "pilot": pilot},
		Recorder: rec,
		Logger:   slog.New(slog.DiscardHandler),
		Digits:   func(n int) string { return "4721"[:n] },
	})
}

func serveFlow(t *testing.T, f *screen.Flow, logs io.Writer) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &agi.Server{Handler: AGIHandler(func() *screen.Flow { return f }), Logger: slog.New(slog.NewTextHandler(logs, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ctx, l)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return l.Addr().String()
}

// TestHostileCallerName replays the measured attacks through the whole
// FastAGI path (simulated Asterisk writing the name raw, reading commands
// as run_agi does): each used to let a must-block caller ring.
func TestHostileCallerName(t *testing.T) {
	const blocked = "+12125550666"
	tests := []struct {
		name    string
		call    agitest.Call
		mod     func(*policy.Profile)
		want    map[string]string
		reasons []policy.Reason
		inject  bool
	}{
		{
			name:    "allow-listed number injected",
			call:    agitest.Call{CallerID: blocked, CallerIDName: "Evil\nagi_callerid: +12125550777", Request: "agi://127.0.0.1/screen?profile=support"},
			want:    map[string]string{"CALLSCREEN_RESULT": "block", "CALLSCREEN_ACTION": "block"},
			reasons: []policy.Reason{policy.ListBlock, policy.CallerHeaderInjection}, inject: true,
		},
		{
			name: "early end with a fake CALLSCREEN_ID reply",
			call: agitest.Call{CallerID: blocked, CallerIDName: "Evil\nagi_callerid: +12125550777\n\n200 result=1 (01FAKEID)",
				Request: "agi://127.0.0.1/screen?profile=support"},
			want:    map[string]string{"CALLSCREEN_RESULT": "block", "CALLSCREEN_ACTION": "block"},
			reasons: []policy.Reason{policy.ListBlock, policy.CallerHeaderInjection}, inject: true,
		},
		{
			name: "same, with screened= passed by the include",
			call: agitest.Call{CallerID: blocked, CallerIDName: "Evil\nagi_callerid: +12125550777\n\n200 result=1 (01FAKEID)",
				Request: "agi://127.0.0.1/screen?profile=support", Args: []string{"screened="}},
			want:    map[string]string{"CALLSCREEN_RESULT": "block", "CALLSCREEN_ACTION": "block"},
			reasons: []policy.Reason{policy.ListBlock, policy.CallerHeaderInjection}, inject: true,
		},
		{
			name: "profile switch to the monitoring pilot",
			call: agitest.Call{CallerID: blocked, CallerIDName: "Evil\nagi_network_script: screen?profile=pilot",
				Request: "agi://127.0.0.1/screen?profile=support"},
			want:    map[string]string{"CALLSCREEN_RESULT": "block", "CALLSCREEN_MODE": "enforce"},
			reasons: []policy.Reason{policy.ListBlock, policy.CallerHeaderInjection}, inject: true,
		},
		{
			name:    "name padded past the record's cut",
			call:    agitest.Call{CallerID: "+12125551234", CallerIDName: strings.Repeat("A", 300) + " CAR WARRANTY", Request: "agi://127.0.0.1/screen?profile=support"},
			want:    map[string]string{"CALLSCREEN_RESULT": "block"},
			reasons: []policy.Reason{policy.ListBlockName},
		},
		{
			name: "line breaks alone ask for a challenge",
			call: agitest.Call{CallerID: "+12125551234", CallerIDName: "Bob\nSmith", Request: "agi://127.0.0.1/screen?profile=support",
				Caller: agitest.Caller{Auto: true}},
			want:    map[string]string{"CALLSCREEN_RESULT": "allow", "CALLSCREEN_ACTION": "challenge", "CALLSCREEN_CHALLENGE": "passed"},
			reasons: []policy.Reason{policy.CallerHeaderInjection}, inject: true,
		},
		{
			name: "the profile can allow them",
			call: agitest.Call{CallerID: "+12125551234", CallerIDName: "Bob\nSmith", Request: "agi://127.0.0.1/screen?profile=support"},
			mod: func(p *policy.Profile) {
				p.Actions = map[policy.Reason]policy.Action{policy.CallerHeaderInjection: policy.Allow}
			},
			want:    map[string]string{"CALLSCREEN_RESULT": "allow", "CALLSCREEN_ACTION": "allow", "CALLSCREEN_CHALLENGE": "none"},
			reasons: []policy.Reason{policy.CallerHeaderInjection}, inject: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorded{}
			addr := serveFlow(t, listFlow(rec, tt.mod), io.Discard)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			tt.call.Stdio = true
			tr, err := agitest.Dial(ctx, addr, tt.call)
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.want {
				if got := tr.Vars[k]; got != want {
					t.Errorf("%s = %q; want %q\n%s", k, got, want, tr)
				}
			}
			res := rec.last(t)
			if !slices.Equal(res.Decision.Reasons, tt.reasons) {
				t.Errorf("reasons %q, want %q", res.Decision.Reasons, tt.reasons)
			}
			if res.CallerRaw != tt.call.CallerID || res.Profile != "support" {
				t.Errorf("caller %q profile %q", res.CallerRaw, res.Profile)
			}
			if tt.inject && strings.ContainsAny(res.CallerName, "\r\n") {
				t.Errorf("recorded name %q keeps its line breaks", res.CallerName)
			}
			if got := tr.Vars["CALLSCREEN_REASONS"]; got != joinReasons(tt.reasons) {
				t.Errorf("CALLSCREEN_REASONS = %q, want %q", got, joinReasons(tt.reasons))
			}
		})
	}
}

func joinReasons(rs []policy.Reason) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ",")
}

// TestResetAfterAnswerIsAbandoned: the connection is reset in the middle of
// a challenge, after ANSWER. The caller is gone: abandoned (the challenge's
// on_fail result), not an allow with challenge.unavailable.
func TestResetAfterAnswerIsAbandoned(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after string // the command the reset answers
	}{{"reset on the first prompt", "STREAM FILE"}, {"reset on reading digits", "GET DATA"}} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorded{}
			addr := serveFlow(t, listFlow(rec, nil), io.Discard)
			conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			// An anonymous caller: challenged.
			if _, err := conn.Write(agitest.EnvBlock(agitest.Call{CallerID: "+12125551234", CallingPres: 35,
				Request: "agi://127.0.0.1/screen?profile=support", Args: []string{"screened="}})); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 4096)
			var pending string
			for {
				n, err := conn.Read(buf)
				if err != nil {
					t.Fatalf("read: %v (got %q)", err, pending)
				}
				pending += string(buf[:n])
				line, rest, ok := strings.Cut(pending, "\n")
				if !ok {
					continue
				}
				pending = rest
				if strings.HasPrefix(line, tc.after) {
					_ = conn.(*net.TCPConn).SetLinger(0)
					conn.Close() // RST
					break
				}
				reply := "200 result=0\n"
				switch {
				case strings.HasPrefix(line, "STREAM FILE"):
					reply = "200 result=0 endpos=8000\n"
				case strings.HasPrefix(line, "GET FULL VARIABLE"):
					// The sound check: every file exists.
					reply = "200 result=1 (" + strings.Repeat("1", strings.Count(line, "${STAT(")) + ")\n"
				}
				if _, err := io.WriteString(conn, reply); err != nil {
					t.Fatal(err)
				}
			}
			deadline := time.Now().Add(10 * time.Second)
			for rec.count() == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			res := rec.last(t)
			if res.Challenge != policy.OutcomeAbandoned || res.Result != policy.ResultBlock ||
				slices.Contains(res.Decision.Reasons, policy.ChallengeUnavailable) {
				t.Errorf("challenge %s result %s reasons %q error %q; want abandoned, block", res.Challenge, res.Result, res.Decision.Reasons, res.Error)
			}
		})
	}
}

// panicVerifier panics when asked: the flow fails open from a panic.
type panicVerifier struct{}

func (panicVerifier) Verified(context.Context, string, string) (bool, error) { panic("verifier broke") }
func (panicVerifier) MarkVerified(context.Context, string, string, time.Duration) error {
	return errors.New("unused")
}

// TestOneMSetOnEveryPath: whatever the path, the routing variables are
// written with exactly one EXEC MSet and no SET VARIABLE; the allow path
// with screened= passed is that one command and nothing else.
func TestOneMSetOnEveryPath(t *testing.T) {
	support := "agi://127.0.0.1/screen?profile=support"
	tests := []struct {
		name     string
		call     agitest.Call
		verifier decision.Verifier
		want     map[string]string
		only     bool // the MSet is the only command
	}{
		{"allow, screened= passed", agitest.Call{CallerID: "+12125551234", Request: support, Args: []string{"screened="}},
			nil, map[string]string{"CALLSCREEN_RESULT": "allow"}, true},
		{"allow", agitest.Call{CallerID: "+12125551234", Request: support}, nil, map[string]string{"CALLSCREEN_RESULT": "allow"}, false},
		{"block", agitest.Call{CallerID: "+12125550666", Request: support, Args: []string{"screened="}},
			nil, map[string]string{"CALLSCREEN_RESULT": "block"}, true},
		{"challenge passed", agitest.Call{CallerID: "+12125551234", CallingPres: 35, Request: support, Caller: agitest.Caller{Auto: true}},
			nil, map[string]string{"CALLSCREEN_CHALLENGE": "passed"}, false},
		{"challenge failed", agitest.Call{CallerID: "+12125551234", CallingPres: 35, Request: support, Caller: agitest.Caller{Keys: []string{"999", "999"}}},
			nil, map[string]string{"CALLSCREEN_CHALLENGE": "failed"}, false},
		{"caller hung up", agitest.Call{CallerID: "+12125551234", CallingPres: 35, Request: support, Caller: agitest.Caller{HangupAfter: 3}},
			nil, map[string]string{"CALLSCREEN_CHALLENGE": "abandoned"}, false},
		{"emergency", agitest.Call{CallerID: "911", Request: support, Args: []string{"screened="}},
			nil, map[string]string{"CALLSCREEN_REASONS": "emergency.exempt"}, true},
		{"monitor", agitest.Call{CallerID: "+12125550666", Request: "agi://127.0.0.1/screen?profile=pilot", Args: []string{"screened="}},
			nil, map[string]string{"CALLSCREEN_RESULT": "allow", "CALLSCREEN_HELD": "block"}, true},
		{"fail-open after a panic", agitest.Call{CallerID: "+12125551234", CallerIDName: "Bob\nSmith", Request: support, Args: []string{"screened="}},
			panicVerifier{}, map[string]string{"CALLSCREEN_RESULT": "allow", "CALLSCREEN_REASONS": "internal.error"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := listFlow(nil, nil)
			f.Verifier = tt.verifier
			addr := serveFlow(t, f, io.Discard)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			tr, err := agitest.Dial(ctx, addr, tt.call)
			if err != nil {
				t.Fatal(err)
			}
			var msets, sets int
			for _, c := range tr.Commands {
				switch {
				case strings.HasPrefix(c, "EXEC MSet "):
					msets++
				case strings.HasPrefix(c, "SET VARIABLE"):
					sets++
				}
			}
			if msets != 1 || sets != 0 || (tt.only && len(tr.Commands) != 1) {
				t.Errorf("commands:\n%s\nwant one EXEC MSet, no SET VARIABLE", strings.Join(tr.Commands, "\n"))
			}
			for k, want := range tt.want {
				if got := tr.Vars[k]; got != want {
					t.Errorf("%s = %q; want %q", k, got, want)
				}
			}
		})
	}
}

// TestMSetFallback: an Asterisk without MSet answers EXEC MSet with
// result=-2. The variables are then set one by one, later calls from that
// peer skip MSet, and the log says so once.
func TestMSetFallback(t *testing.T) {
	var logs syncBuffer
	addr := serveFlow(t, listFlow(nil, nil), &logs)
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		tr, err := agitest.Dial(ctx, addr, agitest.Call{CallerID: "+12125550666", Args: []string{"screened="}, NoMSet: true})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if tr.Vars["CALLSCREEN_RESULT"] != "block" || tr.Vars["CALLSCREEN_REASONS"] != "list.block" {
			t.Errorf("call %d: vars %v", i, tr.Vars)
		}
		var msets int
		for _, c := range tr.Commands {
			if strings.HasPrefix(c, "EXEC MSet") {
				msets++
			}
		}
		if want := map[bool]int{true: 1, false: 0}[i == 0]; msets != want {
			t.Errorf("call %d: %d EXEC MSet, want %d:\n%s", i, msets, want, strings.Join(tr.Commands, "\n"))
		}
	}
	if n := strings.Count(logs.String(), "no MSet application"); n != 1 {
		t.Errorf("the fallback is logged %d times, want once:\n%s", n, logs.String())
	}
}

// TestIdleConnectionsThenBlockedCalls is the measured case end to end: 1,100
// connections that send nothing are held (more than agi's 1,000 session
// slots), then 20 calls from a must-block number arrive: all 20 are
// blocked. Measured before the pre-block stage: 0 of 20 screened.
func TestIdleConnectionsThenBlockedCalls(t *testing.T) {
	const idle, calls = 1100, 20
	rec := &recorded{}
	addr := serveFlow(t, listFlow(rec, nil), io.Discard)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ready, stop, held := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() { held <- loadtest.Hold(ctx, addr, idle, false, func() { close(ready) }, stop) }()
	select {
	case <-ready:
	case err := <-held:
		t.Fatalf("holding idle connections: %v", err)
	}
	defer func() { close(stop); <-held }()
	blocked := 0
	for i := range calls {
		cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
		tr, err := agitest.Dial(cctx, addr, agitest.Call{CallerID: "+12125550666", Request: "agi://127.0.0.1/screen?profile=support"})
		ccancel()
		if err != nil {
			t.Errorf("call %d: %v", i, err)
			continue
		}
		if tr.Vars["CALLSCREEN_RESULT"] == "block" {
			blocked++
		}
	}
	if blocked != calls || rec.count() != calls {
		t.Errorf("%d of %d calls blocked (%d decisions) with %d idle connections held", blocked, calls, rec.count(), idle)
	}
}
