package agi

import (
	"bufio"
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/callscreen/callscreen/agi/agitest"
)

// FuzzParseEnvHostile: Asterisk writes the caller number and name raw, so
// they may hold line breaks, blank lines, fake keys and fake replies. With
// the whole block received (as it is before Asterisk reads a command), the
// real number and the real script are always the ones parsed, and so are
// the arguments; a name without CR is read back with each line break as a
// space.
func FuzzParseEnvHostile(f *testing.F) {
	for _, s := range [][4]string{
		{"+12125550666", "Evil\nagi_callerid: +12125550777\n\n200 result=1 (01FAKEID)", "inject?profile=support", "screened="},
		{"+12125550666", "Evil\nagi_network_script: screen?profile=pilot\n", "screen", "profile=support"},
		{"+12125550666", "x\nagi_callingpres: 0\nagi_callingani2: 0\nagi_callington: 0\nagi_callingtns: 0\nagi_dnid: unknown\n" +
			"agi_rdnis: unknown\nagi_context: c\nagi_extension: 1\nagi_priority: 1\nagi_enhanced: 0.0\nagi_accountcode: \n" +
			"agi_threadid: 1\nagi_arg_1: screened=01FAKE\n\n200 result=0\n", "screen", "screened="},
		{"2125550100\nagi_calleridname: fake", "real", "s", ""},
		{"100", "\n\n\n", "s?a=b", "x=1"},
		{"100", "HANGUP\n200 result=0\n510 Invalid or unknown command", "s", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, number, name, script, arg string) {
		if number == "" || number == "unknown" || strings.ContainsAny(number, "\r\x00") ||
			strings.ContainsAny(script, "\r\n\x00") || strings.ContainsAny(arg, "\r\n\x00") {
			return // not something setup_env can write, or not what this fuzzes
		}
		first, _, multiline := strings.Cut(number, "\n")
		if first == "" || first == "unknown" {
			return
		}
		var args []string
		if arg != "" {
			args = []string{arg}
		}
		block := agitest.EnvBlock(agitest.Call{Request: "agi://127.0.0.1:4573/" + script, CallerID: number, CallerIDName: name, Args: args})
		if len(block) > DefaultEnvMaxBytes-64 {
			return
		}
		e, err := ParseEnv(bufio.NewReaderSize(bytes.NewReader(block), len(block)+16), Limits{})
		if err != nil {
			if errors.Is(err, ErrProtocol) && strings.Contains(err.Error(), "more than") {
				return // over the line cap: refused, not misread
			}
			t.Fatalf("ParseEnv: %v\n%q", err, block)
		}
		if e.CallerID != first {
			t.Fatalf("caller %q, want %q\n%q", e.CallerID, first, block)
		}
		if e.All["agi_network_script"] != script {
			t.Fatalf("script %q, want %q\n%q", e.All["agi_network_script"], script, block)
		}
		if !slices.Equal(e.Args, args) {
			t.Fatalf("args %q, want %q\n%q", e.Args, args, block)
		}
		if !multiline && !strings.Contains(name, "\r") && name != "" && name != "unknown" {
			if want := strings.ReplaceAll(name, "\n", " "); e.CallerIDName != want {
				t.Fatalf("name %q, want %q\n%q", e.CallerIDName, want, block)
			}
			if strings.Contains(name, "\n") != slices.Contains(e.Injected, "agi_calleridname") {
				t.Fatalf("Injected %q for name %q", e.Injected, name)
			}
		}
	})
}

// msetNames are the routing variables the MSet fuzzer carries values in.
var msetNames = []string{"CALLSCREEN_RESULT", "CALLSCREEN_REASONS", "CALLSCREEN_ID"}

// FuzzMSetEncode: values either are refused with ErrBadArgument before
// anything is written, or travel through both of Asterisk's parsers (AGI's
// parse_args, then MSet's argument split) and come out the same.
func FuzzMSetEncode(f *testing.F) {
	f.Add("block", "list.block,caller.anonymous", "01M8T4ZZK0BD7APBF6")
	f.Add(`a "q" b\c`, "one,two", "")
	f.Add("(x", "a]b[c", `\,`)
	f.Add("=", "a=b", "$x")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		checkMSetRoundTrip(t, []Variable{{msetNames[0], a}, {msetNames[1], b}, {msetNames[2], c}})
	})
}

func checkMSetRoundTrip(t *testing.T, vars []Variable) {
	t.Helper()
	data, err := appendMSetData(nil, vars)
	if err != nil {
		if !errors.Is(err, ErrBadArgument) || len(data) != 0 {
			t.Fatalf("refusal %v wrote %q", err, data)
		}
		refusable := false
		for _, v := range vars {
			refusable = refusable || strings.IndexFunc(v.Value, func(r rune) bool { return r < 0x20 || r > 0x7e || r == '$' }) >= 0
		}
		if !refusable {
			t.Fatalf("refused values that can be carried: %v (%v)", vars, err)
		}
		return
	}
	line, err := appendCommand(nil, "EXEC", tok("MSet"), text(string(data)))
	if err != nil {
		if errors.Is(err, ErrBadArgument) && strings.Contains(err.Error(), "over") {
			return // too long for one line: refused before writing
		}
		t.Fatalf("appendCommand: %v", err)
	}
	argv := agitest.ParseArgs(string(line[:len(line)-1]))
	if len(argv) != 3 || argv[0] != "EXEC" || argv[1] != "MSet" {
		t.Fatalf("%q parses to %q", line, argv)
	}
	got, ignored := agitest.MSet(argv[2])
	want := make([][2]string, len(vars))
	for i, v := range vars {
		want[i] = [2]string{v.Name, v.Value}
	}
	if !slices.Equal(got, want) || len(ignored) != 0 {
		t.Fatalf("%q sets %q (ignored %q), want %q", line, got, ignored, want)
	}
}

// TestMSetRoundTrip: the property on every character that needs escaping,
// the captured values and the refusals.
func TestMSetRoundTrip(t *testing.T) {
	for _, vals := range [][3]string{
		{"block", "list.block,caller.anonymous", "01M8T4ZZK0BD7APBF6"},
		{`a "q" b\c`, "", "x"},
		{`\`, `\\`, `\,`},
		{"(", ")", "[a,b]"},
		{"a(b,c", "d", "e)"},
		{`"`, `""`, `" , "`},
		{"=", "==", "a=b,c=d"},
		{" lead", "trail ", "  "},
		{"|;'`!#%&*+-./:<>?@^_{}~", "0123456789", "ABCxyz"},
	} {
		checkMSetRoundTrip(t, []Variable{{msetNames[0], vals[0]}, {msetNames[1], vals[1]}, {msetNames[2], vals[2]}})
	}
	for _, bad := range []Variable{
		{"A", "line\nbreak"}, {"A", "nul\x00"}, {"A", "${EVIL}"}, {"A", "é"}, {"A", "tab\t"},
		{"", "x"}, {"1A", "x"}, {"A B", "x"}, {"A=B", "x"}, {"CALLERID(name)", "x"},
	} {
		if data, err := appendMSetData(nil, []Variable{{"OK", "fine"}, bad}); !errors.Is(err, ErrBadArgument) || len(data) != 0 {
			t.Errorf("%+v: %q, %v; want ErrBadArgument and nothing", bad, data, err)
		}
	}
	many := make([]Variable, maxMSetPairs+1)
	for i := range many {
		many[i] = Variable{"V", "x"}
	}
	if _, err := appendMSetData(nil, many); !errors.Is(err, ErrBadArgument) {
		t.Errorf("%d variables: %v", len(many), err)
	}
}
