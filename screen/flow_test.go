package screen

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/internal/timingtest"
	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var monday10 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// lists is a source like the must-pass/must-block lists: numbers by E.164.
func lists(allow, block []string) reputation.Source {
	return reputation.SourceFunc(func(_ context.Context, q reputation.Query) (reputation.Verdict, error) {
		var v reputation.Verdict
		switch {
		case slices.Contains(allow, q.Caller.E164):
			v.Reasons = []policy.Reason{policy.ListAllow}
			v.Final = true
		case slices.Contains(block, q.Caller.E164):
			v.Tier = policy.TierSpam
			v.Reasons = []policy.Reason{policy.ListBlock}
			v.Final = true
		}
		return v, nil
	})
}

func spamSource() reputation.Source {
	return reputation.SourceFunc(func(_ context.Context, q reputation.Query) (reputation.Verdict, error) {
		var v reputation.Verdict
		v.Tier = policy.TierSpam
		v.Score, v.Scored = 97, true
		v.Reasons = []policy.Reason{policy.ProviderSpam}
		return v, nil
	})
}

type testEnv struct {
	flow    *Flow
	logs    *bytes.Buffer
	reg     *prometheus.Registry
	mu      sync.Mutex
	records []*decision.Result
}

func newEnv(t *testing.T, src reputation.Source, profiles ProfileMap) *testEnv {
	t.Helper()
	e := &testEnv{logs: &bytes.Buffer{}, reg: prometheus.NewRegistry()}
	e.flow = &Flow{
		Source:   src,
		Profiles: profiles,
		Recorder: decision.RecorderFunc(func(r *decision.Result) {
			e.mu.Lock()
			e.records = append(e.records, r)
			e.mu.Unlock()
		}),
		Verifier:      decision.NewMemoryVerifier(100, func() time.Time { return monday10 }),
		Now:           func() time.Time { return monday10 },
		Logger:        slog.New(slog.NewTextHandler(&lockedWriter{w: e.logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics:       NewMetrics(e.reg),
		ConfigVersion: "test",
		Digits:        func(n int) string { return "472"[:n] },
	}
	return e
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func info(caller string) decision.CallInfo {
	return decision.CallInfo{
		ID: "1795317766.0", Channel: "PJSIP/trunk-00000001", CallerNumber: caller, CallerName: "John Q. Public",
		PresentationCode: 0, Dialed: "15551230000", Transport: "agi",
	}
}

func TestFlowCases(t *testing.T) {
	voicemail := policy.Default()
	voicemail.Name = "sales"
	voicemail.Challenge.OnFail = policy.ResultVoicemail
	monitor := policy.Default()
	monitor.Name = "pilot"
	monitor.Mode = policy.ModeMonitor
	profiles := ProfileMap{"default": policy.Default(), "sales": voicemail, "pilot": monitor}
	src := reputation.Chain{
		{Name: "lists", Source: lists([]string{"+12125550001"}, []string{"+12125550666", "+12125550001"})},
	}

	anon := info("+12125551234")
	anon.PresentationCode = 35
	anonName := info("anonymous")
	anonName.PresentationCode = -1
	anonSales := anon
	anonSales.Profile = "sales"
	monitorBlock := info("+12125550666")
	monitorBlock.Profile = "Pilot"
	presVar := info("+12125551234")
	presVar.PresentationCode = -1

	tests := []struct {
		name      string
		info      decision.CallInfo
		ch        func() *fakeChannel
		want      map[string]string // routing variables after the call; "" must be unset
		wrong     int
		answered  bool
		errLogged bool
	}{
		{
			name: "unknown caller allowed",
			info: info("+12125551234"),
			ch:   newFake,
			want: map[string]string{decision.VarResult: "allow", decision.VarAction: "allow", decision.VarTier: "UNKNOWN", decision.VarChallenge: "none", decision.VarReasons: "", decision.VarScore: "", decision.VarMode: "enforce", decision.VarHeld: ""},
		},
		{
			name: "must-block",
			info: info("+12125550666"),
			ch:   newFake,
			want: map[string]string{decision.VarResult: "block", decision.VarAction: "block", decision.VarTier: "SPAM", decision.VarChallenge: "none", decision.VarReasons: "list.block", decision.VarMode: "enforce"},
		},
		{
			name: "must-pass wins",
			info: info("+12125550001"),
			ch:   newFake,
			want: map[string]string{decision.VarResult: "allow", decision.VarAction: "allow", decision.VarReasons: "list.allow"},
		},
		{
			name:     "anonymous enters the digits",
			info:     anon,
			ch:       func() *fakeChannel { f := newFake(); f.Auto = true; return f },
			want:     map[string]string{decision.VarResult: "allow", decision.VarAction: "challenge", decision.VarChallenge: "passed", decision.VarReasons: "caller.anonymous"},
			answered: true,
		},
		{
			name:     "anonymous by caller id text",
			info:     anonName,
			ch:       func() *fakeChannel { f := newFake(); f.Auto = true; return f },
			want:     map[string]string{decision.VarResult: "allow", decision.VarAction: "challenge", decision.VarChallenge: "passed", decision.VarReasons: "caller.anonymous"},
			answered: true,
		},
		{
			name:     "presentation read from the channel",
			info:     presVar,
			ch:       func() *fakeChannel { f := newFake(); f.Vars["CALLERID(num-pres)"] = "prohib"; return f },
			want:     map[string]string{decision.VarResult: "block", decision.VarAction: "challenge", decision.VarChallenge: "failed"},
			answered: true,
		},
		{
			name:     "silent robot fails",
			info:     anon,
			ch:       newFake,
			want:     map[string]string{decision.VarResult: "block", decision.VarAction: "challenge", decision.VarChallenge: "failed", decision.VarTier: "UNKNOWN"},
			answered: true,
		},
		{
			name:     "wrong then right",
			info:     anon,
			ch:       func() *fakeChannel { f := newFake(); f.Keys = []string{"999", "472"}; return f },
			want:     map[string]string{decision.VarResult: "allow", decision.VarChallenge: "passed"},
			wrong:    1,
			answered: true,
		},
		{
			name:     "failure goes to voicemail per profile",
			info:     anonSales,
			ch:       func() *fakeChannel { f := newFake(); f.Keys = []string{"1", "2"}; return f },
			want:     map[string]string{decision.VarResult: "voicemail", decision.VarChallenge: "failed"},
			wrong:    2,
			answered: true,
		},
		{
			name:     "hangup mid-challenge",
			info:     anon,
			ch:       func() *fakeChannel { f := newFake(); f.HangupAfter = 4; return f },
			want:     map[string]string{decision.VarResult: "block", decision.VarAction: "challenge", decision.VarChallenge: "abandoned", decision.VarMode: "enforce"},
			answered: true,
		},
		{
			name: "monitor mode holds the block",
			info: monitorBlock,
			ch:   newFake,
			want: map[string]string{decision.VarResult: "allow", decision.VarAction: "allow", decision.VarHeld: "block", decision.VarMode: "monitor", decision.VarReasons: "list.block,mode.monitor"},
		},
		{
			name: "already screened",
			info: info("+12125550666"),
			ch: func() *fakeChannel {
				f := newFake()
				f.Vars[decision.VarID] = "FIRSTID"
				f.Vars[decision.VarScore] = "99"
				return f
			},
			want: map[string]string{decision.VarResult: "allow", decision.VarReasons: "loop.already_screened", decision.VarID: "FIRSTID", decision.VarScore: ""},
		},
		{
			name: "emergency caller never challenged",
			info: func() decision.CallInfo { i := info("911"); i.PresentationCode = 35; return i }(),
			ch:   newFake,
			want: map[string]string{decision.VarResult: "allow", decision.VarAction: "allow", decision.VarReasons: "emergency.exempt", decision.VarChallenge: "none"},
		},
		{
			name:      "challenge cannot be played: fail open",
			info:      anon,
			ch:        func() *fakeChannel { f := newFake(); f.Fail = map[string]error{"Play": errTransport}; return f },
			want:      map[string]string{decision.VarResult: "allow", decision.VarAction: "challenge", decision.VarChallenge: "none", decision.VarReasons: "caller.anonymous,challenge.unavailable"},
			answered:  true,
			errLogged: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, src, profiles)
			ch := tt.ch()
			res := e.flow.Run(context.Background(), ch, tt.info)
			for name, want := range tt.want {
				got, ok := ch.Vars[name]
				if want == "" && ok {
					t.Errorf("%s = %q; want unset", name, got)
				}
				if want != "" && got != want {
					t.Errorf("%s = %q; want %q", name, got, want)
				}
			}
			if tt.want[decision.VarID] == "" && ch.Vars[decision.VarID] != res.ID {
				t.Errorf("%s = %q; want the decision id %q", decision.VarID, ch.Vars[decision.VarID], res.ID)
			}
			if string(res.Result) != ch.Vars[decision.VarResult] {
				t.Errorf("Result.Result %q, variable %q", res.Result, ch.Vars[decision.VarResult])
			}
			if res.WrongEntries != tt.wrong {
				t.Errorf("wrong entries %d; want %d", res.WrongEntries, tt.wrong)
			}
			if ch.answered != tt.answered {
				t.Errorf("answered = %v; want %v\n%s", ch.answered, tt.answered, ch.allOps())
			}
			if strings.Contains(e.logs.String(), "level=ERROR") != tt.errLogged {
				t.Errorf("error logged = %v; logs:\n%s", !tt.errLogged, e.logs)
			}
			if len(e.records) != 1 || e.records[0] != res {
				t.Errorf("recorded %d results; want this one", len(e.records))
			}
			if ch.setCalls != 1 {
				t.Errorf("SetVariables called %d times; want once", ch.setCalls)
			}
		})
	}
}

// TestFlowRoundTrips pins the cheapest sequence on the allow path: one
// read (CALLSCREEN_ID), presentation from the call data, one write of the
// non-empty variables with CALLSCREEN_ID last.
func TestFlowRoundTrips(t *testing.T) {
	e := newEnv(t, nil, nil)
	ch := newFake()
	e.flow.Run(context.Background(), ch, info("+12125551234"))
	want := "Variable CALLSCREEN_ID\nSetVariables CALLSCREEN_RESULT,CALLSCREEN_ACTION,CALLSCREEN_TIER,CALLSCREEN_CHALLENGE,CALLSCREEN_MODE,CALLSCREEN_ID"
	if got := ch.allOps(); got != want {
		t.Fatalf("operations:\n%s\nwant:\n%s", got, want)
	}
}

func TestChallengeSequence(t *testing.T) {
	e := newEnv(t, nil, nil)
	ch := newFake()
	ch.Keys = []string{"", "472"}
	i := info("+12125551234")
	i.PresentationCode = 35
	e.flow.Run(context.Background(), ch, i)
	want := strings.Join([]string{
		"Variable CALLSCREEN_ID",
		"Answer",
		"Play callscreen/intro",
		"SayDigits 472",
		"ReadDigits callscreen/beep 5s 3",
		"Play callscreen/retry",
		"SayDigits 472",
		"ReadDigits callscreen/beep 5s 3",
		"Play callscreen/thanks",
		"SetVariables CALLSCREEN_RESULT,CALLSCREEN_ACTION,CALLSCREEN_TIER,CALLSCREEN_CHALLENGE,CALLSCREEN_REASONS,CALLSCREEN_MODE,CALLSCREEN_ID",
	}, "\n")
	if got := ch.allOps(); got != want {
		t.Fatalf("operations:\n%s\nwant:\n%s", got, want)
	}
}

func TestVerifiedCallerNotChallengedAgain(t *testing.T) {
	e := newEnv(t, nil, nil)
	i := info("+12125551234")
	i.CallerName = "x"
	src := reputation.SourceFunc(func(context.Context, reputation.Query) (reputation.Verdict, error) {
		var v reputation.Verdict
		v.Reasons = []policy.Reason{policy.ProviderRiskMedium}
		return v, nil
	})
	e.flow.Source = src
	first := newFake()
	first.Auto = true
	if r := e.flow.Run(context.Background(), first, i); r.Challenge != policy.OutcomePassed {
		t.Fatalf("first call: challenge %s; want passed", r.Challenge)
	}
	second := newFake()
	r := e.flow.Run(context.Background(), second, i)
	if second.answered || r.Result != policy.ResultAllow || !slices.Contains(r.Decision.Reasons, policy.CallerVerifiedHuman) {
		t.Fatalf("second call: answered %v result %s reasons %v; want allow without challenge, caller.verified_human", second.answered, r.Result, r.Decision.Reasons)
	}
	if got := second.Vars[decision.VarReasons]; !strings.Contains(got, "caller.verified_human") {
		t.Fatalf("%s = %q", decision.VarReasons, got)
	}
	// Another tenant has not verified this caller.
	i.Tenant = "acme"
	third := newFake()
	if r := e.flow.Run(context.Background(), third, i); r.Challenge != policy.OutcomeFailed {
		t.Fatalf("other tenant: challenge %s; want failed (silent caller)", r.Challenge)
	}
}

type failingVerifier struct{}

func (failingVerifier) Verified(context.Context, string, string) (bool, error) {
	return false, errors.New("redis down")
}
func (failingVerifier) MarkVerified(context.Context, string, string, time.Duration) error {
	return errors.New("redis down")
}

func TestVerifierFailureChallenges(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.flow.Verifier = failingVerifier{}
	i := info("+12125551234")
	i.PresentationCode = 35
	ch := newFake()
	ch.Auto = true
	r := e.flow.Run(context.Background(), ch, i)
	if r.Challenge != policy.OutcomePassed || ch.Vars[decision.VarResult] != "allow" {
		t.Fatalf("challenge %s result %s", r.Challenge, ch.Vars[decision.VarResult])
	}
	if got := testutil.ToFloat64(e.flow.Metrics.failures.WithLabelValues(failVerifier)); got != 0 {
		// anonymous callers are never looked up or remembered
		t.Fatalf("verifier failures %v for an anonymous caller", got)
	}
	j := info("+12125551234")
	e.flow.Source = reputation.SourceFunc(func(context.Context, reputation.Query) (reputation.Verdict, error) {
		var v reputation.Verdict
		v.Reasons = []policy.Reason{policy.VelocityCallerBurst}
		return v, nil
	})
	ch = newFake()
	ch.Auto = true
	if r := e.flow.Run(context.Background(), ch, j); r.Challenge != policy.OutcomePassed {
		t.Fatalf("challenge %s; want passed", r.Challenge)
	}
	if got := testutil.ToFloat64(e.flow.Metrics.failures.WithLabelValues(failVerifier)); got != 2 {
		t.Fatalf("verifier failures %v; want 2 (lookup and mark)", got)
	}
}

func TestSourceFailuresFailOpen(t *testing.T) {
	// held is let go once the call has returned: a source that ignores its
	// deadline and answers only then.
	held := make(chan struct{})
	defer close(held)
	tests := []struct {
		name   string
		src    reputation.Source
		reason policy.Reason
	}{
		{"error", reputation.SourceFunc(func(context.Context, reputation.Query) (reputation.Verdict, error) {
			return reputation.Verdict{}, errors.New("boom")
		}), policy.ProviderUnavailable},
		{"panic", reputation.SourceFunc(func(context.Context, reputation.Query) (reputation.Verdict, error) {
			panic("source bug")
		}), policy.ProviderUnavailable},
		{"ignores its deadline", reputation.SourceFunc(func(context.Context, reputation.Query) (reputation.Verdict, error) {
			<-held
			return reputation.Verdict{}, nil
		}), policy.ProviderUnavailable},
		{"not covered", reputation.SourceFunc(func(context.Context, reputation.Query) (reputation.Verdict, error) {
			return reputation.Verdict{}, reputation.ErrNotCovered
		}), policy.CallerOutOfCoverage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.src, nil)
			e.flow.LookupTimeout = 50 * time.Millisecond
			ch := newFake()
			var r *decision.Result
			// Only the lookup timeout can end a call on a held source.
			timingtest.Returns(t, "the call", func() { r = e.flow.Run(context.Background(), ch, info("+12125551234")) })
			if ch.Vars[decision.VarResult] != "allow" || !slices.Contains(r.Decision.Reasons, tt.reason) {
				t.Fatalf("result %q reasons %v; want allow with %s", ch.Vars[decision.VarResult], r.Decision.Reasons, tt.reason)
			}
		})
	}
}

