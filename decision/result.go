package decision

import (
	"errors"
	"time"

	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
)

// The routing variables the flow sets on every screened call (DESIGN §4).
const (
	VarResult    = "CALLSCREEN_RESULT"
	VarAction    = "CALLSCREEN_ACTION"
	VarTier      = "CALLSCREEN_TIER"
	VarChallenge = "CALLSCREEN_CHALLENGE"
	VarReasons   = "CALLSCREEN_REASONS"
	VarScore     = "CALLSCREEN_SCORE"
	VarID        = "CALLSCREEN_ID"
	VarMode      = "CALLSCREEN_MODE"
	VarHeld      = "CALLSCREEN_HELD"
)

// RoutingVars lists the routing variables in the order the flow sets them.
// CALLSCREEN_ID comes last: once it is set the call counts as screened.
var RoutingVars = []string{VarResult, VarAction, VarTier, VarChallenge, VarReasons, VarScore, VarMode, VarHeld, VarID}

// Result is the complete story of one screened call: what was known, what
// was decided, what happened. It is what the decision log records, the
// metrics count and the admin API shows.
type Result struct {
	// ID is the decision id, also set as CALLSCREEN_ID.
	ID        string
	Time      time.Time
	Tenant    string
	Profile   string
	Transport string
	// Channel and UniqueID identify the Asterisk channel.
	Channel, UniqueID string
	// Caller is the caller in E.164 when it has one, else as received.
	Caller     string
	CallerRaw  string
	CallerName string
	Dialed     string
	// Attestation ("A", "B", "C", "none") and VerifyResult (Asterisk's
	// verify_result, "unknown" for a code callscreen does not know) are
	// the call's STIR/SHAKEN result, "" when it carried none.
	Attestation, VerifyResult string
	Decision                  policy.Decision
	Result                    policy.Result
	Challenge                 policy.Outcome
	// WrongEntries counts wrong challenge entries.
	WrongEntries int
	// Verdict is the reputation chain's answer, with every source's report.
	Verdict reputation.Verdict
	// DecisionLatency is the time from the start of the session to the
	// policy decision; Duration covers the whole session, challenge included.
	DecisionLatency time.Duration
	Duration        time.Duration
	// ConfigVersion identifies the configuration the decision was made under.
	ConfigVersion string
	// Error is a failure the call failed open on, "" when none.
	Error string
	// Committed is set by the flow once it has handed the result to the
	// Committers (the decision log) before sending the routing variables;
	// they skip it when Record brings it again at the end of the call.
	Committed bool
}

// Recorder receives every Result. Record must not block the call: an
// implementation that does slow work queues it.
type Recorder interface {
	Record(r *Result)
}

// Committer is a Recorder that must hold a Result before the caller
// learns the decision: the flow calls Commit right before it sends the
// routing variables, so that a crash after that loses nothing the dialplan
// was told (the decision log writes the record to the operating system).
// Commit may take a few microseconds but never long: an implementation
// that cannot keep the result now queues it and returns an error, which
// it has counted and reported itself; the call goes on either way.
// Record is still called at the end of the call, with Committed set.
type Committer interface {
	Recorder
	Commit(r *Result) error
}

// RecorderFunc adapts a function to a Recorder.
type RecorderFunc func(r *Result)

// Record calls f.
func (f RecorderFunc) Record(r *Result) { f(r) }

// Recorders fans a Result out to several recorders in order.
type Recorders []Recorder

// Record passes r to every recorder.
func (rs Recorders) Record(r *Result) {
	for _, rec := range rs {
		rec.Record(r)
	}
}

var _ Committer = Recorders(nil)

// Commit passes r to every recorder that is a Committer, in order, and
// returns their errors joined.
func (rs Recorders) Commit(r *Result) error {
	var errs []error
	for _, rec := range rs {
		if c, ok := rec.(Committer); ok {
			if err := c.Commit(r); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
