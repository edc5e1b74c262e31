package screen

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
)

// localSource marks a source local, as the in-memory sources are.
type localSource struct{ reputation.Source }

func (localSource) Local() bool { return true }

// TestLocalLookupAgrees: a chain of local sources, asked on the call's
// goroutine, gives the call the outcome the same sources give when asked
// on a goroutine of their own, for every kind of answer.
func TestLocalLookupAgrees(t *testing.T) {
	const timeout = 30 * time.Millisecond
	answer := func(v reputation.Verdict, err error) reputation.Source {
		return reputation.SourceFunc(func(context.Context, reputation.Query) (reputation.Verdict, error) { return v, err })
	}
	var spam reputation.Verdict
	spam.Tier, spam.Score, spam.Scored = policy.TierSpam, 97, true
	spam.Reasons = []policy.Reason{policy.ProviderSpam}
	var business reputation.Verdict
	business.Tier, business.Reasons = policy.TierBusiness, []policy.Reason{policy.ProviderBusiness}
	blocked := make(chan struct{})
	defer close(blocked)
	tests := []struct {
		name string
		// aside is asked on a goroutine; local, marked local, on the
		// call's (a source that overruns cannot block it: it spins).
		aside, local reputation.Source
	}{
		{name: "nothing", aside: answer(reputation.Verdict{}, nil)},
		{name: "spam", aside: answer(spam, nil)},
		{name: "business", aside: answer(business, nil)},
		{name: "final", aside: answer(reputation.Verdict{Final: true, Verdict: policy.Verdict{Reasons: []policy.Reason{policy.ListAllow}}}, nil)},
		{name: "error", aside: answer(reputation.Verdict{}, errors.New("boom"))},
		{name: "not covered", aside: answer(reputation.Verdict{}, reputation.ErrNotCovered)},
		{name: "panic", aside: reputation.SourceFunc(func(context.Context, reputation.Query) (reputation.Verdict, error) {
			panic("source bug")
		})},
		{name: "overruns its deadline",
			aside: reputation.SourceFunc(func(context.Context, reputation.Query) (reputation.Verdict, error) {
				<-blocked
				return reputation.Verdict{}, nil
			}),
			local: reputation.SourceFunc(func(context.Context, reputation.Query) (reputation.Verdict, error) {
				for start := time.Now(); time.Since(start) <= timeout; {
				}
				return business, nil
			})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			local := tt.local
			if local == nil {
				local = tt.aside
			}
			// The chains: the source alone, and after the local lists.
			for _, shape := range []func(reputation.Source) reputation.Source{
				func(s reputation.Source) reputation.Source { return s },
				func(s reputation.Source) reputation.Source {
					return reputation.Chain{{Name: "lists", Source: localSource{lists(nil, nil)}}, {Name: "x", Source: s}}
				},
			} {
				got := runLookup(t, shape(localSource{local}), timeout)
				want := runLookup(t, shape(tt.aside), timeout)
				if !reputation.IsLocal(shape(localSource{local})) || reputation.IsLocal(shape(tt.aside)) {
					t.Fatal("the two chains are not local and not local")
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("asked locally:\n%+v\nasked aside:\n%+v", got, want)
				}
			}
		})
	}
}

// lookupOutcome is what a call's lookup decides, without what differs from
// one run to the next (ids, times, latencies).
type lookupOutcome struct {
	Vars     map[string]string
	Decision policy.Decision
	Tier     policy.Tier
	Reasons  []policy.Reason
	Score    int
	Error    string
}

func runLookup(t *testing.T, src reputation.Source, timeout time.Duration) lookupOutcome {
	t.Helper()
	e := newEnv(t, src, nil)
	e.flow.LookupTimeout = timeout
	ch := newFake()
	in := info("+12125551234")
	in.ScreenedKnown = true
	r := e.flow.Run(context.Background(), ch, in)
	ch.Vars[decision.VarID] = "" // differs every call
	return lookupOutcome{Vars: ch.Vars, Decision: r.Decision, Tier: r.Verdict.Tier, Reasons: r.Verdict.Reasons,
		Score: r.Verdict.Score, Error: r.Error}
}

func TestLocalLookupHonoursAnEndedCall(t *testing.T) {
	e := newEnv(t, localSource{lists(nil, nil)}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := &call{res: &decision.Result{}, base: e.flow.logger()}
	v := e.flow.lookupWith(ctx, e.flow.Source, c)
	if len(v.Reasons) != 1 || v.Reasons[0] != policy.ProviderUnavailable {
		t.Fatalf("verdict %+v after the call ended; want provider.unavailable", v)
	}
}

// TestLocalLookupCallEndsDuring: a call that ends while a local source is
// answering gets the lookup error the goroutine's deadline gives.
func TestLocalLookupCallEndsDuring(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := localSource{reputation.SourceFunc(func(context.Context, reputation.Query) (reputation.Verdict, error) {
		cancel()
		var v reputation.Verdict
		v.Tier = policy.TierBusiness
		return v, nil
	})}
	e := newEnv(t, src, nil)
	c := &call{res: &decision.Result{}, base: e.flow.logger()}
	v := e.flow.lookupWith(ctx, e.flow.Source, c)
	if v.Tier != policy.TierUnknown || len(v.Reasons) != 1 || v.Reasons[0] != policy.ProviderUnavailable ||
		c.res.Error != "reputation lookup: context canceled" {
		t.Fatalf("verdict %+v, error %q; want unknown, provider.unavailable, the lookup error", v, c.res.Error)
	}
}
