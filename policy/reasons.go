package policy

import "sort"

// Reason is a stable, dotted, lower-case code saying why a decision was
// made. Reason codes are part of the dialplan contract (CALLSCREEN_REASONS)
// and of the decision log: once published, a code never changes meaning.
type Reason string

// The reason codes. Every code is listed in registry below with its default
// action and a one-line description; a test fails if one is missing.
const (
	ListAllow     Reason = "list.allow"
	ListBlock     Reason = "list.block"
	ListBlockName Reason = "list.block_name"

	FeedDailyReport Reason = "feed.daily_report"
	FeedRobocall    Reason = "feed.robocall"

	ProviderSpam          Reason = "provider.spam"
	ProviderRiskHigh      Reason = "provider.risk_high"
	ProviderRiskMedium    Reason = "provider.risk_medium"
	ProviderBusiness      Reason = "provider.business"
	ProviderRecentReports Reason = "provider.recent_reports"
	ProviderUnavailable   Reason = "provider.unavailable"

	CallerAnonymous     Reason = "caller.anonymous"
	CallerInvalid       Reason = "caller.invalid"
	CallerOutOfCoverage Reason = "caller.out_of_coverage"
	CallerOwnNumber     Reason = "caller.own_number"
	CallerNeighbor      Reason = "caller.neighbor"
	CallerHoneypot      Reason = "caller.honeypot"
	CallerVerifiedHuman Reason = "caller.verified_human"
	CallerReportedSpam  Reason = "caller.reported_spam"
	CallerReportedOK    Reason = "caller.reported_ok"
	// CallerHeaderInjection: the caller ID arrived with line breaks in it
	// (FastAGI writes it unescaped; see agi.Env.Injected).
	CallerHeaderInjection Reason = "caller.header_injection"

	VelocityCallerBurst Reason = "velocity.caller_burst"
	VelocityDIDFlood    Reason = "velocity.did_flood"
	VelocityRepeatGray  Reason = "velocity.repeat_gray"

	STIRVerified   Reason = "stir.verified"
	STIRPartial    Reason = "stir.partial"
	STIRUnverified Reason = "stir.unverified"

	EmergencyExempt      Reason = "emergency.exempt"
	LoopAlreadyScreened  Reason = "loop.already_screened"
	MonitorMode          Reason = "mode.monitor"
	InternalError        Reason = "internal.error"
	ChallengeUnavailable Reason = "challenge.unavailable"
)

// ReasonInfo documents one reason code.
type ReasonInfo struct {
	Code Reason
	// Default is the action the code asks for unless a profile says
	// otherwise. Codes that only annotate a decision ask for Allow.
	Default Action
	// Description is one line a supervisor can read.
	Description string
}

var registry = []ReasonInfo{
	{ListAllow, Allow, "caller is on the must-pass list; never challenged or blocked"},
	{ListBlock, Block, "caller number or prefix is on the must-block list"},
	{ListBlockName, Block, "caller name matches a must-block name pattern"},
	{FeedDailyReport, Block, "caller appears in the daily spam-report feed within the retention window"},
	{FeedRobocall, Block, "caller was reported in the feed as a recorded message or robocall"},
	{ProviderSpam, Block, "a reputation provider classifies the caller as spam"},
	{ProviderRiskHigh, Block, "a reputation provider rates the caller high risk"},
	{ProviderRiskMedium, Challenge, "a reputation provider rates the caller medium risk"},
	{ProviderBusiness, Allow, "a reputation provider identifies the caller as a business"},
	{ProviderRecentReports, Challenge, "the caller has spam reports within the profile's report window"},
	{ProviderUnavailable, Allow, "a reputation source failed or ran out of time; the call fails open"},
	{CallerAnonymous, Challenge, "the caller withheld the number (anonymous, restricted or private presentation)"},
	{CallerInvalid, Challenge, "the caller ID is empty, unknown or not a number any numbering plan assigns"},
	{CallerOutOfCoverage, Allow, "the caller is outside the numbering plans this profile screens; not sent to providers"},
	{CallerOwnNumber, Challenge, "the caller ID is one of our own numbers (likely spoofed)"},
	{CallerNeighbor, Challenge, "the caller shares area code and exchange with the dialed number (neighbour spoofing)"},
	{CallerHoneypot, Challenge, "the caller recently dialed one of our unassigned honeypot numbers"},
	{CallerVerifiedHuman, Allow, "the caller passed a challenge recently and is not challenged again"},
	{CallerReportedSpam, Block, "an agent reported this caller as spam"},
	{CallerReportedOK, Allow, "an agent reported this caller as not spam; overrides provider verdicts"},
	{CallerHeaderInjection, Challenge, "the caller name or number carried line breaks (forged AGI header lines); read as one value with the breaks as spaces"},
	{VelocityCallerBurst, Challenge, "the caller placed more calls than the burst limit within the window"},
	{VelocityDIDFlood, Challenge, "the dialed number is receiving more calls per minute than the flood limit"},
	{VelocityRepeatGray, Challenge, "the caller was challenged or flagged repeatedly in recent days"},
	{STIRVerified, Allow, "STIR/SHAKEN: the carrier fully attested the caller ID (A) and Asterisk verified the signature; neighbour and own-number spoofing suspicions do not count"},
	{STIRPartial, Allow, "STIR/SHAKEN: partial attestation (B: the carrier knows the customer, not that the number is theirs), verified"},
	{STIRUnverified, Challenge, "STIR/SHAKEN: gateway attestation (C), no Identity header, or a failed verification; challenges an otherwise gray call, never blocks"},
	{EmergencyExempt, Allow, "emergency or critical number; never screened"},
	{LoopAlreadyScreened, Allow, "the call was already screened (transfer or forward loop); not screened twice"},
	{MonitorMode, Allow, "monitor mode: the decision was logged but the call was allowed"},
	{InternalError, Allow, "callscreen hit an internal error on this call and failed open"},
	{ChallengeUnavailable, Allow, "a challenge was asked for but could not be played; the call fails open"},
}

var byCode = func() map[Reason]ReasonInfo {
	m := make(map[Reason]ReasonInfo, len(registry))
	for _, r := range registry {
		m[r.Code] = r
	}
	return m
}()

// Reasons returns every documented reason code, sorted.
func Reasons() []ReasonInfo {
	out := append([]ReasonInfo(nil), registry...)
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// Lookup returns the documentation of a reason code.
func Lookup(r Reason) (ReasonInfo, bool) {
	info, ok := byCode[r]
	return info, ok
}

// Known reports whether r is a documented reason code.
func (r Reason) Known() bool {
	_, ok := byCode[r]
	return ok
}

// Description returns the one-line description of r, or "" if r is unknown.
func (r Reason) Description() string { return byCode[r].Description }