// panicProfiles panics on every lookup, as a bug in configuration code would.
type panicProfiles struct{}

func (panicProfiles) Profile(string) (policy.Profile, bool)      { panic("profiles bug") }
func (panicProfiles) ProfileForDID(number.Number) (string, bool) { panic("profiles bug") }

func TestPanicFailsOpen(t *testing.T) {
	for _, caller := range []string{"+12125551234", "911"} {
		t.Run(caller, func(t *testing.T) {
			e := newEnv(t, spamSource(), nil)
			e.flow.Profiles = panicProfiles{}
			ch := newFake()
			r := e.flow.Run(context.Background(), ch, info(caller))
			want := "internal.error"
			if caller == "911" {
				want = "emergency.exempt"
			}
			if ch.Vars[decision.VarResult] != "allow" || ch.Vars[decision.VarReasons] != want || ch.Vars[decision.VarID] != r.ID {
				t.Fatalf("vars %v; want allow with %s", ch.Vars, want)
			}
			if !strings.Contains(e.logs.String(), "panic") {
				t.Fatalf("panic not logged: %s", e.logs)
			}
			if got := testutil.ToFloat64(e.flow.Metrics.failures.WithLabelValues(failInternal)); got != 1 {
				t.Fatalf("internal failures = %v", got)
			}
		})
	}
}

