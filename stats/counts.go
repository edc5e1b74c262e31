package stats

import (
	"strings"
	"time"

	"github.com/callscreen/callscreen/audit"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/policy"
)

// Call is what the statistics keep of one screened call. It is made from a
// decision.Result as the call ends, or from a decision-log record when the
// statistics are rebuilt.
type Call struct {
	Time      time.Time
	Profile   string
	DID       string
	Mode      policy.Mode
	Action    policy.Action
	Held      policy.Action
	Result    policy.Result
	Challenge policy.Outcome
	Reasons   []policy.Reason
}

// FromResult takes what the statistics need from a result.
func FromResult(r *decision.Result) Call {
	return Call{
		Time: r.Time, Profile: r.Profile, DID: r.Dialed, Mode: r.Decision.Mode,
		Action: r.Decision.Action, Held: r.Decision.Held, Result: r.Result, Challenge: r.Challenge,
		Reasons: r.Decision.Reasons,
	}
}

// FromRecord takes what the statistics need from a decision-log record. A
// record whose time does not parse gives ok false.
func FromRecord(rec *audit.Record) (c Call, ok bool) {
	t, err := time.Parse(audit.TimeFormat, rec.Time)
	if err != nil {
		return Call{}, false
	}
	c = Call{
		Time: t, Profile: rec.Profile, DID: rec.Dialed, Mode: policy.Mode(rec.Mode),
		Action: policy.Action(rec.Action), Held: policy.Action(rec.Held), Result: policy.Result(rec.Result),
		Challenge: policy.Outcome(rec.Challenge), Reasons: make([]policy.Reason, len(rec.Reasons)),
	}
	for i, r := range rec.Reasons {
		c.Reasons[i] = policy.Reason(r)
	}
	return c, true
}

// The DID labels that are not numbers.
const (
	// DIDUnknown labels calls whose dialed number is missing or is not a
	// number (an extension such as "s").
	DIDUnknown = "(unknown)"
	// DIDOther labels calls to DIDs beyond Options.MaxDIDs.
	DIDOther = "(other)"
)

// didLabel is the DID a call is counted under: the dialed number as the
// flow normalised it when it looks like a number (an optional '+', then 1
// to 20 of 0-9, '*' and '#'), else DIDUnknown. What the trunk sends cannot
// make a label of any other shape.
func didLabel(dialed string) string {
	d := strings.TrimPrefix(dialed, "+")
	if len(d) < 1 || len(d) > 20 {
		return DIDUnknown
	}
	for i := 0; i < len(d); i++ {
		if c := d[i]; (c < '0' || c > '9') && c != '*' && c != '#' {
			return DIDUnknown
		}
	}
	return dialed
}

// Counts are the counters of one bucket (a minute or an hour of one
// profile and DID) or of any sum of buckets.
//
// Calls splits by action into Allowed, Blocked and Challenged; Challenged
// splits by outcome into Passed, Failed and Abandoned (a challenge that
// could not be played counts in none of them). Intercepted counts the calls
// kept from ringing (result block or voicemail, failed challenges
// included), Voicemail those sent to voicemail. Monitored counts calls
// decided in monitor mode, HeldBlock and HeldChallenge the decisions
// monitor mode held back.
type Counts struct {
	Calls         int64
	Allowed       int64
	Blocked       int64
	Challenged    int64
	Passed        int64
	Failed        int64
	Abandoned     int64
	Intercepted   int64
	Voicemail     int64
	Monitored     int64
	HeldBlock     int64
	HeldChallenge int64
	// Reasons counts the calls that carried each reason code.
	Reasons map[policy.Reason]int64
}

// counter names a field of Counts: its name in Redis and its address.
type counter struct {
	name string
	get  func(c *Counts) *int64
}

// counters are the fields of Counts but Reasons, by their stored names.
var counters = []counter{
	{"calls", func(c *Counts) *int64 { return &c.Calls }},
	{"allowed", func(c *Counts) *int64 { return &c.Allowed }},
	{"blocked", func(c *Counts) *int64 { return &c.Blocked }},
	{"challenged", func(c *Counts) *int64 { return &c.Challenged }},
	{"passed", func(c *Counts) *int64 { return &c.Passed }},
	{"failed", func(c *Counts) *int64 { return &c.Failed }},
	{"abandoned", func(c *Counts) *int64 { return &c.Abandoned }},
	{"intercepted", func(c *Counts) *int64 { return &c.Intercepted }},
	{"voicemail", func(c *Counts) *int64 { return &c.Voicemail }},
	{"monitored", func(c *Counts) *int64 { return &c.Monitored }},
	{"held_block", func(c *Counts) *int64 { return &c.HeldBlock }},
	{"held_challenge", func(c *Counts) *int64 { return &c.HeldChallenge }},
}

