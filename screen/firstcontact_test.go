package screen

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// twoProfiles are a default profile and one whose challenge has its own
// intro and a single attempt (no retry prompt).
func twoProfiles() ProfileMap {
	sales := policy.Default()
	sales.Name = "sales"
	sales.Challenge.Intro = "custom/sales-intro"
	sales.Challenge.Attempts = 1
	return ProfileMap{"default": policy.Default(), "sales": sales}
}

// union is what the first contact asks for twoProfiles: the default set,
// then the sales intro.
func union() string {
	return strings.Join(append(ChallengeSounds(policy.Default().Challenge), "custom/sales-intro"), ",")
}

// TestFirstContact: the first call from a PBX checks the sounds of every
// profile's challenge there, in one question, whatever the call's
// decision; later calls from it ask nothing; another PBX is asked on its
// own first call; calls that must not wait (emergency) or are not
// screened (already screened) do not ask.
func TestFirstContact(t *testing.T) {
	type call struct {
		pbx, caller string
		screened    string
		checks      int // MissingSounds on this call
	}
	tests := []struct {
		name     string
		missing  []string
		checkErr error
		calls    []call
		gauge    map[string]float64
		warnings int // "prompts missing" warnings
		failWarn int // "cannot check" warnings
	}{
		{name: "once per PBX", calls: []call{
			{pbx: "pbx1", caller: "+12125551234", checks: 1},
			{pbx: "pbx1", caller: "+12125551234", checks: 0},
			{pbx: "pbx2", caller: "+12125551234", checks: 1},
			{pbx: "pbx1", caller: "anonymous", checks: 0}, // the challenge finds it cached
		}, gauge: map[string]float64{"pbx1": 0, "pbx2": 0}},
		{name: "missing sounds known at the first allowed call", missing: []string{"callscreen/digits/4", "custom/sales-intro"}, calls: []call{
			{pbx: "pbx1", caller: "+12125551234", checks: 1},
			{pbx: "pbx1", caller: "anonymous", checks: 0},
		}, gauge: map[string]float64{"pbx1": 2}, warnings: 1},
		{name: "emergency calls wait for nothing", calls: []call{
			{pbx: "pbx1", caller: "911", checks: 0},
			{pbx: "pbx1", caller: "+12125551234", checks: 1},
		}},
		{name: "already screened calls are not screened", calls: []call{
			{pbx: "pbx1", caller: "+12125551234", screened: "01ABC", checks: 0},
			{pbx: "pbx1", caller: "+12125551234", checks: 1},
		}},
		{name: "a failed check is not repeated by allowed calls", checkErr: errTransport, calls: []call{
			{pbx: "pbx1", caller: "+12125551234", checks: 1},
			{pbx: "pbx1", caller: "+12125551234", checks: 0},
			{pbx: "pbx1", caller: "anonymous", checks: 1}, // the challenge asks for itself
		}, failWarn: 1},
		{name: "a caller who left is no check", checkErr: fmt.Errorf("check: %w", ErrHangup), calls: []call{
			{pbx: "pbx1", caller: "+12125551234", checks: 1},
			{pbx: "pbx1", caller: "+12125551234", checks: 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil, twoProfiles())
			for i, c := range tt.calls {
				ch := &soundFake{fakeChannel: newFake(), pbx: c.pbx, Missing: tt.missing, CheckErr: tt.checkErr}
				ch.Auto = true
				in := info(c.caller)
				if c.screened != "" {
					in.Screened, in.ScreenedKnown = c.screened, true
				}
				res := e.flow.Run(context.Background(), ch, in)
				checks := ch.opsWith("MissingSounds")
				if len(checks) != c.checks {
					t.Fatalf("call %d (%s from %s): %d checks; want %d\n%s", i, c.caller, c.pbx, len(checks), c.checks, ch.allOps())
				}
				if c.checks > 0 && c.caller != "anonymous" && checks[0] != "MissingSounds en "+union() {
					t.Errorf("call %d: asked %q; want the union of the profiles' sounds", i, checks[0])
				}
				// The check is done before the channel is used again.
				ops := strings.Split(ch.allOps(), "\n")
				if c.checks > 0 && slices.Index(ops, checks[0]) > slices.IndexFunc(ops, func(o string) bool { return strings.HasPrefix(o, "SetVariables") }) {
					t.Errorf("call %d: the check came after the variables:\n%s", i, ch.allOps())
				}
				if c.caller != "anonymous" && (res.Result != policy.ResultAllow || strings.Contains(ch.Vars[decision.VarReasons], "challenge.unavailable")) {
					t.Errorf("call %d: result %s reasons %q", i, res.Result, ch.Vars[decision.VarReasons])
				}
			}
			for pbx, want := range tt.gauge {
				if got := testutil.ToFloat64(e.flow.Metrics.missing.WithLabelValues(pbx)); got != want {
					t.Errorf("prompts_missing{pbx=%s} = %v; want %v", pbx, got, want)
				}
			}
			logs := e.logs.String()
			if n := strings.Count(logs, `level=WARN msg="screen: prompts missing`); n != tt.warnings {
				t.Errorf("%d warnings of missing prompts; want %d\n%s", n, tt.warnings, logs)
			}
			if n := strings.Count(logs, `msg="screen: cannot check the prompts at the first call`); n != tt.failWarn {
				t.Errorf("%d warnings of a failed check; want %d\n%s", n, tt.failWarn, logs)
			}
			if tt.warnings > 0 {
				p := e.flow.promptCache()
				if r := p.Report(); len(r) != 2 || !strings.Contains(strings.Join(r, "\n"), "custom/sales-intro") {
					t.Errorf("report %q; want a line for each profile's set", r)
				}
			}
		})
	}
}