// TestEmergencyWithBrokenSource: an emergency caller is allowed without the
// source being asked, even one that panics or blocks.
func TestEmergencyWithBrokenSource(t *testing.T) {
	asked := false
	src := reputation.SourceFunc(func(context.Context, reputation.Query) (reputation.Verdict, error) {
		asked = true
		panic("never")
	})
	for _, tt := range []struct{ caller, dialed string }{{"911", "15551230000"}, {"+12125551234", "112"}, {"933", "911"}} {
		e := newEnv(t, src, nil)
		i := info(tt.caller)
		i.Dialed = tt.dialed
		i.PresentationCode = 35
		ch := newFake()
		ch.Fail = map[string]error{"Variable": errTransport}
		e.flow.Run(context.Background(), ch, i)
		if ch.Vars[decision.VarResult] != "allow" || ch.Vars[decision.VarReasons] != "emergency.exempt" || ch.answered || asked {
			t.Fatalf("%s→%s: vars %v answered %v source asked %v", tt.caller, tt.dialed, ch.Vars, ch.answered, asked)
		}
	}
}

func TestCallDeadlineFailsOpen(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.flow.CallTimeout = 100 * time.Millisecond
	ch := newFake()
	ch.Block = "ReadDigits"
	i := info("anonymous")
	r := e.flow.Run(context.Background(), ch, i)
	if ch.Vars[decision.VarResult] != "allow" || !slices.Contains(r.Decision.Reasons, policy.ChallengeUnavailable) {
		t.Fatalf("vars %v reasons %v; want allow, challenge.unavailable", ch.Vars, r.Decision.Reasons)
	}
}

