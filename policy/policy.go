package policy

import (
	"fmt"
	"slices"
	"time"

	"github.com/callscreen/callscreen/number"
)

// Tier is the reputation class of a caller.
type Tier string

// The tiers.
const (
	TierSpam     Tier = "SPAM"
	TierBusiness Tier = "BUSINESS"
	TierUnknown  Tier = "UNKNOWN"
)

// Action is what the policy asks the call flow to do.
type Action string

// The actions, in increasing severity.
const (
	Allow     Action = "allow"
	Challenge Action = "challenge"
	Block     Action = "block"
)

func (a Action) severity() int {
	switch a {
	case Block:
		return 2
	case Challenge:
		return 1
	default:
		return 0
	}
}

// Valid reports whether a is one of the three actions.
func (a Action) Valid() bool { return a == Allow || a == Challenge || a == Block }

// Result is what the dialplan branches on (CALLSCREEN_RESULT).
type Result string

// The results.
const (
	ResultAllow     Result = "allow"
	ResultBlock     Result = "block"
	ResultVoicemail Result = "voicemail"
)

// Valid reports whether r is one of the three results.
func (r Result) Valid() bool { return r == ResultAllow || r == ResultBlock || r == ResultVoicemail }

// Outcome is how a challenge ended (CALLSCREEN_CHALLENGE).
type Outcome string

// The challenge outcomes.
const (
	OutcomeNone      Outcome = "none"
	OutcomePassed    Outcome = "passed"
	OutcomeFailed    Outcome = "failed"
	OutcomeAbandoned Outcome = "abandoned"
)

// Mode says whether decisions are enforced or only logged.
type Mode string

// The modes.
const (
	ModeEnforce Mode = "enforce"
	ModeMonitor Mode = "monitor"
)

// Coverage says which callers a profile screens with external sources.
type Coverage string

// The coverages.
const (
	CoverageAll  Coverage = "all"
	CoverageNANP Coverage = "nanp"
)

// Call is what the policy knows about the call itself.
type Call struct {
	Caller number.Number
	// Name is the caller ID name, "" when absent.
	Name string
	// Dialed is the number the caller dialed (DNID or extension).
	Dialed number.Number
	// Restricted is true when the presentation withholds the number
	// (CALLERID(num-pres) prohib*, or agi_callingpres & 0x60 == 0x20).
	Restricted bool
	// AlreadyScreened is true when CALLSCREEN_ID was already set on the
	// channel: a transfer or forward loop.
	AlreadyScreened bool
	// Verified is true when the caller passed a challenge recently.
	Verified bool
	// STIR is the STIR/SHAKEN result the PBX verified, zero when none.
	STIR STIR
	// HeaderInjection is true when the caller ID carried line breaks that
	// the transport had to read back into one value.
	HeaderInjection bool
	// Time is when the call arrived; it selects business or after hours.
	Time time.Time
}

// Anonymous reports whether the caller withheld the number.
func (c Call) Anonymous() bool { return c.Restricted || c.Caller.Kind == number.Anonymous }

// Verdict is what the reputation sources concluded about a caller.
type Verdict struct {
	// Tier is the caller's class; "" reads as TierUnknown.
	Tier Tier
	// Score is a spam score from 0 (clean) to 100 (spam); valid only when
	// Scored is true.
	Score  int
	Scored bool
	// Reasons are the signals the sources raised.
	Reasons []Reason
}

// Decision is the policy's answer for one call.
type Decision struct {
	// Action is what the call flow does now: in monitor mode always Allow.
	Action Action
	// Held is the action monitor mode held back; "" in enforce mode.
	Held Action
	// Mode is the mode the decision was made in.
	Mode Mode
	// Tier is the caller's class.
	Tier Tier
	// Score is the caller's spam score, valid when Scored.
	Score  int
	Scored bool
	// Reasons lists the reasons, those that decided first.
	Reasons []Reason
	// Profile is the name of the profile applied.
	Profile string
	// Challenge holds the challenge settings when Action is Challenge.
	Challenge ChallengeSettings
	// BlockResult is the result a block gives the dialplan.
	BlockResult Result
}

// Result maps the decision and the outcome of its challenge (OutcomeNone
// when none was played) to the result the dialplan branches on.
func (d Decision) Result(o Outcome) Result {
	switch d.Action {
	case Block:
		return d.BlockResult
	case Challenge:
		switch o {
		case OutcomePassed, OutcomeNone:
			return ResultAllow
		default:
			return d.Challenge.OnFail
		}
	default:
		return ResultAllow
	}
}

// Decide applies profile p to call c and verdict v. It is pure: the same
// inputs always give the same decision.
func Decide(c Call, v Verdict, p Profile) Decision {
	d := Decision{
		Action:      Allow,
		Mode:        p.Mode,
		Tier:        v.Tier,
		Score:       v.Score,
		Scored:      v.Scored,
		Profile:     p.Name,
		Challenge:   p.Challenge,
		BlockResult: p.BlockResult,
	}
	if d.Mode == "" {
		d.Mode = ModeEnforce
	}
	if d.Tier == "" {
		d.Tier = TierUnknown
	}
	if d.BlockResult == "" {
		d.BlockResult = ResultBlock
	}
	if d.Challenge.OnFail == "" {
		d.Challenge.OnFail = ResultBlock
	}

	// Emergency and loop exemptions come before everything, monitor mode
	// included: they are never screened.
	if p.IsEmergency(c.Caller) || p.IsEmergency(c.Dialed) || slices.Contains(v.Reasons, EmergencyExempt) {
		d.Reasons = []Reason{EmergencyExempt}
		return d
	}
	if c.AlreadyScreened {
		d.Reasons = []Reason{LoopAlreadyScreened}
		return d
	}

	reasons := gather(c, v, p)
	afterHours := !p.InHours(c.Time)
	act := Allow
	switch {
	case slices.Contains(reasons, ListAllow):
		// Must-pass wins over everything.
		act = Allow
	default:
		overridden := slices.Contains(reasons, CallerReportedOK)
		// A caller ID the carrier fully attested is not spoofed: the
		// reasons that only suspect spoofing do not count.
		attested := slices.Contains(reasons, STIRVerified)
		for _, r := range reasons {
			if overridden && (reputational(r) || r == STIRUnverified) {
				continue
			}
			if attested && spoofSuspicion(r) {
				continue
			}
			if a := p.ActionFor(r, afterHours); a.severity() > act.severity() {
				act = a
			}
		}
	}
	if act == Challenge && c.Verified {
		act = Allow
		reasons = append(reasons, CallerVerifiedHuman)
	}
	d.Reasons = order(reasons, act, p, afterHours)
	d.Action = act
	if d.Mode == ModeMonitor {
		d.Held = act
		d.Action = Allow
		d.Reasons = append(d.Reasons, MonitorMode)
	}
	return d
}

