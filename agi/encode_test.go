package agi

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/callscreen/callscreen/agi/agitest"
)

func TestAppendCommand(t *testing.T) {
	tests := []struct {
		verb string
		args []arg
		want string
	}{
		{"ANSWER", nil, "ANSWER\n"},
		{"GET DATA", []arg{tok("beep"), tok("3000"), tok("3")}, "GET DATA beep 3000 3\n"},
		{"STREAM FILE", []arg{tok("beep"), text("0123456789#*")}, `STREAM FILE beep "0123456789#*"` + "\n"},
		{"SAY DIGITS", []arg{tok("123"), text("")}, `SAY DIGITS 123 ""` + "\n"},
		{"SET VARIABLE", []arg{tok("CALLSCREEN_QUOTE"), text(`a "quoted" value with spaces`)}, `SET VARIABLE CALLSCREEN_QUOTE "a \"quoted\" value with spaces"` + "\n"},
		{"SET VARIABLE", []arg{tok("X"), text(`back\slash`)}, `SET VARIABLE X "back\\slash"` + "\n"},
		{"GET FULL VARIABLE", []arg{tok("${CALLERID(num-pres)}")}, "GET FULL VARIABLE ${CALLERID(num-pres)}\n"},
		{"GET VARIABLE", []arg{tok("A B")}, `GET VARIABLE "A B"` + "\n"},
		{"GET VARIABLE", []arg{tok("")}, `GET VARIABLE ""` + "\n"},
		{"GET VARIABLE", []arg{tok("a\tb")}, "GET VARIABLE \"a\tb\"\n"},
		{"EXEC", []arg{tok("Set"), text("FOO=bar")}, `EXEC Set "FOO=bar"` + "\n"},
		{"NOOP", []arg{tok("a,b;c")}, "NOOP a,b;c\n"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			got, err := appendCommand(nil, tt.verb, tt.args...)
			if err != nil || string(got) != tt.want {
				t.Errorf("appendCommand = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestAppendCommandRefuses(t *testing.T) {
	many := make([]arg, 126)
	for i := range many {
		many[i] = tok("x")
	}
	tests := []struct {
		name string
		verb string
		args []arg
	}{
		{"LF in value", "SET VARIABLE", []arg{tok("A"), text("a\nGET VARIABLE B")}},
		{"CR in value", "SET VARIABLE", []arg{tok("A"), text("a\r")}},
		{"NUL in value", "SET VARIABLE", []arg{tok("A"), text("a\x00b")}},
		{"LF in name", "GET VARIABLE", []arg{tok("A\n")}},
		{"line over 1 KiB", "SET VARIABLE", []arg{tok("A"), text(strings.Repeat("x", 1020))}},
		{"line of exactly 1 KiB", "VERBOSE", []arg{text(strings.Repeat("x", MaxCommandLen-len("VERBOSE \"\"\n")+1))}},
		{"too many tokens", "VERBOSE", append(many, tok("y"))},
		{"empty verb", "", nil},
		{"failure line", "FAILURE", nil},
		{"failure prefix", "failures now", nil},
		{"quote in verb", `SET "VARIABLE"`, nil},
		{"leading space", " ANSWER", nil},
		{"trailing space", "ANSWER ", nil},
		{"double space", "GET  DATA", nil},
		{"newline in verb", "ANSWER\nHANGUP", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := appendCommand([]byte("kept"), tt.verb, tt.args...)
			if !errors.Is(err, ErrBadArgument) {
				t.Fatalf("appendCommand = %q, %v; want ErrBadArgument", got, err)
			}
			if string(got) != "kept" {
				t.Errorf("dst changed to %q", got)
			}
		})
	}
	// The largest line allowed still fits.
	ok := text(strings.Repeat("x", MaxCommandLen-len("VERBOSE \"\"\n")))
	if got, err := appendCommand(nil, "VERBOSE", ok); err != nil || len(got) != MaxCommandLen {
		t.Errorf("line of %d bytes: %d, %v", MaxCommandLen, len(got), err)
	}
	if _, err := appendCommand(nil, "VERBOSE", many...); err != nil {
		t.Errorf("127 tokens: %v", err)
	}
}

// TestParseArgsNotes checks the parse_args port against the results the
// protocol notes (§1.4) quote from the real function.
func TestParseArgsNotes(t *testing.T) {
	tests := []struct {
		line string
		want []string
	}{
		{`SET VARIABLE FOO "say \"hi\" now"`, []string{"SET", "VARIABLE", "FOO", `say "hi" now`}},
		{`X "back\\slash"`, []string{"X", `back\slash`}},
		{`X "a,b;c"`, []string{"X", "a,b;c"}},
		{`X ""`, []string{"X", ""}},
		{"X x\r", []string{"X", "x\r"}},
		{`X ab"cd ef"gh`, []string{"X", "abcd efgh"}},
		{`X \n`, []string{"X", "n"}},
		{`X \ a`, []string{"X", " a"}},
		{"X  \t a   b ", []string{"X", "a", "b"}},
		{`X "" ""`, []string{"X", "", ""}},
		{`X trailing\`, []string{"X", "trailing"}},
		{"X a\x00b c", []string{"X", "a"}},
		{`X "unterminated`, []string{"X", "unterminated"}},
		{"", nil},
	}
	for _, tt := range tests {
		if got := agitest.ParseArgs(tt.line); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseArgs(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
	// More than 127 tokens: the rest is dropped.
	got := agitest.ParseArgs(strings.Repeat("a ", 200))
	if len(got) != 127 {
		t.Errorf("200 tokens parsed to %d, want 127", len(got))
	}
}
