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
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestChallengeSounds(t *testing.T) {
	cs := policy.Default().Challenge
	want := []string{"callscreen/intro",
		"callscreen/digits/0", "callscreen/digits/1", "callscreen/digits/2", "callscreen/digits/3", "callscreen/digits/4",
		"callscreen/digits/5", "callscreen/digits/6", "callscreen/digits/7", "callscreen/digits/8", "callscreen/digits/9",
		"callscreen/beep", "callscreen/retry", "callscreen/thanks"}
	if got := ChallengeSounds(cs); !slices.Equal(got, want) {
		t.Fatalf("ChallengeSounds\n got %q\nwant %q", got, want)
	}
	cs.Attempts = 1
	if got := ChallengeSounds(cs); slices.Contains(got, "callscreen/retry") {
		t.Fatalf("one attempt plays no retry prompt, got %q", got)
	}
	cs.Thanks = "callscreen/intro"
	if got := ChallengeSounds(cs); len(got) != 12 {
		t.Fatalf("a sound named twice is checked once, got %q", got)
	}
}

// TestPromptsGateChallenge: a challenge is played only when every sound it
// needs is known to exist on the PBX; otherwise the call fails open with
// challenge.unavailable before anything is answered or played.
func TestPromptsGateChallenge(t *testing.T) {
	tests := []struct {
		name      string
		missing   []string
		checkErr  error
		challenge policy.Outcome
		reasons   string
		answered  bool
		trusted   bool
		errHas    string
	}{
		{name: "every sound there", challenge: policy.OutcomePassed, reasons: "caller.anonymous", answered: true, trusted: true},
		{name: "a digit missing", missing: []string{"callscreen/digits/7"}, challenge: policy.OutcomeNone,
			reasons: "caller.anonymous,challenge.unavailable", errHas: "prompts missing on the PBX: callscreen/digits/7"},
		{name: "beep and intro missing", missing: []string{"callscreen/intro", "callscreen/beep"}, challenge: policy.OutcomeNone,
			reasons: "caller.anonymous,challenge.unavailable", errHas: "callscreen/beep, callscreen/intro"},
		{name: "the check fails", checkErr: errTransport, challenge: policy.OutcomeNone,
			reasons: "caller.anonymous,challenge.unavailable", errHas: "checking the prompts: connection reset"},
		{name: "the caller leaves during the check", checkErr: fmt.Errorf("check: %w", ErrHangup), challenge: policy.OutcomeAbandoned,
			reasons: "caller.anonymous"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil, nil)
			ch := &soundFake{fakeChannel: newFake(), pbx: "10.0.0.5", Missing: tt.missing, CheckErr: tt.checkErr}
			ch.Auto = true
			res := e.flow.Run(context.Background(), ch, info("anonymous"))
			if res.Challenge != tt.challenge || ch.Vars[decision.VarReasons] != tt.reasons {
				t.Fatalf("challenge %q reasons %q; want %q %q\n%s", res.Challenge, ch.Vars[decision.VarReasons], tt.challenge, tt.reasons, ch.allOps())
			}
			if ch.answered != tt.answered || (!tt.answered && len(ch.opsWith("Play")) > 0) {
				t.Fatalf("answered %v, plays %q; want answered %v and nothing played without the prompts", ch.answered, ch.opsWith("Play"), tt.answered)
			}
			if ch.trusted != tt.trusted {
				t.Errorf("SoundsExist called = %v; want %v", ch.trusted, tt.trusted)
			}
			if !strings.Contains(res.Error, tt.errHas) {
				t.Errorf("Result.Error %q; want it to contain %q", res.Error, tt.errHas)
			}
			// The first call from the PBX checks at once (firstContact);
			// the challenge finds the answer cached, or, when the check
			// failed, asks again.
			wantChecks := 1
			if tt.checkErr != nil {
				wantChecks = 2
			}
			got := ch.opsWith("MissingSounds")
			if len(got) != wantChecks {
				t.Errorf("checks %q; want %d", got, wantChecks)
			}
			for _, op := range got {
				if op != "MissingSounds en "+strings.Join(ChallengeSounds(policy.Default().Challenge), ",") {
					t.Errorf("check %q", op)
				}
			}
			if tt.challenge == policy.OutcomeNone {
				if got := testutil.ToFloat64(e.flow.Metrics.challenges.WithLabelValues("unavailable")); got != 1 {
					t.Errorf("challenges{outcome=unavailable} = %v", got)
				}
			}
			if want := float64(len(tt.missing)); tt.checkErr == nil && testutil.ToFloat64(e.flow.Metrics.missing.WithLabelValues("10.0.0.5")) != want {
				t.Errorf("prompts_missing{pbx=10.0.0.5} = %v; want %v", testutil.ToFloat64(e.flow.Metrics.missing.WithLabelValues("10.0.0.5")), want)
			}
		})
	}
}

