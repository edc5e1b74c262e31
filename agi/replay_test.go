package agi_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/callscreen/callscreen/agi"
	"github.com/callscreen/callscreen/agi/agitest"
)

// fixture is one captured session: the handler that sends exactly its
// commands (checking every answer), and the caller behaviour that makes the
// simulator answer exactly as Asterisk did.
type fixture struct {
	file   string
	caller agitest.Caller
	script func(t *testing.T, ctx context.Context, s *agi.Session)
}

var fixtures = []fixture{
	{file: "plain-commands.txt", script: plainScript("allowed_not_screened", "John Q. Public")},
	{file: "anonymous-caller.txt", script: plainScript("prohib", "Hidden")},
	{
		file:   "caller-hangs-up.txt",
		caller: agitest.Caller{HangupAfter: 1, NoticeDelay: time.Minute},
		script: func(t *testing.T, ctx context.Context, s *agi.Session) {
			must(t, s.Answer(ctx))
			_, err := s.WaitForDigit(ctx, 10*time.Second)
			if !errors.Is(err, agi.ErrHangup) || errors.Is(err, agi.ErrDeadChannel) {
				t.Errorf("first WAIT FOR DIGIT: err = %v, want ErrHangup (result -1), not ErrDeadChannel", err)
			}
			if s.HungUp() {
				t.Error("HungUp() true before the HANGUP line arrived")
			}
			_, err = s.WaitForDigit(ctx, 10*time.Second)
			if !errors.Is(err, agi.ErrDeadChannel) || !errors.Is(err, agi.ErrHangup) {
				t.Errorf("second WAIT FOR DIGIT: err = %v, want ErrDeadChannel that is also ErrHangup", err)
			}
			if !s.HungUp() {
				t.Error("HungUp() false after HANGUP and 511")
			}
			must(t, s.SetVariable(ctx, "CALLSCREEN_ACTION", "allow"))
			v, ok, err := s.GetVariable(ctx, "CALLSCREEN_ID")
			if err != nil || ok || v != "" {
				t.Errorf("GET VARIABLE after hangup = %q, %t, %v; want unset", v, ok, err)
			}
		},
	},
	{
		file:   "challenge-digits.txt",
		caller: agitest.Caller{Keys: []string{"123", "4", ""}},
		script: func(t *testing.T, ctx context.Context, s *agi.Session) {
			must(t, s.Answer(ctx))
			d, pos, err := s.StreamFile(ctx, "beep", "0123456789#*")
			if err != nil || d != "" || pos != 3404 {
				t.Errorf("STREAM FILE = %q, %d, %v; want \"\", 3404", d, pos, err)
			}
			digits, timedOut, err := s.GetData(ctx, "beep", 3*time.Second, 3)
			if err != nil || digits != "123" || timedOut {
				t.Errorf("GET DATA = %q, %t, %v; want 123 without timeout", digits, timedOut, err)
			}
			d, err = s.WaitForDigit(ctx, 3*time.Second)
			if err != nil || d != "4" {
				t.Errorf("WAIT FOR DIGIT = %q, %v; want 4 (ASCII 52)", d, err)
			}
			d, err = s.SayDigits(ctx, "123", "")
			if err != nil || d != "" {
				t.Errorf("SAY DIGITS = %q, %v", d, err)
			}
			digits, timedOut, err = s.GetData(ctx, "silence/1", 2*time.Second, 3)
			if err != nil || digits != "" || !timedOut {
				t.Errorf("GET DATA silence = %q, %t, %v; want \"\" with timeout", digits, timedOut, err)
			}
			st, err := s.ChannelStatus(ctx)
			if err != nil || st != agi.StateUp {
				t.Errorf("CHANNEL STATUS = %d, %v; want %d (up)", st, err, agi.StateUp)
			}
			must(t, s.SetVariable(ctx, "CALLSCREEN_ACTION", "challenge"))
		},
	},
	{
		file: "exec-and-unknown-caller.txt",
		script: func(t *testing.T, ctx context.Context, s *agi.Session) {
			env := s.Env()
			if env.CallerID != "" || !env.CallerIDUnknown || env.CallerIDName != "" || !env.CallerIDNameUnknown {
				t.Errorf("unknown caller: CallerID %q/%t, name %q/%t", env.CallerID, env.CallerIDUnknown, env.CallerIDName, env.CallerIDNameUnknown)
			}
			// The capture wrote these two bare; Exec always quotes its data.
			rep, err := s.Cmd(ctx, "EXEC", "Playback", "beep")
			if err != nil || rep.Result != "0" {
				t.Errorf("EXEC Playback = %+v, %v", rep, err)
			}
			n, err := s.Exec(ctx, "Set", "FOO=bar")
			if err != nil || n != 0 {
				t.Errorf("EXEC Set = %d, %v", n, err)
			}
			v, ok, err := s.GetVariable(ctx, "FOO")
			if err != nil || !ok || v != "bar" {
				t.Errorf("GET VARIABLE FOO = %q, %t, %v", v, ok, err)
			}
			rep, err = s.Cmd(ctx, "EXEC", "NoSuchApp", "x")
			if err != nil || rep.Result != "-2" {
				t.Errorf("EXEC NoSuchApp = %+v, %v; want result -2", rep, err)
			}
		},
	},
	{file: "mset-routing-variables.txt", script: msetScript},
	{file: "mset-after-hangup.txt", caller: agitest.Caller{HangupAfter: 1, NoticeDelay: time.Minute}, script: msetAfterHangupScript},
	{file: "caller-name-newlines-replaced.txt", script: replacedNameScript},
}

