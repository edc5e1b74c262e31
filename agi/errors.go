package agi

import "errors"

// Sentinel errors. Every error a Session method returns wraps at most one of
// them (plus, for deadlines, the context's error); test with errors.Is.
var (
	// ErrHangup reports that the caller is gone: Asterisk answered
	// result=-1 to a command that plays or reads digits, or 511 (see
	// ErrDeadChannel). Variables can still be read and written afterwards.
	ErrHangup = errors.New("caller hung up")

	// ErrDeadChannel reports a 511 reply: the command is not permitted on
	// a dead channel. errors.Is(err, ErrHangup) is also true for it.
	ErrDeadChannel error = deadChannelError{}

	// ErrInvalidCommand reports a 510 (unknown command) or 520 (bad usage)
	// reply, or an application EXEC could not find (result -2). The
	// session stays usable.
	ErrInvalidCommand = errors.New("invalid command")

	// ErrProtocol reports a reply or environment block that cannot be
	// parsed, or a session whose stream is out of step after an earlier
	// failure. The session is closed; later commands fail fast with it.
	ErrProtocol = errors.New("agi protocol error")

	// ErrConnLost reports that the connection failed under a command: a
	// read or write error, a reset, or the peer closing it. The session is
	// closed. Once the call was answered it wraps ErrHangup too (see
	// Session.Answer).
	ErrConnLost = errors.New("connection to asterisk lost")

	// ErrBadArgument reports an argument that cannot be sent safely (it
	// contains CR, LF or NUL, the command line would exceed 1 KiB, a
	// required name is empty). Nothing was written; the session stays
	// usable.
	ErrBadArgument = errors.New("argument cannot be sent")
)

type deadChannelError struct{}

func (deadChannelError) Error() string { return "command not permitted on a dead channel" }

// Unwrap makes errors.Is(ErrDeadChannel, ErrHangup) true.
func (deadChannelError) Unwrap() error { return ErrHangup }