// TestPromptsCache: a PBX is asked once; a missing set is asked again
// after MissingFor, a complete one after CheckedFor; a failed check is not
// remembered; the log says it once when sounds go missing and once when
// they are back; Report names what is missing.
func TestPromptsCache(t *testing.T) {
	e := newEnv(t, nil, nil)
	clock := &fakeClock{t: monday10}
	p := &Prompts{Now: clock.Now, Logger: e.flow.Logger, Metrics: e.flow.Metrics, MissingFor: time.Minute, CheckedFor: 10 * time.Minute}
	ch := &soundFake{fakeChannel: newFake(), pbx: "pbx1", Missing: []string{"b"}}
	ctx := context.Background()
	check := func(want ...string) {
		t.Helper()
		got, err := p.Check(ctx, ch, "en", []string{"a", "b"})
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("Check = %q, %v; want %q", got, err, want)
		}
	}
	check("b")
	check("b")
	if ch.checks != 1 {
		t.Fatalf("%d checks; want the second answered from the cache", ch.checks)
	}
	if r := p.Report(); len(r) != 1 || !strings.Contains(r[0], "pbx1") || !strings.Contains(r[0], ": b;") {
		t.Fatalf("report %q", r)
	}
	ch.Missing = nil
	clock.Advance(59 * time.Second)
	check("b")
	clock.Advance(2 * time.Second)
	check()
	if ch.checks != 2 || len(p.Report()) != 0 {
		t.Fatalf("%d checks, report %q; want a second check after MissingFor and an empty report", ch.checks, p.Report())
	}
	clock.Advance(9 * time.Minute)
	check()
	clock.Advance(2 * time.Minute)
	check()
	if ch.checks != 3 {
		t.Fatalf("%d checks; want a third after CheckedFor", ch.checks)
	}
	// Another PBX, another language: asked on their own.
	other := &soundFake{fakeChannel: newFake(), pbx: "pbx2", Missing: []string{"a"}}
	if got, _ := p.Check(ctx, other, "fr", []string{"a", "b"}); !slices.Equal(got, []string{"a"}) || other.checks != 1 {
		t.Fatalf("pbx2: %q after %d checks", got, other.checks)
	}
	// A failed check is not remembered.
	failing := &soundFake{fakeChannel: newFake(), pbx: "pbx3", CheckErr: errTransport}
	for range 2 {
		if _, err := p.Check(ctx, failing, "en", []string{"a"}); !errors.Is(err, errTransport) {
			t.Fatalf("err %v", err)
		}
	}
	if failing.checks != 2 {
		t.Fatalf("%d checks of a failing PBX; want each call to ask again", failing.checks)
	}
	logs := e.logs.String()
	if n := strings.Count(logs, `level=WARN msg="screen: prompts missing`); n != 2 {
		t.Errorf("%d warnings; want one for pbx1 and one for pbx2:\n%s", n, logs)
	}
	if n := strings.Count(logs, `msg="screen: prompts now present`); n != 1 {
		t.Errorf("%d notices that prompts are back; want 1:\n%s", n, logs)
	}
	if got := testutil.ToFloat64(e.flow.Metrics.promptChecks.WithLabelValues("cached")); got != 3 {
		t.Errorf("cached checks %v; want 3", got)
	}
}

