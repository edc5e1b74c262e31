package agi

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
)

// Default caps on the environment block Asterisk sends at session start. A
// real block is under 1 KiB and 30 lines.
const (
	DefaultEnvMaxBytes = 64 << 10
	DefaultEnvMaxLines = 512
)

// maxAGIArgs is Asterisk's MAX_ARGS: the AGI() URL plus at most 127
// arguments, so agi_arg_1 … agi_arg_127.
const maxAGIArgs = 127

// Limits caps what ParseEnv reads. Zero fields take the defaults.
type Limits struct {
	// MaxBytes caps the whole block, newlines included (default 64 KiB).
	MaxBytes int
	// MaxLines caps the number of variable lines (default 512).
	MaxLines int
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultEnvMaxBytes
	}
	if l.MaxLines <= 0 {
		l.MaxLines = DefaultEnvMaxLines
	}
	return l
}

// Env is the environment block Asterisk sends when a FastAGI session starts
// (the agi_* variables), typed. Values are as Asterisk sent them except
// where a field's comment says otherwise; All holds every variable raw.
type Env struct {
	// Request is agi_request: the AGI() URL exactly as written in the
	// dialplan ("agi://10.0.0.5:4573/screen?profile=sales").
	Request string
	// Script is the path after the host, without the query and without
	// the leading "/" ("screen"); Params is the parsed query
	// (profile=sales). Invalid query pairs are dropped.
	Script string
	Params url.Values
	// Args are agi_arg_1 … agi_arg_N: the AGI() arguments after the URL.
	Args []string

	Channel, UniqueID, Type, Language, Version string

	// CallerID and CallerIDName are agi_callerid and agi_calleridname;
	// Asterisk sends "unknown" when there is none, which is reported as
	// "" with the matching Unknown flag set.
	CallerID, CallerIDName               string
	CallerIDUnknown, CallerIDNameUnknown bool
	// CallingPres is agi_callingpres (the combined presentation; test
	// pres&0x60 != 0 for "restricted"), -1 when absent or unparseable.
	CallingPres int

	// DNID and RDNIS are "" when Asterisk sent "unknown".
	DNID, RDNIS string

	Context, Extension, Priority, AccountCode string

	// All maps every variable name (with its agi_ prefix) to its raw value.
	All map[string]string
}

// ParseEnv reads one environment block from r: "name: value" lines up to and
// including the empty line that ends it. Each line is split at its first
// ": " only, so values may contain ": ". A trailing "\r" is dropped.
//
// Outcomes:
//   - (env, nil): a complete block was read; r is positioned after it.
//   - an error wrapping ErrProtocol: the block broke a cap in lim, a line
//     has no ": " separator, or the stream ended or failed mid-block (the
//     error also wraps the cause: io.ErrUnexpectedEOF, a net timeout, …).
//     When the stream ended before its first byte the error wraps io.EOF.
//
// ParseEnv itself never waits without bound only if r's source has a read
// deadline; the Server sets one (HeaderTimeout).
func ParseEnv(r *bufio.Reader, lim Limits) (*Env, error) {
	lim = lim.withDefaults()
	block := make([]byte, 0, 1024)
	var ends []int // end offset of each line in block, without "\n"
	for {
		room := lim.MaxBytes - len(block) - len(ends) // bytes left for this line incl. its "\n"
		line, err := readLine(r, room-1)
		if err != nil {
			return nil, envReadError(err, len(ends), len(block) == 0 && len(ends) == 0 && len(line) == 0, lim)
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) == 0 {
			break
		}
		if len(ends) == lim.MaxLines {
			return nil, fmt.Errorf("agi env: more than %d lines: %w", lim.MaxLines, ErrProtocol)
		}
		block = append(block, line...)
		ends = append(ends, len(block))
	}
	return buildEnv(string(block), ends)
}

func envReadError(err error, lines int, empty bool, lim Limits) error {
	switch {
	case errors.Is(err, errLineTooLong):
		return fmt.Errorf("agi env: block over %d bytes: %w", lim.MaxBytes, ErrProtocol)
	case errors.Is(err, io.EOF) && empty:
		return fmt.Errorf("agi env: connection closed before the environment: %w: %w", ErrProtocol, io.EOF)
	case errors.Is(err, io.EOF):
		return fmt.Errorf("agi env: connection closed after %d lines: %w: %w", lines, ErrProtocol, io.ErrUnexpectedEOF)
	default:
		return fmt.Errorf("agi env: reading line %d: %w: %w", lines+1, ErrProtocol, err)
	}
}

// buildEnv types the block. block holds the lines back to back (one string,
// so every key and value is a substring of a single allocation).
func buildEnv(block string, ends []int) (*Env, error) {
	e := &Env{CallingPres: -1, All: make(map[string]string, len(ends))}
	var args [maxAGIArgs]string
	nargs := 0
	start := 0
	for i, end := range ends {
		line := block[start:end]
		start = end
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			if !strings.HasSuffix(line, ":") || len(line) == 1 {
				return nil, fmt.Errorf("agi env: line %d %q has no \": \" separator: %w", i+1, clip(line), ErrProtocol)
			}
			k, v = line[:len(line)-1], "" // "agi_accountcode:" with its trailing space trimmed by a proxy
		}
		e.All[k] = v
		switch k {
		case "agi_request":
			e.Request = v
		case "agi_channel":
			e.Channel = v
		case "agi_language":
			e.Language = v
		case "agi_type":
			e.Type = v
		case "agi_uniqueid":
			e.UniqueID = v
		case "agi_version":
			e.Version = v
		case "agi_callerid":
			e.CallerID, e.CallerIDUnknown = unknown(v)
		case "agi_calleridname":
			e.CallerIDName, e.CallerIDNameUnknown = unknown(v)
		case "agi_callingpres":
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				e.CallingPres = n
			}
		case "agi_dnid":
			e.DNID, _ = unknown(v)
		case "agi_rdnis":
			e.RDNIS, _ = unknown(v)
		case "agi_context":
			e.Context = v
		case "agi_extension":
			e.Extension = v
		case "agi_priority":
			e.Priority = v
		case "agi_accountcode":
			e.AccountCode = v
		default:
			if n, ok := strings.CutPrefix(k, "agi_arg_"); ok {
				if idx, err := strconv.Atoi(n); err == nil && idx >= 1 && idx <= maxAGIArgs && n[0] != '0' {
					args[idx-1] = v
					nargs = max(nargs, idx)
				}
			}
		}
	}
	if nargs > 0 {
		e.Args = append([]string(nil), args[:nargs]...)
	}
	script, ok := e.All["agi_network_script"]
	if !ok {
		script = scriptOf(e.Request)
	}
	path, query, _ := strings.Cut(script, "?")
	e.Script = strings.TrimPrefix(path, "/")
	e.Params, _ = url.ParseQuery(query) // keeps the valid pairs
	return e, nil
}

// scriptOf returns the text after the first "/" following the scheme of an
// agi:// or hagi:// URL, as Asterisk computes agi_network_script.
func scriptOf(request string) string {
	_, rest, ok := strings.Cut(request, "://")
	if !ok {
		return ""
	}
	_, script, _ := strings.Cut(rest, "/")
	return script
}

func unknown(v string) (string, bool) {
	if v == "unknown" {
		return "", true
	}
	return v, false
}

// clip shortens s for an error message.
func clip(s string) string {
	const n = 64
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
