package agi

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/callscreen/callscreen/agi/agitest"
)

var update = flag.Bool("update", false, "rewrite the fuzz seed corpus under testdata/fuzz from the fixtures")

// FuzzParseEnv: any input is an Env or an error wrapping ErrProtocol, within
// the caps, and a parsed Env written back out parses to the same variables.
func FuzzParseEnv(f *testing.F) {
	for _, s := range envSeeds(f) {
		f.Add(s)
	}
	lim := Limits{MaxBytes: 4096, MaxLines: 64}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEnv(bufio.NewReaderSize(bytes.NewReader(data), 16), lim)
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("error %v does not wrap ErrProtocol", err)
			}
			return
		}
		if len(e.All) > lim.MaxLines || len(e.Args) > maxAGIArgs || e.CallingPres < -1 {
			t.Fatalf("over a cap: %d vars, %d args, pres %d", len(e.All), len(e.Args), e.CallingPres)
		}
		var b bytes.Buffer
		// agi_network last: written back, the block is read line by line.
		for _, k := range sortedKeys(e.All) {
			v := e.All[k]
			if strings.ContainsAny(k+v, "\n") || strings.Contains(k, ": ") {
				t.Fatalf("variable %q=%q holds a separator", k, v)
			}
			if k != "agi_network" {
				fmt.Fprintf(&b, "%s: %s\n", k, v)
			}
		}
		if v, ok := e.All["agi_network"]; ok {
			fmt.Fprintf(&b, "agi_network: %s\n", v)
		}
		b.WriteByte('\n')
		e2, err := ParseEnv(bufio.NewReader(&b), Limits{})
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !reflect.DeepEqual(e.All, e2.All) || !slices.Equal(e.Args, e2.Args) || e.CallerID != e2.CallerID ||
			e.Script != e2.Script || !reflect.DeepEqual(e.Params, e2.Params) {
			t.Fatalf("re-parse differs:\n%+v\n%+v", e, e2)
		}
	})
}

// FuzzReadReply: any input is a reply or an error wrapping one sentinel; a
// 200 reply written back in canonical form parses to the same Reply.
func FuzzReadReply(f *testing.F) {
	for _, s := range replySeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, _, err := readReply(bufio.NewReaderSize(bytes.NewReader(data), 16))
		if err != nil {
			if !errors.Is(err, ErrProtocol) && !errors.Is(err, ErrInvalidCommand) && !errors.Is(err, ErrDeadChannel) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if rep.Code != 200 {
			t.Fatalf("code %d without an error", rep.Code)
		}
		line := "200 result=" + rep.Result
		if rep.HasValue {
			line += " (" + rep.Value + ")"
		}
		if rep.HasEndPos {
			line += " endpos=" + strconv.FormatInt(rep.EndPos, 10)
		}
		again, _, err := readReply(bufio.NewReader(strings.NewReader(line + "\n")))
		if err != nil || !reflect.DeepEqual(rep, again) {
			t.Fatalf("canonical %q parses to %+v, %v; want %+v", line, again, err, rep)
		}
	})
}

// FuzzEncodeArgs: whatever the verb and values, the encoder either refuses
// them with ErrBadArgument before writing, or writes one line, under the
// cap, that Asterisk's parse_args splits back into exactly the verb's words
// and the same values.
func FuzzEncodeArgs(f *testing.F) {
	for _, s := range argSeeds(f) {
		f.Add(s[0], s[1], s[2], s[3] == "text")
	}
	f.Fuzz(func(t *testing.T, verb, a, b string, textB bool) {
		line, err := appendCommand(nil, verb, tok(a), arg{s: b, text: textB})
		if err != nil {
			if !errors.Is(err, ErrBadArgument) {
				t.Fatalf("error %v is not ErrBadArgument", err)
			}
			if len(line) != 0 {
				t.Fatalf("refused, yet wrote %q", line)
			}
			return
		}
		if len(line) > MaxCommandLen || line[len(line)-1] != '\n' || bytes.ContainsAny(line[:len(line)-1], "\r\n\x00") {
			t.Fatalf("unsafe line %q", line)
		}
		if bytes.HasPrefix(bytes.ToLower(line), []byte("failure")) {
			t.Fatalf("line starts with failure: %q", line)
		}
		got := agitest.ParseArgs(string(line[:len(line)-1]))
		want := append(strings.Fields(verb), a, b)
		if !slices.Equal(got, want) {
			t.Fatalf("%q parses to %q, want %q", line, got, want)
		}
		if !textB && !needsQuotes(b) && !bytes.HasSuffix(line, []byte(" "+b+"\n")) {
			t.Fatalf("plain token %q quoted: %q", b, line)
		}
	})
}

