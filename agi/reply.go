package agi

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// Caps on what one reply may be. GET VARIABLE values are at most 1023 bytes;
// GET FULL VARIABLE values and usage text are not capped by Asterisk, so
// the line cap is generous.
const (
	maxReplyLine    = 16 << 10
	maxUsageLines   = 256
	maxUsageBytes   = 64 << 10
	maxHangupNotice = 16
)

// Reply is one parsed Asterisk reply.
type Reply struct {
	// Code is 200, 510, 511 or 520.
	Code int
	// Result is the text after "result=" up to the first space: a number
	// ("0", "-1", "52"), the digits GET DATA collected ("123", "1*2"),
	// or "" (GET DATA with no digits).
	Result string
	// Value is the text in parentheses, from the first "(" to the last
	// ")": a variable's value, "timeout", "dtmf", …
	Value    string
	HasValue bool
	// Timeout is true when the parenthesised text is exactly "timeout"
	// (GET DATA, RECORD FILE). HasValue and Value are set too, since GET
	// VARIABLE of a variable holding "timeout" looks the same.
	Timeout bool
	// EndPos is the sample offset STREAM FILE and friends stopped at.
	EndPos    int64
	HasEndPos bool
	// Usage holds the text lines of a multi-line 520 reply.
	Usage []string
}

// Int returns Result as an integer.
func (r Reply) Int() (int, error) {
	n, err := strconv.Atoi(r.Result)
	if err != nil {
		return 0, fmt.Errorf("result %q is not a number: %w", clip(r.Result), ErrProtocol)
	}
	return n, nil
}

// readReply reads one complete reply from r. Lines that are exactly
// "HANGUP" before it are counted in hangups, not returned.
//
// The error wraps ErrInvalidCommand for 510/520, ErrDeadChannel for 511,
// and ErrProtocol for anything else that is not a well-formed reply
// (including read errors and EOF, which it also wraps). After an
// ErrProtocol error the stream position is unknown.
func readReply(r *bufio.Reader) (rep Reply, hangups int, err error) {
	var line []byte
	for {
		line, err = readLine(r, maxReplyLine)
		if err != nil {
			return rep, hangups, lineError(err)
		}
		if string(line) != "HANGUP" {
			break
		}
		if hangups++; hangups > maxHangupNotice {
			return rep, hangups, fmt.Errorf("more than %d HANGUP lines: %w", maxHangupNotice, ErrProtocol)
		}
	}
	if len(line) < 3 || !isDigit(line[0]) || !isDigit(line[1]) || !isDigit(line[2]) || (len(line) > 3 && line[3] != ' ' && line[3] != '-') {
		return rep, hangups, fmt.Errorf("reply %q: %w", clip(string(line)), ErrProtocol)
	}
	rep.Code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	multi := len(line) > 3 && line[3] == '-'
	switch {
	case rep.Code == 200 && !multi:
		rep, err = parse200(line)
		return rep, hangups, err
	case rep.Code == 510 && !multi:
		return rep, hangups, fmt.Errorf("%s: %w", clip(string(line)), ErrInvalidCommand)
	case rep.Code == 511 && !multi:
		return rep, hangups, ErrDeadChannel
	case rep.Code == 520 && !multi:
		return rep, hangups, fmt.Errorf("%s: %w", clip(string(line)), ErrInvalidCommand)
	case rep.Code == 520:
		total := 0
		for {
			line, err = readLine(r, maxReplyLine)
			if err != nil {
				return rep, hangups, lineError(err)
			}
			if bytes.HasPrefix(line, []byte("520 ")) || string(line) == "520" {
				return rep, hangups, fmt.Errorf("invalid command syntax: %w", ErrInvalidCommand)
			}
			total += len(line) + 1
			if len(rep.Usage) == maxUsageLines || total > maxUsageBytes {
				return rep, hangups, fmt.Errorf("520 usage text over %d lines or %d bytes: %w", maxUsageLines, maxUsageBytes, ErrProtocol)
			}
			rep.Usage = append(rep.Usage, string(line))
		}
	default:
		return rep, hangups, fmt.Errorf("reply %q: unexpected code: %w", clip(string(line)), ErrProtocol)
	}
}

func lineError(err error) error {
	if errors.Is(err, errLineTooLong) {
		return fmt.Errorf("reply line over %d bytes: %w", maxReplyLine, ErrProtocol)
	}
	return fmt.Errorf("reading reply: %w: %w", ErrProtocol, err)
}

// parse200 parses `200 result=R[ (V)][ endpos=N]`.
func parse200(line []byte) (Reply, error) {
	rep := Reply{Code: 200}
	rest, ok := bytes.CutPrefix(line, []byte("200 result="))
	if !ok {
		return rep, fmt.Errorf("reply %q: no result: %w", clip(string(line)), ErrProtocol)
	}
	res := rest
	if i := bytes.IndexByte(rest, ' '); i >= 0 {
		res, rest = rest[:i], rest[i:]
	} else {
		rest = nil
	}
	rep.Result = string(res)
	if bytes.HasPrefix(rest, []byte(" (")) {
		end := bytes.LastIndexByte(rest, ')')
		if end < 0 {
			return rep, fmt.Errorf("reply %q: unclosed \"(\": %w", clip(string(line)), ErrProtocol)
		}
		v := rest[2:end]
		rep.Value, rep.HasValue = string(v), true
		rep.Timeout = string(v) == "timeout"
		rest = rest[end+1:]
	}
	if p, ok := bytes.CutPrefix(rest, []byte(" endpos=")); ok {
		n, err := strconv.ParseInt(string(p), 10, 64)
		if err != nil {
			return rep, fmt.Errorf("reply %q: bad endpos: %w", clip(string(line)), ErrProtocol)
		}
		rep.EndPos, rep.HasEndPos = n, true
		rest = nil
	}
	if len(rest) != 0 {
		return rep, fmt.Errorf("reply %q: unexpected %q: %w", clip(string(line)), clip(string(rest)), ErrProtocol)
	}
	return rep, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
