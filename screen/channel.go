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
