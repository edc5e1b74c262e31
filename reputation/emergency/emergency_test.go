package emergency

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/lists"
)

func mustNew(t *testing.T, nums ...string) *Source {
	t.Helper()
	s, err := New(nums, "US")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func q(caller, dialed string) reputation.Query {
	return reputation.Query{Caller: number.Parse(caller, "US"), Dialed: number.Parse(dialed, "US"), Profile: policy.Default()}
}

func TestLookup(t *testing.T) {
	s := mustNew(t, "(212) 555-0911", "+1800555*", "+13135550100..+13135550199", "4357")
	tests := []struct {
		name, caller, dialed string
		exempt               bool
	}{
		{"911 calling back", "911", "+12125550000", true},
		{"112", "112", "+12125550000", true},
		{"dialing 911", "+12125551234", "911", true},
		{"configured, national form", "+12125550911", "+12125550000", true},
		{"configured prefix", "+18005551234", "+12125550000", true},
		{"configured range", "+13135550150", "+12125550000", true},
		{"configured short code", "4357", "+12125550000", true},
		{"ordinary caller", "+12125551234", "+12125550000", false},
		{"anonymous", "anonymous", "+12125550000", false},
		{"empty", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := s.Lookup(context.Background(), q(tt.caller, tt.dialed))
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Equal(v.Reasons, []policy.Reason{policy.EmergencyExempt}) && v.Final; got != tt.exempt {
				t.Fatalf("exempt = %v (%+v), want %v", got, v, tt.exempt)
			}
		})
	}
}

func TestBadEntry(t *testing.T) {
	for _, in := range []string{"not a number", "name:*FOO*", "+1*x"} {
		if _, err := New([]string{in}, "US"); err == nil {
			t.Errorf("New(%q) accepted", in)
		}
	}
}

type panicky struct{}

func (panicky) Lookup(context.Context, reputation.Query) (reputation.Verdict, error) {
	panic("source bug")
}

// TestInternalErrorsStillAllow: whatever else goes wrong on the lookup
// path, an emergency number is allowed.
func TestInternalErrorsStillAllow(t *testing.T) {
	s := mustNew(t, "+12125550911")
	block, err := lists.New(lists.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e, _ := lists.ParseEntry("+12125550911", "US")
	e.List = lists.Block
	if err := block.Add(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	failing := reputation.SourceFunc(func(context.Context, reputation.Query) (reputation.Verdict, error) {
		return reputation.Verdict{}, errors.New("redis: connection refused")
	})
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	tests := []struct {
		name  string
		ctx   context.Context
		chain reputation.Chain
	}{
		{"a failing source after it", context.Background(), reputation.Chain{{Name: SourceName, Source: s}, {Name: "broken", Source: failing}}},
		{"a failing source before it", context.Background(), reputation.Chain{{Name: "broken", Source: failing}, {Name: SourceName, Source: s}}},
		{"on the must-block list too", context.Background(), reputation.Chain{{Name: SourceName, Source: s}, {Name: lists.SourceName, Source: block}}},
		{"a panicking source after it (never reached)", context.Background(), reputation.Chain{{Name: SourceName, Source: s}, {Name: "panics", Source: panicky{}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, _ := tt.chain.Lookup(tt.ctx, q("+12125550911", "+12125550000"))
			d := policy.Decide(policy.Call{Caller: number.Parse("+12125550911", "US")}, v.Verdict, policy.Default())
			if d.Action != policy.Allow || !slices.Contains(d.Reasons, policy.EmergencyExempt) {
				t.Fatalf("decision = %s %v, want allow with emergency.exempt", d.Action, d.Reasons)
			}
		})
	}
	// The call's deadline already passed: the source still answers.
	v, err := s.Lookup(expired, q("+12125550911", "+12125550000"))
	if err != nil || !v.Final {
		t.Fatalf("with an expired context: %+v, %v", v, err)
	}
	// Monitor mode, a blocking verdict from elsewhere, after hours: still
	// exempt, never challenged.
	p := policy.Default()
	p.Mode = policy.ModeMonitor
	d := policy.Decide(policy.Call{Caller: number.Parse("+12125550911", "US")},
		policy.Verdict{Tier: policy.TierSpam, Reasons: []policy.Reason{policy.EmergencyExempt, policy.ListBlock, policy.VelocityCallerBurst}}, p)
	if d.Action != policy.Allow || d.Held != "" || !slices.Equal(d.Reasons, []policy.Reason{policy.EmergencyExempt}) {
		t.Fatalf("decision = %+v", d)
	}
}