// TestFirstContactBesideLookup: the check of the first call runs while
// the reputation lookup does, so at first contact the call waits for
// whichever takes longer, not for both. Each side waits (bounded) for the
// other to have started: run one after the other, one of them gives up.
func TestFirstContactBesideLookup(t *testing.T) {
	lookupStarted, checkStarted := make(chan struct{}), make(chan struct{})
	wait := func(ch chan struct{}, what string) error {
		select {
		case <-ch:
			return nil
		case <-time.After(10 * time.Second):
			return fmt.Errorf("%s never started: not run side by side", what)
		}
	}
	var lookupErr error
	src := reputation.SourceFunc(func(context.Context, reputation.Query) (reputation.Verdict, error) {
		close(lookupStarted)
		lookupErr = wait(checkStarted, "the check")
		return reputation.Verdict{}, lookupErr
	})
	e := newEnv(t, src, twoProfiles())
	e.flow.LookupTimeout = 30 * time.Second
	ch := &soundFake{fakeChannel: newFake(), pbx: "pbx1"}
	ch.OnCheck = func() error {
		close(checkStarted)
		return wait(lookupStarted, "the lookup")
	}
	res := e.flow.Run(context.Background(), ch, info("+12125551234"))
	if lookupErr != nil || res.Result != policy.ResultAllow || strings.Contains(e.logs.String(), "cannot check") {
		t.Fatalf("lookup: %v; result %s\n%s", lookupErr, res.Result, e.logs)
	}
	if got := len(e.flow.promptCache().entries); got != 2 {
		t.Fatalf("%d sets remembered; want 2", got)
	}
}