// TestDeadlineStopsChallenge: when the call's deadline passes during the
// challenge, no further step starts and the fail-open variables are
// written on a channel still in step.
func TestDeadlineStopsChallenge(t *testing.T) {
	tests := []struct {
		name string
		step time.Duration
		ops  []string // the media operations played
	}{
		// 10s allowed: the intro and the digits take 8s; the entry
		// (3 x 5s) would end past the grace, so it never starts.
		{"entry would overrun", 4 * time.Second, []string{"Answer", "Play callscreen/intro", "SayDigits 472"}},
		// The answer and the intro take 12s: the digits never start.
		{"deadline passes in the intro", 6 * time.Second, []string{"Answer", "Play callscreen/intro"}},
		// Past the deadline once answered: nothing is played.
		{"deadline passes at once", 11 * time.Second, []string{"Answer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil, nil)
			clock := &fakeClock{t: monday10}
			e.flow.Now = clock.Now
			e.flow.CallTimeout = 10 * time.Second
			ch := newFake()
			ch.Auto, ch.Clock, ch.Step = true, clock, tt.step
			res := e.flow.Run(context.Background(), ch, info("anonymous"))
			var media []string
			for _, op := range strings.Split(ch.allOps(), "\n") {
				if !strings.HasPrefix(op, "Variable") && !strings.HasPrefix(op, "SetVariables") {
					media = append(media, op)
				}
			}
			if !slices.Equal(media, tt.ops) {
				t.Fatalf("operations %q; want %q", media, tt.ops)
			}
			if ch.Vars[decision.VarResult] != "allow" || ch.Vars[decision.VarReasons] != "caller.anonymous,challenge.unavailable" ||
				!strings.Contains(res.Error, "call deadline passed") {
				t.Fatalf("vars %v error %q", ch.Vars, res.Error)
			}
		})
	}
}

// TestSTIRThroughTheFlow: the STIR/SHAKEN result the dialplan hands over
// reaches the policy, the routing variables, the Result and the metrics;
// a value that is not one is ignored with a warning and changes nothing.
func TestSTIRThroughTheFlow(t *testing.T) {
	tests := []struct {
		name, attest, verify string
		action               policy.Action
		reasons              string
		attestation, result  string
		metric               []string
		warn                 bool
	}{
		{"none passed", "", "", policy.Allow, "", "", "", nil, false},
		{"A verified", "A", "success", policy.Allow, "stir.verified", "A", "success", []string{"A", "success"}, false},
		{"C", "C", "success", policy.Challenge, "stir.unverified", "C", "success", []string{"C", "success"}, false},
		{"no identity header", "none", "", policy.Challenge, "stir.unverified", "none", "", []string{"none", "failure"}, false},
		{"unknown code", "A", "x5u_from_mars", policy.Challenge, "stir.unverified", "A", "unknown", []string{"A", "failure"}, false},
		{"not an attestation", "Z", "success", policy.Allow, "", "", "", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil, nil)
			ch := newFake()
			ch.Auto = true
			in := info("+12125551234")
			in.Attestation, in.VerifyResult = tt.attest, tt.verify
			res := e.flow.Run(context.Background(), ch, in)
			if res.Decision.Action != tt.action || ch.Vars[decision.VarReasons] != tt.reasons {
				t.Fatalf("action %s reasons %q; want %s %q", res.Decision.Action, ch.Vars[decision.VarReasons], tt.action, tt.reasons)
			}
			if res.Attestation != tt.attestation || res.VerifyResult != tt.result {
				t.Fatalf("Result attestation %q verify %q; want %q %q", res.Attestation, res.VerifyResult, tt.attestation, tt.result)
			}
			if tt.metric != nil {
				if got := testutil.ToFloat64(e.flow.Metrics.stir.WithLabelValues(tt.metric...)); got != 1 {
					t.Errorf("callscreen_screen_stir_total%v = %v", tt.metric, got)
				}
			}
			if got := strings.Contains(e.logs.String(), "ignoring a STIR/SHAKEN result"); got != tt.warn {
				t.Errorf("warned = %v; want %v\n%s", got, tt.warn, e.logs)
			}
		})
	}
}
