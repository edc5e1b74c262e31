package audit

import (
	"errors"
	"time"

	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
)

// ToResult turns a record back into the decision it records, as far as the
// log keeps it: source errors come back as plain errors with their text,
// durations at microsecond resolution. A time that does not parse is the
// zero time.
func (r *Record) ToResult() *decision.Result {
	t, _ := time.Parse(TimeFormat, r.Time)
	res := &decision.Result{
		ID: r.ID, Time: t, Tenant: r.Tenant, Profile: r.Profile, Transport: r.Transport,
		Channel: r.Channel, UniqueID: r.UniqueID, Caller: r.Caller, CallerRaw: r.CallerRaw, CallerName: r.CallerName,
		Dialed: r.Dialed, Attestation: r.Attestation, VerifyResult: r.VerifyResult,
		Decision: policy.Decision{
			Action: policy.Action(r.Action), Held: policy.Action(r.Held), Mode: policy.Mode(r.Mode),
			Tier: policy.Tier(r.Tier), Reasons: reasons(r.Reasons), Profile: r.Profile,
		},
		Result: policy.Result(r.Result), Challenge: policy.Outcome(r.Challenge), WrongEntries: r.WrongEntries,
		DecisionLatency: time.Duration(r.LatencyUS) * time.Microsecond,
		Duration:        time.Duration(r.DurationUS) * time.Microsecond,
		ConfigVersion:   r.ConfigVersion, Error: r.Error,
	}
	if res.CallerRaw == "" {
		res.CallerRaw = r.Caller
	}
	if r.Score != nil {
		res.Decision.Score, res.Decision.Scored = *r.Score, true
	}
	res.Verdict.Tier = res.Decision.Tier
	for _, s := range r.Sources {
		rep := reputation.Report{
			Source:  s.Source,
			Latency: time.Duration(s.LatencyUS) * time.Microsecond,
			Verdict: reputation.Verdict{
				Verdict:       policy.Verdict{Tier: policy.Tier(s.Tier), Reasons: reasons(s.Reasons)},
				Risk:          reputation.Risk(s.Risk),
				RecentReports: s.RecentReports,
				Source:        s.Source,
				Raw:           s.Raw,
			},
		}
		if s.Score != nil {
			rep.Verdict.Score, rep.Verdict.Scored = *s.Score, true
		}
		if s.Error != "" {
			rep.Err = errors.New(s.Error)
		}
		res.Verdict.Sources = append(res.Verdict.Sources, rep)
	}
	return res
}

func reasons(codes []string) []policy.Reason {
	out := make([]policy.Reason, len(codes))
	for i, c := range codes {
		out[i] = policy.Reason(c)
	}
	return out
}