// TestCheckPrompts: what a transport calls at connect: the sets of every
// profile in one question, each remembered; asked again only when stale.
func TestCheckPrompts(t *testing.T) {
	e := newEnv(t, nil, twoProfiles())
	clock := &fakeClock{t: monday10}
	e.flow.Prompts = &Prompts{Now: clock.Now, Logger: e.flow.Logger, Metrics: e.flow.Metrics}
	ch := &soundFake{fakeChannel: newFake(), pbx: "outbound/pbx1", Missing: []string{"callscreen/beep"}}
	ctx := context.Background()
	if err := e.flow.CheckPrompts(ctx, ch, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.flow.CheckPrompts(ctx, ch, ""); err != nil {
		t.Fatal(err)
	}
	if got := ch.opsWith("MissingSounds"); len(got) != 1 || got[0] != "MissingSounds en "+union() {
		t.Fatalf("checks %q", got)
	}
	r := e.flow.Prompts.Report()
	if len(r) != 1 || !strings.Contains(r[0], "outbound/pbx1") || !strings.Contains(r[0], "callscreen/beep") {
		t.Fatalf("report %q", r)
	}
	// A challenge of either profile finds its set cached.
	for _, cs := range []policy.ChallengeSettings{policy.Default().Challenge, twoProfiles()["sales"].Challenge} {
		if m, err := e.flow.Prompts.Check(ctx, ch, "en", ChallengeSounds(cs)); err != nil || !slices.Equal(m, []string{"callscreen/beep"}) {
			t.Fatalf("Check = %q, %v", m, err)
		}
	}
	if n := len(ch.opsWith("MissingSounds")); n != 1 {
		t.Fatalf("%d checks; want the challenges answered from the cache", n)
	}
	// Installed meanwhile: asked again after MissingFor, and said once.
	ch.Missing = nil
	clock.Advance(DefaultPromptsMissingFor)
	if err := e.flow.CheckPrompts(ctx, ch, "en"); err != nil {
		t.Fatal(err)
	}
	if n := len(ch.opsWith("MissingSounds")); n != 2 || len(e.flow.Prompts.Report()) != 0 {
		t.Fatalf("%d checks, report %q", n, e.flow.Prompts.Report())
	}
	logs := e.logs.String()
	if strings.Count(logs, "prompts missing on the PBX") != 1 || strings.Count(logs, "prompts now present") != 1 {
		t.Fatalf("logs:\n%s", logs)
	}
	// A failed check says whose it was.
	bad := &soundFake{fakeChannel: newFake(), pbx: "outbound/pbx2", CheckErr: errTransport}
	if err := e.flow.CheckPrompts(ctx, bad, ""); !errors.Is(err, errTransport) || !strings.Contains(err.Error(), "outbound/pbx2") {
		t.Fatalf("err %v", err)
	}
}

// TestRecheckAfterReload: a reload that brings a profile with another
// intro (Recheck, then a new Flow on the same Prompts) has the next call
// from each PBX ask for that set only; the one after asks nothing.
func TestRecheckAfterReload(t *testing.T) {
	e := newEnv(t, nil, ProfileMap{"default": policy.Default()})
	prompts := &Prompts{Logger: e.flow.Logger, Metrics: e.flow.Metrics}
	e.flow.Prompts = prompts
	callFrom := func(f *Flow) []string {
		ch := &soundFake{fakeChannel: newFake(), pbx: "pbx1"}
		f.Run(context.Background(), ch, info("+12125551234"))
		return ch.opsWith("MissingSounds")
	}
	if got := callFrom(e.flow); len(got) != 1 {
		t.Fatalf("first call: %q", got)
	}
	reloaded := newEnv(t, nil, twoProfiles())
	reloaded.flow.Prompts = prompts
	prompts.Recheck()
	got := callFrom(reloaded.flow)
	if len(got) != 1 || got[0] != "MissingSounds en "+strings.Join(ChallengeSounds(twoProfiles()["sales"].Challenge), ",") {
		t.Fatalf("after the reload: %q; want the sales set only", got)
	}
	if got := callFrom(reloaded.flow); len(got) != 0 {
		t.Fatalf("then: %q", got)
	}
	var none *Prompts
	none.Recheck() // a server without prompts (no flow yet) reloads too
}
