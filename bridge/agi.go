package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/callscreen/callscreen/agi"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/screen"
)

// ReadPrompt is what a FastAGI ReadDigits plays when the flow asks for no
// sound: GET DATA needs a file, and callscreen's own beep tells the caller
// to type.
const ReadPrompt = screen.BeepSound

// AGI returns s as a screen.Channel.
func AGI(s *agi.Session) screen.Channel { return &agiChannel{s: s} }

// AGIInfo returns what the AGI environment says about the call. The
// profile and tenant come from the AGI() URL query (?profile=sales&tenant=acme)
// or, failing that, from AGI() arguments written profile=NAME / tenant=NAME.
// An argument screened=ID (the dialplan include passes ${CALLSCREEN_ID})
// hands the flow CALLSCREEN_ID without a GET VARIABLE; attest= and verify=
// hand it the STIR/SHAKEN result, read by the include.
func AGIInfo(env *agi.Env) decision.CallInfo {
	info := decision.CallInfo{
		ID:               env.UniqueID,
		Channel:          env.Channel,
		CallerNumber:     env.CallerID,
		CallerName:       env.CallerIDName,
		PresentationCode: env.CallingPres,
		Dialed:           env.DNID,
		Context:          env.Context,
		Extension:        env.Extension,
		Language:         env.Language,
		Transport:        "agi",
		HeaderInjection:  len(env.Injected) > 0,
	}
	if info.Dialed == "" {
		info.Dialed = env.Extension
	}
	if env.Params != nil {
		info.Profile = env.Params.Get("profile")
		info.Tenant = env.Params.Get("tenant")
	}
	for _, a := range env.Args {
		k, v, ok := strings.Cut(a, "=")
		switch {
		case !ok:
		case k == "profile" && info.Profile == "":
			info.Profile = v
		case k == "tenant" && info.Tenant == "":
			info.Tenant = v
		case k == "screened" && !info.ScreenedKnown:
			info.Screened, info.ScreenedKnown = strings.TrimSpace(v), true
		case k == "attest" && info.Attestation == "":
			info.Attestation = v
		case k == "verify" && info.VerifyResult == "":
			info.VerifyResult = v
		}
	}
	return info
}

// AGIHandler returns a FastAGI handler that screens every session with the
// flow flow returns at the start of that session (so a reload can swap
// flows between calls).
func AGIHandler(flow func() *screen.Flow) agi.Handler {
	return agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
		flow().Run(ctx, AGI(s), AGIInfo(s.Env()))
	})
}

type agiChannel struct {
	s *agi.Session
	// soundsExist is set once the flow knows every sound it plays is on
	// the PBX: a result of -1 is then a hangup.
	soundsExist bool
}

var _ screen.Channel = (*agiChannel)(nil)

// errMedia reports that Asterisk answered result=-1 to a media command
// while the channel is still up: the sound file is missing or unplayable.
var errMedia = errors.New("asterisk could not play the sound (missing file?)")

// hangup maps the transport's hangup errors onto screen.ErrHangup.
func hangup(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, agi.ErrHangup) {
		return fmt.Errorf("%s: %w: %w", op, screen.ErrHangup, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// media maps the error of a command that plays or reads digits. Asterisk
// answers result=-1 both when the caller hung up and when the sound file is
// missing; when the sounds are known to exist (SoundsExist) it is a hangup,
// otherwise, unless HANGUP was already seen, CHANNEL STATUS tells them
// apart (a dead channel answers 511).
func (c *agiChannel) media(ctx context.Context, op string, err error) error {
	if err == nil || !errors.Is(err, agi.ErrHangup) || errors.Is(err, agi.ErrDeadChannel) || c.s.HungUp() || c.soundsExist {
		return hangup(op, err)
	}
	if _, serr := c.s.ChannelStatus(ctx); serr != nil {
		if errors.Is(serr, agi.ErrHangup) {
			return hangup(op, err)
		}
		return fmt.Errorf("%s: %w", op, serr)
	}
	return fmt.Errorf("%s: %w", op, errMedia)
}

func (c *agiChannel) Answer(ctx context.Context) error {
	return hangup("answer", c.s.Answer(ctx))
}

func (c *agiChannel) Play(ctx context.Context, sound, interrupt string) (string, error) {
	digit, _, err := c.s.StreamFile(ctx, sound, interrupt)
	return digit, c.media(ctx, "play "+sound, err)
}

// SayDigits plays callscreen's own sound for each digit (STREAM FILE
// callscreen/digits/N), not SAY DIGITS: that one plays Asterisk's core
// digits/N files and, when they are missing, answers 0 at once having said
// nothing (main/say.c queues only files that exist). A key in interrupt
// stops it and is returned.
func (c *agiChannel) SayDigits(ctx context.Context, digits, interrupt string) (string, error) {
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return "", fmt.Errorf("say digits: %q is not a digit string: %w", digits, agi.ErrBadArgument)
		}
	}
	for i := 0; i < len(digits); i++ {
		sound := screen.DigitSound(digits[i])
		key, _, err := c.s.StreamFile(ctx, sound, interrupt)
		if err != nil || key != "" {
			return key, c.media(ctx, "say digits", err)
		}
	}
	return "", nil
}

func (c *agiChannel) ReadDigits(ctx context.Context, sound string, timeout time.Duration, max int) (string, error) {
	if sound == "" {
		sound = ReadPrompt
	}
	digits, _, err := c.s.GetData(ctx, sound, timeout, max)
	return digits, c.media(ctx, "read digits", err)
}

func (c *agiChannel) Variable(ctx context.Context, name string) (string, bool, error) {
	v, ok, err := c.s.GetVariable(ctx, name)
	return v, ok, hangup("get variable "+name, err)
}

// SetVariables writes every routing variable with one EXEC MSet (SET
// VARIABLE each on an Asterisk without MSet). A value that cannot be
// carried safely is refused before anything is written.
func (c *agiChannel) SetVariables(ctx context.Context, vars []screen.Var) error {
	av := make([]agi.Variable, len(vars))
	for i, v := range vars {
		av[i] = agi.Variable{Name: v.Name, Value: v.Value}
	}
	return hangup("set variables", c.s.SetVariables(ctx, av))
}

func (c *agiChannel) Hangup(ctx context.Context) error {
	return hangup("hangup", c.s.Hangup(ctx))
}