// msetScript is mset-routing-variables.txt: every routing variable in one
// EXEC MSet, values with commas, quotes, backslashes and an empty one, read
// back; then the one-backslash mistake the capture shows, which MSet splits.
func msetScript(t *testing.T, ctx context.Context, s *agi.Session) {
	must(t, s.SetVariables(ctx, []agi.Variable{
		{Name: "CALLSCREEN_RESULT", Value: "block"}, {Name: "CALLSCREEN_ACTION", Value: "block"},
		{Name: "CALLSCREEN_TIER", Value: "SPAM"}, {Name: "CALLSCREEN_CHALLENGE", Value: "none"},
		{Name: "CALLSCREEN_REASONS", Value: "list.block,caller.anonymous"}, {Name: "CALLSCREEN_SCORE", Value: ""},
		{Name: "CALLSCREEN_MODE", Value: "enforce"}, {Name: "CALLSCREEN_ID", Value: "01M8T4ZZK0BD7APBF6"},
		{Name: "CALLSCREEN_QUOTE", Value: `a "q" b\c`},
	}))
	for _, v := range []struct{ name, want string }{
		{"CALLSCREEN_RESULT", "block"}, {"CALLSCREEN_REASONS", "list.block,caller.anonymous"},
		{"CALLSCREEN_SCORE", ""}, {"CALLSCREEN_ID", "01M8T4ZZK0BD7APBF6"}, {"CALLSCREEN_QUOTE", `a "q" b\c`},
	} {
		got, ok, err := s.GetVariable(ctx, v.name)
		if err != nil || !ok || got != v.want {
			t.Errorf("GET VARIABLE %s = %q, %t, %v; want %q", v.name, got, ok, err, v.want)
		}
	}
	must(t, s.SetVariables(ctx, []agi.Variable{{Name: "CALLSCREEN_REASONS", Value: "one,two"}}))
	if got, _, err := s.GetVariable(ctx, "CALLSCREEN_REASONS"); err != nil || got != "one,two" {
		t.Errorf("REASONS = %q, %v; want one,two", got, err)
	}
	// One level of escaping only: AGI removes it, MSet splits "lost" off.
	if rep, err := s.RawCommand(`EXEC MSet "CALLSCREEN_REASONS=one\,lost"`); err != nil || rep.Result != "0" {
		t.Errorf("raw MSet = %+v, %v", rep, err)
	}
	if got, _, err := s.GetVariable(ctx, "CALLSCREEN_REASONS"); err != nil || got != "one" {
		t.Errorf("REASONS = %q, %v; want one", got, err)
	}
}

// msetAfterHangupScript is mset-after-hangup.txt: the caller leaves during
// WAIT FOR DIGIT, and EXEC MSet still sets the variables for the h
// extension.
func msetAfterHangupScript(t *testing.T, ctx context.Context, s *agi.Session) {
	must(t, s.Answer(ctx))
	if _, err := s.WaitForDigit(ctx, 10*time.Second); !errors.Is(err, agi.ErrHangup) {
		t.Errorf("first WAIT FOR DIGIT: %v, want ErrHangup", err)
	}
	if _, err := s.WaitForDigit(ctx, 10*time.Second); !errors.Is(err, agi.ErrDeadChannel) {
		t.Errorf("second WAIT FOR DIGIT: %v, want ErrDeadChannel", err)
	}
	must(t, s.SetVariables(ctx, []agi.Variable{
		{Name: "CALLSCREEN_RESULT", Value: "allow"}, {Name: "CALLSCREEN_CHALLENGE", Value: "abandoned"},
		{Name: "CALLSCREEN_REASONS", Value: "caller.anonymous"},
	}))
	for _, v := range []struct{ name, want string }{{"CALLSCREEN_CHALLENGE", "abandoned"}, {"CALLSCREEN_REASONS", "caller.anonymous"}} {
		if got, ok, err := s.GetVariable(ctx, v.name); err != nil || !ok || got != v.want {
			t.Errorf("GET VARIABLE %s after hangup = %q, %t, %v; want %q", v.name, got, ok, err, v.want)
		}
	}
}