func TestSetVariablesFailureLoggedOnce(t *testing.T) {
	e := newEnv(t, nil, nil)
	ch := newFake()
	ch.Fail = map[string]error{"SetVariables": errTransport}
	r := e.flow.Run(context.Background(), ch, info("+12125551234"))
	if n := strings.Count(e.logs.String(), "level=ERROR"); n != 1 {
		t.Fatalf("%d error lines; want 1:\n%s", n, e.logs)
	}
	if r.Error == "" {
		t.Fatal("Result.Error empty")
	}
}

func TestProfileSelection(t *testing.T) {
	sales := policy.Default()
	sales.Name = "sales"
	profiles := didProfiles{ProfileMap{"default": policy.Default(), "sales": sales}}
	tests := []struct {
		name, profile, dialed, want string
		warn                        bool
	}{
		{"by name", "sales", "15551230000", "sales", false},
		{"by name, any case", "SALES", "15551230000", "sales", false},
		{"by DID", "", "+15559990000", "sales", false},
		{"unknown name", "nosuch", "15551230000", "default", true},
		{"none", "", "15551230000", "default", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil, nil)
			e.flow.Profiles = profiles
			i := info("+12125551234")
			i.Profile, i.Dialed = tt.profile, tt.dialed
			r := e.flow.Run(context.Background(), newFake(), i)
			if r.Profile != tt.want {
				t.Fatalf("profile %q; want %q", r.Profile, tt.want)
			}
			if got := strings.Contains(e.logs.String(), "unknown profile"); got != tt.warn {
				t.Fatalf("warned %v; want %v", got, tt.warn)
			}
		})
	}
}

