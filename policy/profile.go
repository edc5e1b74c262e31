package policy

import (
	"fmt"
	"slices"
	"time"

	"github.com/callscreen/callscreen/number"
)

// Profile is the policy for one queue, DID range or tenant.
type Profile struct {
	Name string
	// Mode is enforce or monitor; "" means enforce.
	Mode Mode
	// Actions overrides the default action of a reason code.
	Actions map[Reason]Action
	// AfterHours overrides Actions outside business hours.
	AfterHours map[Reason]Action
	// Hours are the business hours; none means always open.
	Hours []Window
	// Location is the time zone Hours are in; nil means UTC.
	Location *time.Location
	// Emergency lists numbers that are never screened, as digits ("911")
	// or E.164 ("+12125550100").
	Emergency []string
	// Coverage selects which callers are screened with external sources.
	Coverage Coverage
	// Scores turns a provider's spam score into reasons; zero is off.
	Scores ScoreThresholds
	// Challenge configures the DTMF challenge.
	Challenge ChallengeSettings
	// BlockResult is what a block tells the dialplan: block or voicemail.
	BlockResult Result
	// Thresholds are the limits the behaviour and report sources apply.
	Thresholds Thresholds
}

// ScoreThresholds map a 0–100 spam score to reasons. A zero threshold is off.
type ScoreThresholds struct {
	// Block: a score at or above it raises provider.risk_high.
	Block int
	// Challenge: a score at or above it raises provider.risk_medium.
	Challenge int
}

// ChallengeSettings configure the "enter these digits" challenge.
type ChallengeSettings struct {
	// Digits is how many digits the caller must enter.
	Digits int
	// Attempts is how many tries the caller gets.
	Attempts int
	// Timeout bounds the wait for each digit.
	Timeout time.Duration
	// Prompts, as sound file names without extension.
	Intro, Retry, Thanks, Blocked string
	// OnFail is the result of a failed or abandoned challenge.
	OnFail Result
	// VerifiedFor is how long a caller who passed is not challenged again.
	VerifiedFor time.Duration
}

func (c ChallengeSettings) validate(profile string) error {
	switch {
	case c.Digits < 1 || c.Digits > 10:
		return fmt.Errorf("profile %q: challenge.digits %d: want 1 to 10", profile, c.Digits)
	case c.Attempts < 1 || c.Attempts > 5:
		return fmt.Errorf("profile %q: challenge.attempts %d: want 1 to 5", profile, c.Attempts)
	case c.Timeout < 500*time.Millisecond || c.Timeout > time.Minute:
		return fmt.Errorf("profile %q: challenge.timeout %s: want 500ms to 1m", profile, c.Timeout)
	case c.OnFail != ResultBlock && c.OnFail != ResultVoicemail:
		return fmt.Errorf("profile %q: challenge.on_fail %q: want block or voicemail", profile, c.OnFail)
	case c.VerifiedFor < 0:
		return fmt.Errorf("profile %q: challenge.verified_for %s: must not be negative", profile, c.VerifiedFor)
	}
	for name, v := range map[string]string{"intro": c.Intro, "retry": c.Retry, "thanks": c.Thanks, "blocked": c.Blocked} {
		if !ValidSound(v) {
			return fmt.Errorf("profile %q: challenge.prompts.%s %q: want a sound name of letters, digits, '/', '_', '-' or '.'", profile, name, v)
		}
	}
	return nil
}

// ValidSound accepts the sound names Asterisk plays (letters, digits and
// / _ - ., at most 128 bytes), and nothing that could need quoting or
// change an expression a sound name is written into.
func ValidSound(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '/' || c == '_' || c == '-' || c == '.':
		default:
			return false
		}
	}
	return true
}

// Thresholds are the limits of the caller-behaviour and report sources.
type Thresholds struct {
	// BurstCalls calls from one number within BurstWindow raise
	// velocity.caller_burst when exceeded.
	BurstCalls  int
	BurstWindow time.Duration
	// FloodPerMinute calls per minute to one dialed number raise
	// velocity.did_flood when exceeded; FloodPerMinuteAfterHours applies
	// outside business hours.
	FloodPerMinute           int
	FloodPerMinuteAfterHours int
	// RepeatGray challenges or flags within RepeatWindow raise
	// velocity.repeat_gray.
	RepeatGray   int
	RepeatWindow time.Duration
	// ReportWindow is how far back a spam report counts as recent.
	ReportWindow time.Duration
	// HoneypotFor is how long a caller who dialed a honeypot stays marked.
	HoneypotFor time.Duration
}

// Window is a span of business hours on some days of the week.
type Window struct {
	// Days are the weekdays the window applies to.
	Days []time.Weekday
	// Open and Close are offsets from local midnight; Close after Open.
	Open, Close time.Duration
}

// InHours reports whether t falls in the profile's business hours. A
// profile without hours is always open.
func (p Profile) InHours(t time.Time) bool {
	if len(p.Hours) == 0 {
		return true
	}
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	since := time.Duration(lt.Hour())*time.Hour + time.Duration(lt.Minute())*time.Minute + time.Duration(lt.Second())*time.Second
	for _, w := range p.Hours {
		if slices.Contains(w.Days, lt.Weekday()) && since >= w.Open && since < w.Close {
			return true
		}
	}
	return false
}

// IsEmergency reports whether n is on the profile's emergency list.
func (p Profile) IsEmergency(n number.Number) bool {
	for _, e := range p.Emergency {
		if e == "" {
			continue
		}
		if (n.Digits != "" && e == n.Digits) || (n.E164 != "" && e == n.E164) {
			return true
		}
	}
	return false
}

// DefaultEmergency are the emergency numbers every profile starts with.
var DefaultEmergency = []string{"911", "112", "933"}

// Default returns the built-in profile: the DESIGN defaults.
func Default() Profile {
	return Profile{
		Name:      "default",
		Mode:      ModeEnforce,
		Emergency: slices.Clone(DefaultEmergency),
		Coverage:  CoverageAll,
		Challenge: ChallengeSettings{
			Digits:      3,
			Attempts:    2,
			Timeout:     5 * time.Second,
			Intro:       "callscreen/intro",
			Retry:       "callscreen/retry",
			Thanks:      "callscreen/thanks",
			Blocked:     "callscreen/blocked",
			OnFail:      ResultBlock,
			VerifiedFor: 30 * 24 * time.Hour,
		},
		BlockResult: ResultBlock,
		Thresholds: Thresholds{
			BurstCalls:               4,
			BurstWindow:              10 * time.Minute,
			FloodPerMinute:           30,
			FloodPerMinuteAfterHours: 10,
			RepeatGray:               3,
			RepeatWindow:             7 * 24 * time.Hour,
			ReportWindow:             30 * 24 * time.Hour,
			HoneypotFor:              30 * 24 * time.Hour,
		},
	}
}
