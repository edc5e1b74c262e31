package reputation

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/callscreen/callscreen/policy"
)

func fixed(v Verdict, err error) SourceFunc {
	return func(context.Context, Query) (Verdict, error) { return v, err }
}

func TestChain(t *testing.T) {
	var calledLast bool
	last := SourceFunc(func(context.Context, Query) (Verdict, error) {
		calledLast = true
		return Verdict{Verdict: policy.Verdict{Tier: policy.TierBusiness, Reasons: []policy.Reason{policy.ProviderBusiness}}}, nil
	})
	tests := []struct {
		name       string
		chain      Chain
		tier       policy.Tier
		reasons    []policy.Reason
		reachLast  bool
		lastSource string
	}{
		{
			name:      "empty sources know nothing",
			chain:     Chain{{"a", fixed(Verdict{}, nil)}, {"last", last}},
			tier:      policy.TierBusiness,
			reasons:   []policy.Reason{policy.ProviderBusiness},
			reachLast: true,
		},
		{
			name:    "final verdict stops the chain",
			chain:   Chain{{"lists", fixed(Verdict{Verdict: policy.Verdict{Tier: policy.TierSpam, Reasons: []policy.Reason{policy.ListBlock}}, Final: true}, nil)}, {"last", last}},
			tier:    policy.TierSpam,
			reasons: []policy.Reason{policy.ListBlock},
		},
		{
			name:      "a failing source fails open and the chain goes on",
			chain:     Chain{{"broken", fixed(Verdict{}, errors.New("boom"))}, {"last", last}},
			tier:      policy.TierBusiness,
			reasons:   []policy.Reason{policy.ProviderUnavailable, policy.ProviderBusiness},
			reachLast: true,
		},
		{
			name:      "not covered",
			chain:     Chain{{"youmail", fixed(Verdict{}, ErrNotCovered)}, {"last", last}},
			tier:      policy.TierBusiness,
			reasons:   []policy.Reason{policy.CallerOutOfCoverage, policy.ProviderBusiness},
			reachLast: true,
		},
		{
			name: "spam beats business",
			chain: Chain{
				{"p1", fixed(Verdict{Verdict: policy.Verdict{Tier: policy.TierSpam, Score: 90, Scored: true, Reasons: []policy.Reason{policy.ProviderSpam}}}, nil)},
				{"last", last},
			},
			tier:      policy.TierSpam,
			reasons:   []policy.Reason{policy.ProviderSpam, policy.ProviderBusiness},
			reachLast: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calledLast = false
			v, err := tt.chain.Lookup(context.Background(), Query{})
			if err != nil {
				t.Fatal(err)
			}
			if v.Tier != tt.tier || !slices.Equal(v.Reasons, tt.reasons) || calledLast != tt.reachLast {
				t.Fatalf("got tier %s reasons %v reached last %v; want %s %v %v", v.Tier, v.Reasons, calledLast, tt.tier, tt.reasons, tt.reachLast)
			}
			if len(v.Sources) == 0 {
				t.Fatal("no source reports")
			}
		})
	}
}

func TestChainCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	v, _ := Chain{{"a", fixed(Verdict{}, nil)}}.Lookup(ctx, Query{})
	if !slices.Contains(v.Reasons, policy.ProviderUnavailable) {
		t.Fatalf("cancelled chain reasons %v; want provider.unavailable", v.Reasons)
	}
}

type local struct {
	SourceFunc
	yes bool
}

func (l local) Local() bool { return l.yes }

func TestChainLocal(t *testing.T) {
	mem, io, says := local{fixed(Verdict{}, nil), true}, fixed(Verdict{}, nil), local{fixed(Verdict{}, nil), false}
	for _, tt := range []struct {
		name  string
		chain Chain
		want  bool
	}{
		{"all local", Chain{{"a", mem}, {"b", mem}}, true},
		{"one without Local", Chain{{"a", mem}, {"b", io}}, false},
		{"one that says no", Chain{{"a", says}, {"b", mem}}, false},
		{"a local chain inside", Chain{{"a", Chain{{"b", mem}}}}, true},
		{"a chain that is not", Chain{{"a", mem}, {"b", Chain{{"c", io}}}}, false},
	} {
		if got := IsLocal(tt.chain); got != tt.want {
			t.Errorf("%s: IsLocal = %v; want %v", tt.name, got, tt.want)
		}
	}
	if IsLocal(io) || !IsLocal(mem) || IsLocal(says) {
		t.Error("IsLocal of single sources")
	}
}