// replacedNameScript is caller-name-newlines-replaced.txt: the dialplan
// turned the name's line breaks into spaces before AGI().
func replacedNameScript(t *testing.T, ctx context.Context, s *agi.Session) {
	const name = "Evil agi_callerid: +12125550777   200 result=1 (01FAKEID)"
	env := s.Env()
	if env.CallerID != "+12125550666" || env.CallerIDName != name || env.Injected != nil {
		t.Errorf("env: caller %q name %q injected %q", env.CallerID, env.CallerIDName, env.Injected)
	}
	if v, ok, err := s.GetVariable(ctx, "CALLSCREEN_ID"); err != nil || ok || v != "" {
		t.Errorf("GET VARIABLE CALLSCREEN_ID = %q, %t, %v; want unset", v, ok, err)
	}
	if v, ok, err := s.GetFullVariable(ctx, "${CALLERID(name)}"); err != nil || !ok || v != name {
		t.Errorf("name = %q, %t, %v", v, ok, err)
	}
	must(t, s.SetVariable(ctx, "CALLSCREEN_RESULT", "block"))
}

func plainScript(numPres, name string) func(*testing.T, context.Context, *agi.Session) {
	return func(t *testing.T, ctx context.Context, s *agi.Session) {
		v, ok, err := s.GetVariable(ctx, "CALLSCREEN_ID")
		if err != nil || ok || v != "" {
			t.Errorf("GET VARIABLE CALLSCREEN_ID = %q, %t, %v; want unset", v, ok, err)
		}
		v, ok, err = s.GetFullVariable(ctx, "${CALLERID(num-pres)}")
		if err != nil || !ok || v != numPres {
			t.Errorf("num-pres = %q, %t, %v; want %q", v, ok, err, numPres)
		}
		v, ok, err = s.GetFullVariable(ctx, "${CALLERID(name)}")
		if err != nil || !ok || v != name {
			t.Errorf("name = %q, %t, %v; want %q", v, ok, err, name)
		}
		must(t, s.SetVariable(ctx, "CALLSCREEN_ACTION", "allow"))
		must(t, s.SetVariable(ctx, "CALLSCREEN_REASONS", "list:none,tier:unknown"))
		must(t, s.SetVariable(ctx, "CALLSCREEN_QUOTE", `a "quoted" value with spaces`))
		must(t, s.Verbose(ctx, "captured plain", 1))
		rep, err := s.Cmd(ctx, "NOOP", "hello")
		if err != nil || rep.Code != 200 || rep.Result != "0" {
			t.Errorf("NOOP = %+v, %v", rep, err)
		}
		rep, err = s.Cmd(ctx, "BOGUS COMMAND")
		if !errors.Is(err, agi.ErrInvalidCommand) || rep.Code != 510 {
			t.Errorf("BOGUS COMMAND = %+v, %v; want 510 ErrInvalidCommand", rep, err)
		}
		rep, err = s.Cmd(ctx, "SET VARIABLE")
		if !errors.Is(err, agi.ErrInvalidCommand) || rep.Code != 520 ||
			!slices.Equal(rep.Usage, []string{"Sets a variable to the current channel."}) {
			t.Errorf("SET VARIABLE without args = %+v, %v; want 520 with usage", rep, err)
		}
		if s.HungUp() {
			t.Error("HungUp() true on a live call")
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Error(err)
	}
}

func readFixture(t *testing.T, name string) []agitest.Line {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "asterisk-22.10.1", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines, err := agitest.ReadFixture(f)
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// startServer serves h on a loopback port until the test ends.
func startServer(t *testing.T, srv *agi.Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Serve: %v", err)
		}
	})
	return l.Addr().String()
}

// scriptServer runs script as the handler of a fresh server and reports
// when it has returned.
func scriptServer(t *testing.T, script func(*testing.T, context.Context, *agi.Session)) (addr string, done <-chan struct{}) {
	ch := make(chan struct{}, 1)
	srv := &agi.Server{Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
		defer func() { ch <- struct{}{} }()
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		script(t, ctx, s)
	})}
	return startServer(t, srv), ch
}

