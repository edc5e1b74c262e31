package agi

import (
	"fmt"
	"strings"
)

// MaxCommandLen caps one encoded command line, its "\n" included. Asterisk
// reads at most 8191 bytes per line and runs the rest as a new command, so
// anything near that is refused long before it.
const MaxCommandLen = 1024

// maxTokens is the most tokens parse_args keeps (MAX_ARGS-1); further
// tokens are silently dropped by Asterisk, so they are refused here.
const maxTokens = 127

// arg is one command argument and how it is written.
type arg struct {
	s string
	// text forces quotes even when the value needs none: free text
	// (variable values, messages, escape digits, EXEC data) is always
	// written quoted, names and numbers only when they need it.
	text bool
}

func tok(s string) arg  { return arg{s: s} }
func text(s string) arg { return arg{s: s, text: true} }

// appendCommand appends the line for verb and args, "\n"-terminated, to dst.
// The verb is written as is (it must be plain words); each argument is
// quoted, with "\" and `"` escaped, when it is text or when Asterisk's
// parse_args would otherwise split or alter it (empty, or containing space,
// tab, `"` or "\"). It refuses CR, LF and NUL anywhere, more than 127 tokens
// and lines over MaxCommandLen, before anything is written.
func appendCommand(dst []byte, verb string, args ...arg) ([]byte, error) {
	words, err := checkVerb(verb)
	if err != nil {
		return dst, err
	}
	if words+len(args) > maxTokens {
		return dst, fmt.Errorf("agi %s: %d tokens, Asterisk keeps at most %d: %w", verb, words+len(args), maxTokens, ErrBadArgument)
	}
	start := len(dst)
	dst = append(dst, verb...)
	for i, a := range args {
		if j := strings.IndexAny(a.s, "\r\n\x00"); j >= 0 {
			return dst[:start], fmt.Errorf("agi %s: argument %d contains %q: %w", verb, i+1, a.s[j], ErrBadArgument)
		}
		dst = append(dst, ' ')
		if a.text || needsQuotes(a.s) {
			dst = appendQuoted(dst, a.s)
		} else {
			dst = append(dst, a.s...)
		}
		if len(dst)-start >= MaxCommandLen {
			return dst[:start], fmt.Errorf("agi %s: command line over %d bytes: %w", verb, MaxCommandLen, ErrBadArgument)
		}
	}
	return append(dst, '\n'), nil
}

// checkVerb accepts one or more words of letters, digits, "_" and "-"
// separated by single spaces, not starting with "failure" (a line starting
// so ends the AGI with FAILURE). It returns the number of words.
func checkVerb(verb string) (int, error) {
	if verb == "" {
		return 0, fmt.Errorf("agi: empty command: %w", ErrBadArgument)
	}
	if len(verb) >= 7 && strings.EqualFold(verb[:7], "failure") {
		return 0, fmt.Errorf("agi %q: a line starting with \"failure\" ends the AGI: %w", clip(verb), ErrBadArgument)
	}
	words := 1
	for i := 0; i < len(verb); i++ {
		c := verb[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		case c == ' ' && i > 0 && i < len(verb)-1 && verb[i-1] != ' ':
			words++
		default:
			return 0, fmt.Errorf("agi %q: a command is plain words; put %q in an argument: %w", clip(verb), c, ErrBadArgument)
		}
	}
	return words, nil
}

// needsQuotes reports whether parse_args would read s differently unquoted.
func needsQuotes(s string) bool {
	return s == "" || strings.ContainsAny(s, " \t\"\\")
}

func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, s[i])
	}
	return append(dst, '"')
}
