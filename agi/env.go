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

	// All maps every variable name (with its agi_ prefix) to its raw value
	// (a value rebuilt from several lines has them joined by spaces).
	All map[string]string

	// Injected lists, in block order, the keys of a FastAGI block whose
	// value arrived over several lines: the value itself carried line
	// breaks (a caller name from a CNAM dip, a database, IAX2 or ARI),
	// which Asterisk writes unescaped. Such a value is rebuilt with each
	// line break as a space; agi_callerid keeps only its first line. Nil
	// for a clean block.
	Injected []string
}

// ParseEnv reads one environment block from r: "name: value" lines up to and
// including the empty line that ends it. A trailing "\r" is dropped.
//
// A block that starts "agi_network: yes" (FastAGI) is read in the order
// Asterisk writes it: launch_netscript's agi_network lines, then setup_env's
// keys in their fixed order (res/res_agi.c, setup_env: agi_request …
// agi_threadid, then agi_arg_1 … agi_arg_N), each written with a plain
// "%s\n" and no escaping. A value that carries line breaks (a caller name
// such as "Evil\nagi_callerid: +1…\n\n200 result=1 (x)") therefore arrives
// as extra lines, and ParseEnv takes them back into that value:
//   - the first agi_callerid line is the caller, and every key before it
//     (agi_network_script, agi_request) is read from the head of the block,
//     where no caller ID byte can reach;
//   - agi_callingpres … agi_threadid and the arguments are read from the end
//     of the block backwards, each at the last line naming it, so a forged
//     copy inside the name does not replace them;
//   - every other line in between, a blank one included, is part of the
//     value above it; the value is rebuilt with each line break as one
//     space and its key is listed in Env.Injected;
//   - an empty line ends the block only where the whole tail has been
//     read, and only when the bytes already received after it are nothing
//     but HANGUP lines: a real Asterisk sends nothing else unprompted after
//     the block, so anything more means the block went on.
//
// Other blocks (tests, other AGI peers) are read line by line: each line is
// split at its first ": " only, so values may contain ": ".
//
// Outcomes:
//   - (env, nil): a complete block was read; r is positioned after it.
//   - an error wrapping ErrProtocol: the block broke a cap in lim, a line
//     has no ": " separator (not in a FastAGI block, where such a line is
//     part of a value), or the stream ended or failed mid-block (the
//     error also wraps the cause: io.ErrUnexpectedEOF, a net timeout, …).
//     When the stream ended before its first byte the error wraps io.EOF.
//
// ParseEnv itself never waits without bound only if r's source has a read
// deadline; the Server sets one (HeaderTimeout).
func ParseEnv(r *bufio.Reader, lim Limits) (*Env, error) {
	lim = lim.withDefaults()
	block := make([]byte, 0, 1024)
	var ends []int // end offset of each line in block, without "\n"
	ordered := false
	for {
		room := lim.MaxBytes - len(block) - len(ends) // bytes left for this line incl. its "\n"
		line, err := readLine(r, room-1)
		if err != nil {
			return nil, envReadError(err, len(ends), len(block) == 0 && len(ends) == 0 && len(line) == 0, lim)
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(ends) == 0 && string(line) == "agi_network: yes" {
			ordered = true
		}
		if len(line) == 0 {
			if !ordered {
				break
			}
			lines := envLines{block: string(block), ends: ends}
			var buf [len(envHead) + len(envTail) + 8]start
			if starts, ok := lines.layout(buf[:0]); ok && !pendingAfterBlock(r) {
				return lines.build(starts), nil
			}
			// A line break inside a value: the empty line is part of it.
		}
		if len(ends) == lim.MaxLines {
			return nil, fmt.Errorf("agi env: more than %d lines: %w", lim.MaxLines, ErrProtocol)
		}
		block = append(block, line...)
		ends = append(ends, len(block))
	}
	return buildEnv(string(block), ends)
}

// pendingAfterBlock reports whether r already holds bytes after an empty
// line that are not HANGUP lines (a partial "HANGUP\n" counts as one).
// Asterisk writes nothing else unprompted once the block is complete.
func pendingAfterBlock(r *bufio.Reader) bool {
	n := r.Buffered()
	if n == 0 {
		return false
	}
	b, _ := r.Peek(n)
	const h = "HANGUP\n"
	for len(b) > 0 {
		if len(b) < len(h) {
			return !strings.HasPrefix(h, string(b))
		}
		if string(b[:len(h)]) != h {
			return true
		}
		b = b[len(h):]
	}
	return false
}

// envHead are the keys setup_env writes after agi_network and the optional
// agi_network_script, up to the caller ID (res/res_agi.c, setup_env).
// agi_version (Asterisk 1.6 and later) may be missing.
var envHead = [...]string{"agi_request", "agi_channel", "agi_language", "agi_type", "agi_uniqueid",
	"agi_version", "agi_callerid", "agi_calleridname"}

// envTail are the keys setup_env writes after the caller name, before
// agi_threadid (Asterisk 1.6 and later, may be missing) and the AGI()
// arguments. Every Asterisk that speaks FastAGI writes all of them.
var envTail = [...]string{"agi_callingpres", "agi_callingani2", "agi_callington", "agi_callingtns",
	"agi_dnid", "agi_rdnis", "agi_context", "agi_extension", "agi_priority", "agi_enhanced",
	"agi_accountcode"}

// envLines is a block read so far: its lines back to back in one string.
type envLines struct {
	block string
	ends  []int
}

func (l envLines) line(i int) string {
	start := 0
	if i > 0 {
		start = l.ends[i-1]
	}
	return l.block[start:l.ends[i]]
}

// key returns the key line i starts with, "" when it starts with none.
func (l envLines) key(i int) string {
	k, _, ok := splitLine(l.line(i))
	if !ok || !strings.HasPrefix(k, "agi_") {
		return ""
	}
	return k
}

// start is where one variable's value begins: line index and key.
type start struct {
	line int
	key  string
}

// layout places every key of a FastAGI block, in block order, appending
// them to starts, or reports that the lines read so far are not a complete
// block.
func (l envLines) layout(starts []start) ([]start, bool) {
	n := len(l.ends)
	starts = append(starts, start{0, "agi_network"})
	pos := 1
	if n > 1 && l.key(1) == "agi_network_script" {
		starts = append(starts, start{1, "agi_network_script"})
		pos = 2
	}
	// The head, forwards: the first line naming each key (agi_version
	// only where it is due).
	for _, k := range envHead {
		if k == "agi_version" {
			if pos < n && l.key(pos) == k {
				starts = append(starts, start{pos, k})
				pos++
			}
			continue
		}
		j := pos
		for j < n && l.key(j) != k {
			j++
		}
		if j == n {
			return nil, false
		}
		starts = append(starts, start{j, k})
		pos = j + 1
	}
	name := pos - 1
	// agi_threadid, when there is one: the last one after the last
	// agi_accountcode.
	thread, prev := -1, n
	for j := n - 1; j > name; j-- {
		if k := l.key(j); k == "agi_threadid" {
			thread, prev = j, j
			break
		} else if k == "agi_accountcode" {
			break
		}
	}
	// The tail, backwards: the last line naming each key.
	var tail [len(envTail) + 1]start
	for i := len(envTail) - 1; i >= 0; i-- {
		j := prev - 1
		for j > name && l.key(j) != envTail[i] {
			j--
		}
		if j <= name {
			return nil, false
		}
		tail[i] = start{j, envTail[i]}
		prev = j
	}
	nt := len(envTail)
	if thread >= 0 {
		tail[nt] = start{thread, "agi_threadid"}
		nt++
	}
	starts = append(starts, tail[:nt]...)
	// The arguments, forwards from the tail's last line: agi_arg_1, …
	next := 1
	for j := tail[nt-1].line + 1; j < n && next <= maxAGIArgs; j++ {
		if k := l.key(j); k == argKey(next) {
			starts = append(starts, start{j, k})
			next++
		}
	}
	return starts, true
}

func argKey(n int) string { return "agi_arg_" + strconv.Itoa(n) }

// build types a block laid out by layout: each value runs from its key's
// line to the next key's, its line breaks read as spaces.
func (l envLines) build(starts []start) *Env {
	e := &Env{CallingPres: -1, All: make(map[string]string, len(starts))}
	var args [maxAGIArgs]string
	nargs := 0
	var sb strings.Builder
	for i, s := range starts {
		end := len(l.ends)
		if i+1 < len(starts) {
			end = starts[i+1].line
		}
		_, v, _ := splitLine(l.line(s.line))
		if end > s.line+1 {
			e.Injected = append(e.Injected, s.key)
			if s.key != "agi_callerid" { // the caller is the first line's number
				sb.Reset()
				sb.WriteString(v)
				for j := s.line + 1; j < end; j++ {
					sb.WriteByte(' ')
					sb.WriteString(l.line(j))
				}
				v = sb.String()
			}
		}
		e.All[s.key] = v
		if !e.set(s.key, v) {
			if n, ok := argIndex(s.key); ok {
				args[n-1] = v
				nargs = max(nargs, n)
			}
		}
	}
	e.finish(args[:nargs])
	return e
}

// splitLine splits "key: value" at the first ": "; "key:" (a trailing
// space trimmed by a proxy) is a key with an empty value.
func splitLine(line string) (k, v string, ok bool) {
	if k, v, ok = strings.Cut(line, ": "); ok {
		return k, v, true
	}
	if strings.HasSuffix(line, ":") && len(line) > 1 {
		return line[:len(line)-1], "", true
	}
	return "", "", false
}

// buildEnv types a block read line by line. block holds the lines back to
// back (one string, so every key and value is a substring of a single
// allocation).
func buildEnv(block string, ends []int) (*Env, error) {
	e := &Env{CallingPres: -1, All: make(map[string]string, len(ends))}
	var args [maxAGIArgs]string
	nargs := 0
	start := 0
	for i, end := range ends {
		line := block[start:end]
		start = end
		k, v, ok := splitLine(line)
		if !ok {
			return nil, fmt.Errorf("agi env: line %d %q has no \": \" separator: %w", i+1, clip(line), ErrProtocol)
		}
		e.All[k] = v
		if !e.set(k, v) {
			if n, ok := argIndex(k); ok {
				args[n-1] = v
				nargs = max(nargs, n)
			}
		}
	}
	e.finish(args[:nargs])
	return e, nil
}

// set stores a known variable in its field and reports whether k was one.
func (e *Env) set(k, v string) bool {
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
		return false
	}
	return true
}

// argIndex returns N for agi_arg_N, 1 ≤ N ≤ 127 without leading zeros.
func argIndex(k string) (int, bool) {
	n, ok := strings.CutPrefix(k, "agi_arg_")
	if !ok || n == "" || n[0] == '0' {
		return 0, false
	}
	idx, err := strconv.Atoi(n)
	if err != nil || idx < 1 || idx > maxAGIArgs {
		return 0, false
	}
	return idx, true
}

// finish sets Args, Script and Params once every variable is known.
func (e *Env) finish(args []string) {
	if len(args) > 0 {
		e.Args = append([]string(nil), args...)
	}
	script, ok := e.All["agi_network_script"]
	if !ok {
		script = scriptOf(e.Request)
	}
	path, query, _ := strings.Cut(script, "?")
	e.Script = strings.TrimPrefix(path, "/")
	e.Params, _ = url.ParseQuery(query) // keeps the valid pairs
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