// reputational reports whether r comes from what others say about the
// caller (providers, feed), which an agent's "not spam" overrides.
func reputational(r Reason) bool {
	switch r {
	case ProviderSpam, ProviderRiskHigh, ProviderRiskMedium, ProviderRecentReports,
		FeedDailyReport, FeedRobocall, VelocityRepeatGray, CallerHoneypot:
		return true
	}
	return false
}

// spoofSuspicion reports whether r only suspects a spoofed caller ID,
// which a verified full (A) attestation rules out.
func spoofSuspicion(r Reason) bool {
	return r == CallerNeighbor || r == CallerOwnNumber
}

// gather collects the verdict's reasons and those the call itself raises,
// without duplicates.
func gather(c Call, v Verdict, p Profile) []Reason {
	reasons := make([]Reason, 0, len(v.Reasons)+3)
	add := func(r Reason) {
		if !slices.Contains(reasons, r) {
			reasons = append(reasons, r)
		}
	}
	for _, r := range v.Reasons {
		add(r)
	}
	switch {
	case c.Anonymous():
		add(CallerAnonymous)
	case c.Caller.Kind != number.Valid:
		add(CallerInvalid)
	case p.Coverage == CoverageNANP && !c.Caller.NANP():
		add(CallerOutOfCoverage)
	}
	if c.HeaderInjection {
		add(CallerHeaderInjection)
	}
	if v.Tier == TierSpam && !v.hasBlocking() {
		add(ProviderSpam)
	}
	// STIR/SHAKEN: an unverified call counts only when it is gray; a
	// business the providers know is not challenged for its carrier's
	// attestation.
	if r := c.STIR.Reason(); r != "" && (r != STIRUnverified || v.Tier != TierBusiness) {
		add(r)
	}
	if v.Scored {
		switch {
		case p.Scores.Block > 0 && v.Score >= p.Scores.Block:
			add(ProviderRiskHigh)
		case p.Scores.Challenge > 0 && v.Score >= p.Scores.Challenge:
			add(ProviderRiskMedium)
		}
	}
	return reasons
}

func (v Verdict) hasBlocking() bool {
	for _, r := range v.Reasons {
		if info, ok := byCode[r]; ok && info.Default == Block {
			return true
		}
	}
	return false
}

// order puts the reasons that decided (those asking for act) first, keeping
// the sources' order otherwise.
func order(reasons []Reason, act Action, p Profile, afterHours bool) []Reason {
	out := make([]Reason, 0, len(reasons)+1)
	for _, r := range reasons {
		if p.ActionFor(r, afterHours) == act {
			out = append(out, r)
		}
	}
	for _, r := range reasons {
		if p.ActionFor(r, afterHours) != act {
			out = append(out, r)
		}
	}
	return out
}

// ActionFor returns the action reason r asks for under profile p.
func (p Profile) ActionFor(r Reason, afterHours bool) Action {
	if afterHours {
		if a, ok := p.AfterHours[r]; ok {
			return a
		}
	}
	if a, ok := p.Actions[r]; ok {
		return a
	}
	switch r {
	case ListAllow, EmergencyExempt, LoopAlreadyScreened, CallerVerifiedHuman, MonitorMode:
		return Allow
	}
	return byCode[r].Default
}

// Validate checks a profile for values Decide cannot use.
func (p Profile) Validate() error {
	if p.Mode != "" && p.Mode != ModeEnforce && p.Mode != ModeMonitor {
		return fmt.Errorf("profile %q: mode %q: want enforce or monitor", p.Name, p.Mode)
	}
	if p.Coverage != "" && p.Coverage != CoverageAll && p.Coverage != CoverageNANP {
		return fmt.Errorf("profile %q: coverage %q: want all or nanp", p.Name, p.Coverage)
	}
	for _, m := range []map[Reason]Action{p.Actions, p.AfterHours} {
		for r, a := range m {
			if !r.Known() {
				return fmt.Errorf("profile %q: unknown reason code %q", p.Name, r)
			}
			if !a.Valid() {
				return fmt.Errorf("profile %q: reason %q: action %q: want allow, challenge or block", p.Name, r, a)
			}
			if r == STIRUnverified && a == Block {
				return fmt.Errorf("profile %q: reason %q: action block: a missing or failed signature is no evidence of spam; want allow or challenge", p.Name, r)
			}
		}
	}
	if p.BlockResult != "" && p.BlockResult != ResultBlock && p.BlockResult != ResultVoicemail {
		return fmt.Errorf("profile %q: block_result %q: want block or voicemail", p.Name, p.BlockResult)
	}
	return p.Challenge.validate(p.Name)
}