// TestReplayFixturesAgainstServer plays Asterisk's side of every capture
// byte for byte to the real server and checks every byte the server sends.
func TestReplayFixturesAgainstServer(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.file, func(t *testing.T) {
			lines := readFixture(t, fx.file)
			addr, done := scriptServer(t, fx.script)
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			r := bufio.NewReader(conn)
			for i, l := range lines {
				if !l.FromServer {
					if _, err := io.WriteString(conn, l.Text); err != nil {
						t.Fatalf("line %d: write: %v", i+1, err)
					}
					continue
				}
				got := make([]byte, len(l.Text))
				if _, err := io.ReadFull(r, got); err != nil {
					t.Fatalf("line %d: want %q, read: %v (got %q)", i+1, l.Text, err, got)
				}
				if string(got) != l.Text {
					t.Fatalf("line %d: server sent %q, capture has %q", i+1, got, l.Text)
				}
			}
			<-done
			if extra, err := r.ReadString('\n'); err != io.EOF || extra != "" {
				t.Errorf("after the capture's last line: read %q, %v; want the server to close", extra, err)
			}
		})
	}
}

// TestReplayFixturesAgainstSimulator checks the simulator twice: a peer
// that sends the capture's server lines byte for byte must get Asterisk's
// lines back, and the real server driving the simulator must produce the
// whole capture, both ways, in order.
func TestReplayFixturesAgainstSimulator(t *testing.T) {
	for _, fx := range fixtures {
		lines := readFixture(t, fx.file)
		call := callFromFixture(t, lines, fx.caller)
		// Asterisk writes HANGUP once more as the session ends (notes §1.8);
		// the recorder had stopped reading by then.
		want := append(slices.Clone(lines), agitest.Line{Text: "HANGUP\n"})

		t.Run(fx.file+"/raw", func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res := make(chan *agitest.Transcript, 1)
			go func() {
				tr, err := agitest.Dial(ctx, l.Addr().String(), call)
				if err != nil {
					t.Errorf("Dial: %v", err)
				}
				res <- tr
			}()
			conn, err := l.Accept()
			if err != nil {
				t.Fatal(err)
			}
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			r := bufio.NewReader(conn)
			for i, l := range lines {
				if l.FromServer {
					if _, err := io.WriteString(conn, l.Text); err != nil {
						t.Fatalf("line %d: %v", i+1, err)
					}
					continue
				}
				got, err := r.ReadString('\n')
				if err != nil || got != l.Text {
					t.Fatalf("line %d: simulator sent %q (%v), capture has %q", i+1, got, err, l.Text)
				}
			}
			conn.Close()
			tr := <-res
			compareLines(t, tr.Lines, want)
		})

		t.Run(fx.file+"/server", func(t *testing.T) {
			addr, done := scriptServer(t, fx.script)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			tr, err := agitest.Dial(ctx, addr, call)
			if err != nil {
				t.Fatal(err)
			}
			<-done
			compareLines(t, tr.Lines, want)
		})
	}
}

func compareLines(t *testing.T, got, want []agitest.Line) {
	t.Helper()
	for i := range max(len(got), len(want)) {
		var g, w agitest.Line
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Fatalf("line %d: transcript has %v, capture has %v", i+1, g, w)
		}
	}
}

// callFromFixture rebuilds the simulated call from the capture's
// environment block, parsed by the real parser.
func callFromFixture(t *testing.T, lines []agitest.Line, caller agitest.Caller) agitest.Call {
	t.Helper()
	var block []byte
	for _, l := range lines {
		if l.FromServer {
			break
		}
		block = append(block, l.Text...)
		if l.Text == "\n" {
			break
		}
	}
	env, err := agi.ParseEnv(bufio.NewReader(bytesReader(block)), agi.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	c := agitest.Call{
		Request: env.Request, Args: env.Args,
		CallerID: env.CallerID, CallerIDName: env.CallerIDName, CallingPres: env.CallingPres,
		DNID: env.DNID, RDNIS: env.RDNIS,
		Extension: env.Extension, Context: env.Context, Priority: env.Priority,
		Channel: env.Channel, UniqueID: env.UniqueID, Language: env.Language,
		AccountCode: env.AccountCode, ThreadID: env.All["agi_threadid"],
		Caller: caller,
	}
	if got := string(agitest.EnvBlock(c)); got != string(block) {
		t.Fatalf("simulator environment differs from the capture:\n%s\nwant:\n%s", got, block)
	}
	if _, err := strconv.Atoi(env.Priority); err != nil {
		t.Fatalf("priority %q", env.Priority)
	}
	return c
}
