package ari

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinel errors; test with errors.Is. An *Error matches the ones its
// status and message imply.
var (
	// ErrHangup reports that the channel is gone: the caller hung up, the
	// channel left Stasis, or Asterisk answered 404 "Channel not found"
	// (or "Provided channel was not found", the variable calls' wording)
	// or 409 "Channel not in Stasis application".
	ErrHangup = errors.New("channel gone")

	// ErrNotFound matches every 404 answer (a channel, a playback, a
	// variable, or an unknown resource).
	ErrNotFound = errors.New("not found")

	// ErrUnauthorized matches 401 and 403 answers: wrong user name or
	// password, or an ACL that denies us.
	ErrUnauthorized = errors.New("not authorized")

	// ErrPlaybackFailed reports a playback Asterisk finished in state
	// "failed" on a channel that is still up (a missing sound file).
	ErrPlaybackFailed = errors.New("playback failed")

	// ErrBadArgument reports an argument that cannot be sent (an empty
	// name, a control character, an empty media list). Nothing was sent.
	ErrBadArgument = errors.New("argument cannot be sent")

	// ErrBadEvent reports an event message that is not an ARI event. The
	// event connection stays usable.
	ErrBadEvent = errors.New("malformed event")
)

// The messages Asterisk 22 answers with that change what an error means.
const (
	msgChannelNotFound = "Channel not found"
	// msgNoSuchChannel is what the variable calls answer for a channel
	// that does not exist (res/ari/resource_channels.c,
	// ast_ari_channels_get_channel_var and set_channel_vars: 404 "Channel
	// Not Found"), as the outbound captures show after a hangup.
	msgNoSuchChannel    = "Provided channel was not found"
	msgVariableNotFound = "Provided variable was not found"
	msgNotInStasis      = "Channel not in Stasis application"
	msgCannotStop       = "Could not stop playback"
)

// Error is a REST call Asterisk answered with a status of 300 or more.
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Message is Asterisk's {"message": ...}, or the status text when the
	// body had none.
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("status %d: %s", e.Status, e.Message)
}

// Is makes errors.Is(err, ErrNotFound), ErrHangup and ErrUnauthorized work
// on an *Error.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
	case ErrHangup:
		return e.channelGone()
	}
	return false
}

func (e *Error) channelGone() bool {
	switch e.Status {
	case http.StatusNotFound:
		return strings.EqualFold(e.Message, msgChannelNotFound) || strings.EqualFold(e.Message, msgNoSuchChannel)
	case http.StatusConflict:
		return strings.EqualFold(e.Message, msgNotInStasis)
	}
	return false
}

// statusOf returns the HTTP status of the *Error in err's chain, 0 when
// there is none.
func statusOf(err error) (int, string) {
	var ae *Error
	if errors.As(err, &ae) {
		return ae.Status, ae.Message
	}
	return 0, ""
}
