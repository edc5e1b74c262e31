package screen

import (
	"context"
	"errors"
	"time"
)

// ErrHangup reports that the caller hung up. Channel implementations wrap
// their transport's own hangup errors with it, so the flow can test
// errors.Is(err, ErrHangup) whatever the transport.
var ErrHangup = errors.New("caller hung up")

// Channel is the one call the flow screens, as a transport presents it.
// FastAGI sessions and ARI Stasis channels both implement it (see package
// bridge). Every method honours ctx's deadline.
//
// Outcomes common to every method:
//   - nil: the operation completed on the channel.
//   - an error wrapping ErrHangup: the caller is gone. Variable and
//     SetVariables may still succeed afterwards (Asterisk allows variable
//     access on a dead channel), everything else fails the same way.
//   - ctx.Err(): the deadline passed or the call was cancelled.
//   - any other error: the transport failed; the flow fails open.
type Channel interface {
	// Answer answers the call. Answering an answered call is not an error.
	Answer(ctx context.Context) error
	// Play plays a sound file (a name without extension, such as
	// "callscreen/intro"). If interrupt is not empty, a key in it stops
	// the playback and is returned; otherwise key is "".
	Play(ctx context.Context, sound, interrupt string) (key string, err error)
	// SayDigits speaks digits one by one, with the same interrupt rules as Play.
	SayDigits(ctx context.Context, digits, interrupt string) (key string, err error)
	// ReadDigits plays sound (may be "" for none) and collects up to max
	// DTMF digits, waiting at most timeout for each; '#' ends the entry
	// early. It returns the digits entered, "" when the caller pressed
	// nothing.
	ReadDigits(ctx context.Context, sound string, timeout time.Duration, max int) (digits string, err error)
	// Variable reads a channel variable or dialplan function
	// ("CALLERID(num-pres)"). ok is false when it is unset or the function
	// cannot be read.
	Variable(ctx context.Context, name string) (value string, ok bool, err error)
	// SetVariables sets channel variables in order. An empty value unsets.
	SetVariables(ctx context.Context, vars []Var) error
	// Hangup hangs the call up.
	Hangup(ctx context.Context) error
}

// Var is one channel variable to set.
type Var struct {
	Name, Value string
}

// CallInfo is what the transport knows about the call before the flow asks
// anything: the AGI environment block or the StasisStart event.
type CallInfo struct {
	// ID is the channel's unique id (agi_uniqueid, channel.id).
	ID string
	// Channel is the channel name ("PJSIP/trunk-00000001").
	Channel string
	// CallerNumber and CallerName are the caller ID, "" when Asterisk
	// reported none.
	CallerNumber, CallerName string
	// Presentation is the calling presentation as Asterisk names it
	// ("allowed_not_screened", "prohib") or "" when the transport does not
	// know it yet; PresentationCode is agi_callingpres when known, -1
	// otherwise.
	Presentation     string
	PresentationCode int
	// Dialed is the number dialed: DNID when known, else the extension.
	Dialed string
	// Context, Extension are where the dialplan handed the call over.
	Context, Extension string
	// Profile and Tenant name the policy to apply; "" selects the default.
	Profile, Tenant string
	// Language is the channel language, for prompts.
	Language string
	// Transport is "agi" or "ari".
	Transport string
	// Screened is CALLSCREEN_ID as the dialplan handed it over with the
	// call (the includes pass it as the AGI or Stasis argument
	// screened=ID), and
	// ScreenedKnown says it was handed over, empty or not. When it was,
	// the flow does not read CALLSCREEN_ID from the channel: one round
	// trip less.
	Screened      string
	ScreenedKnown bool
}