var counterByName = func() map[string]counter {
	m := make(map[string]counter, len(counters))
	for _, c := range counters {
		m[c.name] = c
	}
	return m
}()

// reasonPrefix starts the stored name of a reason counter.
const reasonPrefix = "r:"

// add counts one call, as each names the counters.
func (c *Counts) add(call *Call) {
	c.Calls++
	switch call.Action {
	case policy.Block:
		c.Blocked++
	case policy.Challenge:
		c.Challenged++
		switch call.Challenge {
		case policy.OutcomePassed:
			c.Passed++
		case policy.OutcomeFailed:
			c.Failed++
		case policy.OutcomeAbandoned:
			c.Abandoned++
		}
	default:
		c.Allowed++
	}
	switch call.Result {
	case policy.ResultBlock:
		c.Intercepted++
	case policy.ResultVoicemail:
		c.Intercepted++
		c.Voicemail++
	}
	if call.Mode == policy.ModeMonitor {
		c.Monitored++
	}
	switch call.Held {
	case policy.Block:
		c.HeldBlock++
	case policy.Challenge:
		c.HeldChallenge++
	}
	for _, r := range call.Reasons {
		if r.Known() {
			if c.Reasons == nil {
				c.Reasons = make(map[policy.Reason]int64, 4)
			}
			c.Reasons[r]++
		}
	}
}

// each calls fn with the stored name of every counter call adds one to;
// add does the same to a Counts (TestCountsNames keeps them equal).
func (c *Counts) each(call *Call, fn func(name string, n int64)) {
	fn("calls", 1)
	switch call.Action {
	case policy.Block:
		fn("blocked", 1)
	case policy.Challenge:
		fn("challenged", 1)
		switch call.Challenge {
		case policy.OutcomePassed:
			fn("passed", 1)
		case policy.OutcomeFailed:
			fn("failed", 1)
		case policy.OutcomeAbandoned:
			fn("abandoned", 1)
		}
	default:
		fn("allowed", 1)
	}
	switch call.Result {
	case policy.ResultBlock:
		fn("intercepted", 1)
	case policy.ResultVoicemail:
		fn("intercepted", 1)
		fn("voicemail", 1)
	}
	if call.Mode == policy.ModeMonitor {
		fn("monitored", 1)
	}
	switch call.Held {
	case policy.Block:
		fn("held_block", 1)
	case policy.Challenge:
		fn("held_challenge", 1)
	}
	for _, r := range call.Reasons {
		if r.Known() {
			fn(reasonPrefix+string(r), 1)
		}
	}
}

// addNamed adds n to the counter stored as name; unknown names (written by
// a later version) are ignored.
func (c *Counts) addNamed(name string, n int64) {
	if code, ok := strings.CutPrefix(name, reasonPrefix); ok {
		r := policy.Reason(code)
		if !r.Known() {
			return
		}
		if c.Reasons == nil {
			c.Reasons = make(map[policy.Reason]int64, 4)
		}
		c.Reasons[r] += n
		return
	}
	if k, ok := counterByName[name]; ok {
		*k.get(c) += n
	}
}

// merge adds o to c.
func (c *Counts) merge(o *Counts) {
	c.mergeCounters(o)
	if len(o.Reasons) > 0 && c.Reasons == nil {
		c.Reasons = make(map[policy.Reason]int64, len(o.Reasons))
	}
	for r, n := range o.Reasons {
		c.Reasons[r] += n
	}
}

// Junk counts the calls that were junk: blocked outright, failed the
// challenge, or would have been blocked in monitor mode.
func (c *Counts) Junk() int64 { return c.Blocked + c.Failed + c.HeldBlock }

// mergeCounters adds o's counters, not its reasons, to c.
func (c *Counts) mergeCounters(o *Counts) {
	c.Calls += o.Calls
	c.Allowed += o.Allowed
	c.Blocked += o.Blocked
	c.Challenged += o.Challenged
	c.Passed += o.Passed
	c.Failed += o.Failed
	c.Abandoned += o.Abandoned
	c.Intercepted += o.Intercepted
	c.Voicemail += o.Voicemail
	c.Monitored += o.Monitored
	c.HeldBlock += o.HeldBlock
	c.HeldChallenge += o.HeldChallenge
}
