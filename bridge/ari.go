package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/callscreen/callscreen/ari"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/screen"
)

// ARI returns c as a screen.Channel. Sounds play as sound:NAME media,
// digits as callscreen's own digit sounds (sound:callscreen/digits/N) in
// one playback; keys pressed during a playback that does not take them
// stay buffered for ReadDigits.
func ARI(c *ari.Call) screen.Channel { return &ariChannel{c: c} }

// ARIInfo returns what the StasisStart says about the call; the tenant and
// profile are those the App's Scope (an ARIScope) gave the call. ARI's channel
// has no caller presentation: Presentation stays "" and PresentationCode
// -1, and the flow reads CALLERID(num-pres) through Variable. Dialed is
// the extension (ARI has no DNID field). A Stasis argument screened=ID
// (the dialplan include passes ${CALLSCREEN_ID}) hands the flow
// CALLSCREEN_ID without a variable read; without it the flow reads the
// variable.
func ARIInfo(c *ari.Call) decision.CallInfo {
	ch := c.Channel
	info := decision.CallInfo{
		ID:               ch.ID,
		Channel:          ch.Name,
		CallerNumber:     ch.Caller.Number,
		CallerName:       ch.Caller.Name,
		PresentationCode: -1,
		Dialed:           ch.Dialplan.Exten,
		Context:          ch.Dialplan.Context,
		Extension:        ch.Dialplan.Exten,
		Profile:          c.Profile,
		Tenant:           c.Tenant,
		Language:         ch.Language,
		Transport:        "ari",
	}
	if v, ok := c.Params["screened"]; ok {
		info.Screened, info.ScreenedKnown = v, true
	}
	// The STIR/SHAKEN result the include read (attest=, verify=).
	info.Attestation, info.VerifyResult = c.Params["attest"], c.Params["verify"]
	return info
}

// ARIScope reads a Stasis call's tenant and profile, as AGIInfo reads
// them from the AGI() URL and arguments: the tenant= and profile=
// arguments (the transport lower-cases the keys), else Tenant and Profile,
// the server's defaults (ari.servers[].tenant and .profile). An empty
// argument (an unset dialplan variable) means the default. A tenant that is
// not 1 to 64 letters, digits, '.', '_' or '-', or that Tenants (when not
// empty) does not list, and a profile that is not of those characters, are
// ignored and reported: tenants and profiles become metric labels and
// Redis key prefixes, and nothing a caller can put in a channel variable
// may choose them.
type ARIScope struct {
	Tenant, Profile string
	Tenants         []string
}

var _ ari.Scope = ARIScope{}

// Validate checks the default tenant (the default profile is one the
// configuration defines).
func (s ARIScope) Validate() error {
	if s.Tenant != "" && !validLabel(s.Tenant) {
		return fmt.Errorf("tenant %q: want 1 to 64 letters, digits, '.', '_' or '-'", s.Tenant)
	}
	return nil
}

// Scope implements ari.Scope.
func (s ARIScope) Scope(params map[string]string) (tenant, profile string, ignored []any) {
	tenant, profile = s.Tenant, s.Profile
	if t := params["tenant"]; t != "" {
		switch {
		case !validLabel(t):
			ignored = append(ignored, "bad_tenant", t)
		case len(s.Tenants) > 0 && !slices.Contains(s.Tenants, t):
			ignored = append(ignored, "unlisted_tenant", t)
		default:
			tenant = t
		}
	}
	if p := params["profile"]; p != "" {
		if validLabel(p) {
			profile = p
		} else {
			ignored = append(ignored, "bad_profile", p)
		}
	}
	return tenant, profile, ignored
}

// validLabel accepts tenant and profile names: 1 to 64 letters, digits,
// '.', '_' or '-'.
func validLabel(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.' || c == '_' || c == '-':
		default:
			return false
		}
	}
	return true
}

// ARIHandler returns an ari.Handler that screens every call with the flow
// flow returns at the start of that call (so a reload can swap flows
// between calls). The ari.App continues the channel when it returns.
func ARIHandler(flow func() *screen.Flow) ari.Handler {
	return ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
		flow().Run(ctx, ARI(c), ARIInfo(c))
	})
}

// ARIRecover is what an ari.App sets (its Recover field) on a channel it
// finds waiting in the application after a reconnect: the call was never
// screened and goes on as allowed, as when callscreen is unreachable.
func ARIRecover() []ari.Var {
	return []ari.Var{
		{Name: decision.VarResult, Value: "allow"},
		{Name: decision.VarAction, Value: "allow"},
		{Name: decision.VarChallenge, Value: "none"},
	}
}

type ariChannel struct{ c *ari.Call }

var _ screen.Channel = (*ariChannel)(nil)

// ariErr maps the transport's hangup error onto screen.ErrHangup.
func ariErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ari.ErrHangup) {
		return fmt.Errorf("%s: %w: %w", op, screen.ErrHangup, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func (a *ariChannel) Answer(ctx context.Context) error {
	return ariErr("answer", a.c.Answer(ctx))
}

func (a *ariChannel) Play(ctx context.Context, sound, interrupt string) (string, error) {
	key, err := a.c.Play(ctx, []string{"sound:" + sound}, interrupt)
	return key, ariErr("play "+sound, err)
}

// SayDigits plays callscreen's own sound for each digit, as one playback
// of a sound: list: not digits:, which plays Asterisk's core digits/N and
// finishes normally, silent, when they are missing. A sound: playback can
// also be stopped by a key, which digits: cannot.
func (a *ariChannel) SayDigits(ctx context.Context, digits, interrupt string) (string, error) {
	media := make([]string, 0, len(digits))
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return "", fmt.Errorf("say digits: %q is not a digit string: %w", digits, ari.ErrBadArgument)
		}
		media = append(media, "sound:"+screen.DigitSound(digits[i]))
	}
	key, err := a.c.Play(ctx, media, interrupt)
	return key, ariErr("say digits", err)
}

func (a *ariChannel) ReadDigits(ctx context.Context, sound string, timeout time.Duration, max int) (string, error) {
	var media []string
	if sound != "" {
		media = []string{"sound:" + sound}
	}
	digits, err := a.c.ReadDigits(ctx, media, timeout, max)
	return digits, ariErr("read digits", err)
}

func (a *ariChannel) Variable(ctx context.Context, name string) (string, bool, error) {
	v, ok, err := a.c.Variable(ctx, name)
	return v, ok, ariErr("get variable "+name, err)
}

func (a *ariChannel) SetVariables(ctx context.Context, vars []screen.Var) error {
	av := make([]ari.Var, len(vars))
	for i, v := range vars {
		av[i] = ari.Var{Name: v.Name, Value: v.Value}
	}
	return ariErr("set variables", a.c.SetVariables(ctx, av))
}

func (a *ariChannel) Hangup(ctx context.Context) error {
	return ariErr("hangup", a.c.Hangup(ctx))
}
