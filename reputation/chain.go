package reputation

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/callscreen/callscreen/policy"
)

// Named is a Source with the name it is reported under.
type Named struct {
	Name string
	Source
}

// Chain runs sources in order, cheapest first, merging their verdicts and
// stopping early on a Final one.
type Chain []Named

var _ Local = Chain(nil)

// Local reports whether every source of the chain is local.
func (c Chain) Local() bool {
	for _, s := range c {
		if !IsLocal(s.Source) {
			return false
		}
	}
	return true
}

// Lookup runs the chain. It never returns an error: a failing source adds
// provider.unavailable to the verdict and the chain goes on.
func (c Chain) Lookup(ctx context.Context, q Query) (Verdict, error) {
	var out Verdict
	out.Tier = policy.TierUnknown
	if len(c) > 0 {
		out.Sources = make([]Report, 0, len(c)) // one allocation, not one per doubling
	}
	for _, s := range c {
		if ctx.Err() != nil {
			out.addReason(policy.ProviderUnavailable)
			break
		}
		start := time.Now()
		v, err := s.Lookup(ctx, q)
		out.Sources = append(out.Sources, Report{Source: s.Name, Verdict: v, Err: err, Latency: time.Since(start)})
		switch {
		case errors.Is(err, ErrNotCovered):
			out.addReason(policy.CallerOutOfCoverage)
			continue
		case err != nil:
			out.addReason(policy.ProviderUnavailable)
			continue
		}
		out.merge(s.Name, v)
		if v.Final {
			out.Final = true
			break
		}
	}
	return out, nil
}

func (v *Verdict) addReason(r policy.Reason) {
	if !slices.Contains(v.Reasons, r) {
		v.Reasons = append(v.Reasons, r)
	}
}

// merge folds one source's verdict into the chain's. The strongest tier
// wins (SPAM over BUSINESS over UNKNOWN); the highest score wins.
func (v *Verdict) merge(name string, s Verdict) {
	for _, r := range s.Reasons {
		v.addReason(r)
	}
	if tierRank(s.Tier) > tierRank(v.Tier) {
		v.Tier = s.Tier
		v.Source = name
	}
	if s.Scored && (!v.Scored || s.Score > v.Score) {
		v.Score, v.Scored = s.Score, true
	}
	if riskRank(s.Risk) > riskRank(v.Risk) {
		v.Risk = s.Risk
	}
	if s.RecentReports > v.RecentReports {
		v.RecentReports = s.RecentReports
	}
	if len(s.Raw) > 0 && v.Raw == nil {
		v.Raw = s.Raw
	}
	if s.Age > v.Age {
		v.Age = s.Age
	}
	if v.Source == "" && (len(s.Reasons) > 0 || s.Tier != "") {
		v.Source = name
	}
}

func tierRank(t policy.Tier) int {
	switch t {
	case policy.TierSpam:
		return 2
	case policy.TierBusiness:
		return 1
	}
	return 0
}

func riskRank(r Risk) int {
	switch r {
	case RiskHigh:
		return 3
	case RiskMedium:
		return 2
	case RiskLow:
		return 1
	}
	return 0
}