type didProfiles struct{ ProfileMap }

func (didProfiles) ProfileForDID(n number.Number) (string, bool) {
	if strings.HasPrefix(n.E164, "+1555999") {
		return "sales", true
	}
	return "", false
}

// TestHostileNames: whatever the caller name holds, the flow completes and
// the name never reaches the channel.
func TestHostileNames(t *testing.T) {
	names := []string{
		`"quoted" \"escaped\"`,
		`back\slash\\`,
		"${SHELL(id)}",
		strings.Repeat("A", 2048),
		"\xff\xfe invalid \xc3\x28 utf-8",
		"new\nline\r\x00nul",
	}
	for _, name := range names {
		e := newEnv(t, spamSource(), nil)
		i := info("+12125551234")
		i.CallerName = name
		ch := newFake()
		r := e.flow.Run(context.Background(), ch, i)
		if ch.Vars[decision.VarResult] != "block" {
			t.Fatalf("name %q: result %q", name, ch.Vars[decision.VarResult])
		}
		for _, v := range ch.Vars {
			if strings.Contains(v, "SHELL") || strings.Contains(v, "quoted") || strings.Contains(v, "AAAA") {
				t.Fatalf("name reached a variable: %q", v)
			}
		}
		if len(r.CallerName) > MaxNameLen || strings.ContainsAny(r.CallerName, "\n\r\x00") || !utf8Valid(r.CallerName) {
			t.Fatalf("Result.CallerName not cleaned: %q", r.CallerName)
		}
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "") == s }