// TestFuzzSeedCorpus keeps testdata/fuzz in step with the fixtures (go test
// -run TestFuzzSeedCorpus -update rewrites the seed files).
func TestFuzzSeedCorpus(t *testing.T) {
	sets := map[string][]string{}
	for _, s := range envSeeds(t) {
		sets["FuzzParseEnv"] = append(sets["FuzzParseEnv"], corpusFile(s))
	}
	for _, s := range replySeeds(t) {
		sets["FuzzReadReply"] = append(sets["FuzzReadReply"], corpusFile(s))
	}
	for _, s := range argSeeds(t) {
		sets["FuzzEncodeArgs"] = append(sets["FuzzEncodeArgs"], corpusFile(s[0], s[1], s[2], s[3] == "text"))
	}
	for name, files := range sets {
		dir := filepath.Join("testdata", "fuzz", name)
		for i, content := range files {
			path := filepath.Join(dir, fmt.Sprintf("seed-%03d", i))
			if *update {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != content {
				t.Errorf("%s is missing or stale (%v): run go test ./agi -run TestFuzzSeedCorpus -update", path, err)
			}
		}
	}
}

// corpusFile renders values in the "go test fuzz v1" format.
func corpusFile(vals ...any) string {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, v := range vals {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(string(v)))
		case string:
			fmt.Fprintf(&b, "string(%s)\n", strconv.Quote(v))
		case bool:
			fmt.Fprintf(&b, "bool(%t)\n", v)
		}
	}
	return b.String()
}

func fixtureLines(tb testing.TB) map[string][]agitest.Line {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "asterisk-22.10.1", "*.txt"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no fixtures: %v", err)
	}
	out := map[string][]agitest.Line{}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			tb.Fatal(err)
		}
		lines, err := agitest.ReadFixture(f)
		f.Close()
		if err != nil {
			tb.Fatal(err)
		}
		out[filepath.Base(name)] = lines
	}
	return out
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// envSeeds: every captured environment block, plus broken ones.
func envSeeds(tb testing.TB) [][]byte {
	fx := fixtureLines(tb)
	var seeds [][]byte
	for _, name := range sortedKeys(fx) {
		var b []byte
		for _, l := range fx[name] {
			b = append(b, l.Text...)
			if l.Text == "\n" {
				break
			}
		}
		seeds = append(seeds, b)
	}
	return append(seeds,
		[]byte("agi_request: agi://h/s?a=b\nagi_arg_1: x\nagi_arg_3: z\n\n"),
		[]byte("agi_calleridname: a: b\r\nno separator\n\n"),
		[]byte("agi_x: never ends\n"),
		[]byte("agi_accountcode:\n:\n\n"),
	)
}

// replySeeds: every captured reply (HANGUP notices joined to the reply
// they precede, 520 blocks whole), plus odd shapes.
func replySeeds(tb testing.TB) [][]byte {
	fx := fixtureLines(tb)
	var seeds [][]byte
	for _, name := range sortedKeys(fx) {
		var cur []byte
		inEnv := true
		for _, l := range fx[name] {
			if l.FromServer {
				inEnv = false
				if len(cur) > 0 {
					seeds = append(seeds, cur)
				}
				cur = nil
				continue
			}
			if !inEnv {
				cur = append(cur, l.Text...)
			}
		}
		if len(cur) > 0 {
			seeds = append(seeds, cur)
		}
	}
	return append(seeds,
		[]byte("200 result= (timeout)\n"),
		[]byte("200 result=1 (a (b) c) endpos=12)\n"),
		[]byte("200 result=0 (dtmf) endpos=-5\n"),
		[]byte("520 Invalid command syntax.  Proper usage not available.\n"),
		[]byte("HANGUP\nHANGUP\n200 result=49 endpos=10\n"),
	)
}

// argSeeds: the values the captures sent, as (verb, name, value, mode).
func argSeeds(tb testing.TB) [][4]string {
	fx := fixtureLines(tb)
	var seeds [][4]string
	for _, name := range sortedKeys(fx) {
		for _, l := range fx[name] {
			if !l.FromServer {
				continue
			}
			toks := agitest.ParseArgs(strings.TrimSuffix(l.Text, "\n"))
			if len(toks) >= 2 {
				last := toks[len(toks)-1]
				seeds = append(seeds, [4]string{toks[0], toks[len(toks)-2], last, "text"})
			}
		}
	}
	return append(seeds,
		[4]string{"SET VARIABLE", "A", `back\slash "q"`, "text"},
		[4]string{"GET DATA", "a\tb", "", "token"},
		[4]string{"NOOP", `\`, `"`, "token"},
		[4]string{"VERBOSE", "x", "line\nbreak", "text"},
		[4]string{"failure", "x", "y", "token"},
	)
}