func TestExplain(t *testing.T) {
	e := newEnv(t, reputation.Chain{{Name: "lists", Source: lists(nil, []string{"+12125550666"})}}, nil)
	r, err := e.flow.Explain(context.Background(), info("+12125550666"))
	if err != nil || r.Result != policy.ResultBlock || r.Decision.Reasons[0] != policy.ListBlock || len(r.Verdict.Sources) != 1 {
		t.Fatalf("Explain = %+v, %v", r, err)
	}
	anon := info("+12125551234")
	anon.PresentationCode = 35
	r, _ = e.flow.Explain(context.Background(), anon)
	if r.Decision.Action != policy.Challenge || r.Result != policy.ResultBlock {
		t.Fatalf("anonymous: action %s result %s; want challenge, block on failure", r.Decision.Action, r.Result)
	}
	if len(e.records) != 0 {
		t.Fatal("Explain recorded a result")
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, spamSource(), nil)
	e.flow.Run(context.Background(), newFake(), info("+12125551234"))
	anon := info("anonymous")
	e.flow.Source = nil
	ch := newFake()
	ch.Keys = []string{"1", "2"}
	e.flow.Run(context.Background(), ch, anon)
	if got := testutil.ToFloat64(e.flow.Metrics.decisions.WithLabelValues("block", "", "block", "SPAM", "default", "")); got != 1 {
		t.Errorf("block decisions = %v", got)
	}
	if got := testutil.ToFloat64(e.flow.Metrics.challenges.WithLabelValues("failed")); got != 1 {
		t.Errorf("failed challenges = %v", got)
	}
	if got := testutil.ToFloat64(e.flow.Metrics.wrong); got != 2 {
		t.Errorf("wrong entries = %v", got)
	}
	if got := testutil.ToFloat64(e.flow.Metrics.inFlight); got != 0 {
		t.Errorf("in flight = %v", got)
	}
	problems, err := testutil.GatherAndLint(e.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 2000 {
		id := NewID(base.Add(time.Duration(i) * time.Millisecond))
		if len(id) != IDLen || strings.Trim(id, crockford) != "" {
			t.Fatalf("bad id %q", id)
		}
		if seen[id] || id[:10] < prev {
			t.Fatalf("id %q repeats or sorts before %q", id, prev)
		}
		seen[id] = true
		prev = id[:10]
	}
	same := map[string]bool{}
	for range 1000 {
		id := NewID(base)
		if same[id] {
			t.Fatalf("duplicate id in one millisecond: %s", id)
		}
		same[id] = true
	}
}

func TestRandomDigits(t *testing.T) {
	counts := map[byte]int{}
	for range 2000 {
		d := randomDigits(3)
		if len(d) != 3 || strings.Trim(d, "0123456789") != "" {
			t.Fatalf("bad digits %q", d)
		}
		for i := range len(d) {
			counts[d[i]]++
		}
	}
	for c := byte('0'); c <= '9'; c++ {
		if counts[c] < 400 || counts[c] > 800 { // 600 expected each
			t.Fatalf("digit %c drawn %d times of 6000", c, counts[c])
		}
	}
}

func TestRestrictedPresentation(t *testing.T) {
	for name, want := range map[string]bool{
		"prohib": true, "prohib_not_screened": true, "PROHIB_PASSED_SCREEN": true, "unavailable": true,
		"allowed": false, "allowed_not_screened": false, "": false, "unknown": false,
	} {
		if got := RestrictedPresentation(name); got != want {
			t.Errorf("RestrictedPresentation(%q) = %v", name, got)
		}
	}
}

// panicParseProfiles panics only when asked for the DID map, after the
// numbers were parsed, so the panic path must find the emergency number
// from the raw text.
type panicDIDProfiles struct{}

func (panicDIDProfiles) Profile(string) (policy.Profile, bool)      { return policy.Default(), true }
func (panicDIDProfiles) ProfileForDID(number.Number) (string, bool) { panic("did map bug") }

func TestPanicBeforeProfileKeepsEmergency(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.flow.Profiles = panicDIDProfiles{}
	ch := newFake()
	i := info("112")
	e.flow.Run(context.Background(), ch, i)
	if ch.Vars[decision.VarResult] != "allow" || ch.Vars[decision.VarReasons] != "emergency.exempt" {
		t.Fatalf("vars %v", ch.Vars)
	}
}

// TestScreenedHandedOver: when the dialplan hands CALLSCREEN_ID over with
// the call, the flow does not read it: one round trip less on the allow
// path, and the loop is still caught.
func TestScreenedHandedOver(t *testing.T) {
	e := newEnv(t, spamSource(), nil)
	ch := newFake()
	i := info("+12125551234")
	i.ScreenedKnown = true
	e.flow.Source = nil
	e.flow.Run(context.Background(), ch, i)
	want := "SetVariables CALLSCREEN_RESULT,CALLSCREEN_ACTION,CALLSCREEN_TIER,CALLSCREEN_CHALLENGE,CALLSCREEN_MODE,CALLSCREEN_ID"
	if got := ch.allOps(); got != want {
		t.Fatalf("operations:\n%s\nwant:\n%s", got, want)
	}
	e.flow.Source = spamSource()
	loop := newFake()
	i.Screened = "01FIRST"
	r := e.flow.Run(context.Background(), loop, i)
	if loop.Vars[decision.VarResult] != "allow" || r.Decision.Reasons[0] != policy.LoopAlreadyScreened || len(loop.opsWith("Variable")) != 0 {
		t.Fatalf("loop: vars %v reasons %v ops\n%s", loop.Vars, r.Decision.Reasons, loop.allOps())
	}
	if _, set := loop.Vars[decision.VarID]; set {
		t.Fatalf("the first screening's id was overwritten: %v", loop.Vars)
	}
}

type prefixCritical string

func (p prefixCritical) Match(n number.Number) (string, bool) {
	return string(p), strings.HasPrefix(n.E164, string(p))
}

func TestCriticalPrefix(t *testing.T) {
	e := newEnv(t, spamSource(), nil)
	e.flow.Critical = prefixCritical("+1212555")
	ch := newFake()
	i := info("+12125551234")
	i.PresentationCode = 35
	e.flow.Run(context.Background(), ch, i)
	if ch.Vars[decision.VarResult] != "allow" || ch.Vars[decision.VarReasons] != "emergency.exempt" || ch.answered {
		t.Fatalf("critical prefix: vars %v", ch.Vars)
	}
	other := newFake()
	e.flow.Run(context.Background(), other, info("+13125551234"))
	if other.Vars[decision.VarResult] != "block" {
		t.Fatalf("outside the prefix: vars %v", other.Vars)
	}
	r, _ := e.flow.Explain(context.Background(), i)
	if r.Decision.Reasons[0] != policy.EmergencyExempt {
		t.Fatalf("Explain: %v", r.Decision.Reasons)
	}
}

// TestExplainSource: Explain consults ExplainSource, not the sources that
// count calls.
func TestExplainSource(t *testing.T) {
	counted := 0
	e := newEnv(t, reputation.SourceFunc(func(context.Context, reputation.Query) (reputation.Verdict, error) {
		counted++
		return reputation.Verdict{}, nil
	}), nil)
	e.flow.ExplainSource = reputation.Chain{{Name: "lists", Source: lists(nil, []string{"+12125550666"})}}
	r, err := e.flow.Explain(context.Background(), info("+12125550666"))
	if err != nil || r.Result != policy.ResultBlock || counted != 0 {
		t.Fatalf("Explain: result %s err %v, counting source asked %d times", r.Result, err, counted)
	}
	e.flow.Run(context.Background(), newFake(), info("+12125550666"))
	if counted != 1 {
		t.Fatalf("Run asked the counting source %d times; want 1", counted)
	}
}

// TestChallengeBargeIn: a caller who types along while the digits are said
// interrupts them; that key is the first of the entry.
func TestChallengeBargeIn(t *testing.T) {
	e := newEnv(t, nil, nil)
	ch := newFake()
	ch.Barge = "4"
	ch.Keys = []string{"72"}
	r := e.flow.Run(context.Background(), ch, info("anonymous"))
	if r.Challenge != policy.OutcomePassed || r.WrongEntries != 0 {
		t.Fatalf("challenge %s, wrong %d\n%s", r.Challenge, r.WrongEntries, ch.allOps())
	}
	if got := ch.opsWith("ReadDigits"); len(got) != 1 || got[0] != "ReadDigits callscreen/beep 5s 2" {
		t.Fatalf("reads %q; want one read of the 2 remaining digits", got)
	}
}
