package agitest_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/agi/agitest"
)

// server is a hand-written FastAGI server for one call: it reads the
// environment block, then runs its script.
type server struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

// cmd writes a command and returns Asterisk's reply lines: n lines.
func (s *server) cmd(line string, n int) []string {
	s.t.Helper()
	if _, err := io.WriteString(s.conn, line+"\n"); err != nil {
		s.t.Fatalf("write %q: %v", line, err)
	}
	return s.read(n)
}

func (s *server) read(n int) []string {
	s.t.Helper()
	var got []string
	for range n {
		l, err := s.r.ReadString('\n')
		if err != nil {
			s.t.Fatalf("reading reply: %v (got %q)", err, got)
		}
		got = append(got, strings.TrimSuffix(l, "\n"))
	}
	return got
}

func (s *server) want(line string, want ...string) {
	s.t.Helper()
	if got := s.cmd(line, len(want)); !slices.Equal(got, want) {
		s.t.Errorf("%s → %q, want %q", line, got, want)
	}
}

// play runs script as the server of call c and returns the transcript.
func play(t *testing.T, c agitest.Call, script func(s *server)) *agitest.Transcript {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := l.Accept()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		s := &server{t: t, conn: conn, r: bufio.NewReader(conn)}
		for {
			line, err := s.r.ReadString('\n')
			if err != nil {
				t.Errorf("environment: %v", err)
				return
			}
			if line == "\n" {
				break
			}
		}
		script(s)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := agitest.Dial(ctx, l.Addr().String(), c)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	<-done
	return tr
}

func TestCallerHangsUpIdle(t *testing.T) {
	tr := play(t, agitest.Call{Caller: agitest.Caller{HangupAfter: 1, HangupIdle: true}}, func(s *server) {
		s.want("ANSWER", "200 result=0", "HANGUP") // unprompted, right after the reply
		s.want("STREAM FILE beep \"\"", "511 Command Not Permitted on a dead channel or intercept routine")
		s.want("SET VARIABLE A \"b\"", "200 result=1")
		s.want("GET FULL VARIABLE ${A}", "200 result=1 (b)")
	})
	if !tr.HungUp || tr.Status != "HANGUP" || tr.Vars["A"] != "b" || tr.Vars["AGISTATUS"] != "HANGUP" {
		t.Errorf("%+v", tr)
	}
}

func TestCallerHangsUpDuringCommand(t *testing.T) {
	t.Run("media command answers -1", func(t *testing.T) {
		play(t, agitest.Call{Caller: agitest.Caller{HangupAfter: 1, NoticeDelay: -1}}, func(s *server) {
			s.want("ANSWER", "200 result=0")
			s.want("STREAM FILE beep \"\"", "200 result=-1 endpos=1702")
			s.want("GET VARIABLE X", "HANGUP", "200 result=0")
		})
	})
	t.Run("other command gets HANGUP then 511", func(t *testing.T) {
		play(t, agitest.Call{Caller: agitest.Caller{HangupAfter: 1}}, func(s *server) {
			s.want("ANSWER", "200 result=0")
			s.want("CHANNEL STATUS", "HANGUP", "511 Command Not Permitted on a dead channel or intercept routine")
		})
	})
	t.Run("dead-allowed command gets HANGUP then its reply", func(t *testing.T) {
		play(t, agitest.Call{Caller: agitest.Caller{HangupAfter: 1}}, func(s *server) {
			s.want("ANSWER", "200 result=0")
			s.want("SET VARIABLE X y", "HANGUP", "200 result=1")
			s.want("VERBOSE hi", "200 result=1")
			s.want("EXEC NoOp", "200 result=0")
			s.want("EXEC Playback beep", "200 result=-1")
			s.want("NOOP", "200 result=0")
		})
	})
	t.Run("notice arrives when the server is quiet", func(t *testing.T) {
		tr := play(t, agitest.Call{Caller: agitest.Caller{HangupAfter: 1, NoticeDelay: 10 * time.Millisecond}}, func(s *server) {
			s.want("ANSWER", "200 result=0")
			s.want("WAIT FOR DIGIT 100", "200 result=-1")
			if got := s.read(1); got[0] != "HANGUP" {
				t.Errorf("after NoticeDelay got %q", got)
			}
			s.want("SET VARIABLE X y", "200 result=1")
		})
		if tr.Lines[len(tr.Lines)-4].Text != "HANGUP\n" {
			t.Errorf("HANGUP not sent before the next command:\n%s", tr)
		}
	})
}

func TestSigHupVariables(t *testing.T) {
	t.Run("AGISIGHUP=no sends no HANGUP at all", func(t *testing.T) {
		tr := play(t, agitest.Call{Vars: map[string]string{"AGISIGHUP": "no"}, Caller: agitest.Caller{HangupAfter: 1, HangupIdle: true}}, func(s *server) {
			s.want("ANSWER", "200 result=0")
			s.want("ANSWER", "511 Command Not Permitted on a dead channel or intercept routine")
		})
		for _, l := range tr.Lines {
			if l.Text == "HANGUP\n" {
				t.Errorf("HANGUP sent with AGISIGHUP=no:\n%s", tr)
			}
		}
	})
	t.Run("AGIEXITONHANGUP=yes ends the session", func(t *testing.T) {
		play(t, agitest.Call{Vars: map[string]string{"AGIEXITONHANGUP": "yes"}, Caller: agitest.Caller{HangupAfter: 1, HangupIdle: true}}, func(s *server) {
			s.want("ANSWER", "200 result=0", "HANGUP", "HANGUP")
			if l, err := s.r.ReadString('\n'); err != io.EOF {
				t.Errorf("after exit on hangup: %q %v", l, err)
			}
		})
	})
	t.Run("final HANGUP when the server closes", func(t *testing.T) {
		tr := play(t, agitest.Call{}, func(s *server) {
			s.want("NOOP", "200 result=0")
		})
		if last := tr.Lines[len(tr.Lines)-1]; last.Text != "HANGUP\n" || last.FromServer || tr.Status != "SUCCESS" {
			t.Errorf("last line %v, status %s", last, tr.Status)
		}
	})
}

func TestCallerKeys(t *testing.T) {
	c := agitest.Call{Caller: agitest.Caller{Keys: []string{"12#", "12345", "12", "#", "7", ""}, Barge: []string{"5", "9"}, Auto: true}}
	play(t, c, func(s *server) {
		s.want("GET DATA p 1000 3", "200 result=12")
		s.want("GET DATA p 1000 3", "200 result=123")
		s.want("GET DATA p 1000 3", "200 result=12 (timeout)")
		s.want("GET DATA p 1000 3", "200 result=")
		s.want("WAIT FOR DIGIT 1000", "200 result=55")
		s.want("WAIT FOR DIGIT 1000", "200 result=0")
		s.want("STREAM FILE p 0123456789", "200 result=53 endpos=4000")
		s.want("STREAM FILE p 12", "200 result=0 endpos=8000") // 9 is no escape digit
		s.want("SAY DIGITS 472 \"\"", "200 result=0")
		s.want("GET DATA p 1000 3", "200 result=472") // Keys ran out: Auto types back what was said
		s.want("GET DATA p", "200 result=472 (timeout)")
		s.want("WAIT FOR DIGIT abc", "520-Invalid command syntax.  Proper usage follows:", "Waits for a digit to be pressed.", "520 End of proper usage.")
		s.want("SAY DIGITS abc x", "520-Invalid command syntax.  Proper usage follows:", "Says a given digit string.", "520 End of proper usage.")
	})
}

func TestVariablesAndFunctions(t *testing.T) {
	c := agitest.Call{CallerID: "+12125551234", CallerIDName: "Jane", CallingPres: 32, Channel: "PJSIP/a-1",
		Vars: map[string]string{"CALLSCREEN_ID": "d-1", "CALLERID(name-pres)": "allowed", "LONG": strings.Repeat("x", 2000)}}
	tr := play(t, c, func(s *server) {
		s.want("GET VARIABLE CALLSCREEN_ID", "200 result=1 (d-1)")
		s.want("GET VARIABLE NOPE", "200 result=0")
		s.want("GET VARIABLE CALLERID(num)", "200 result=1 (+12125551234)")
		s.want("GET VARIABLE CALLERID(num-pres)", "200 result=1 (prohib_not_screened)")
		s.want("GET VARIABLE CALLERID(name-pres)", "200 result=1 (allowed)")
		s.want("GET VARIABLE STIR_SHAKEN(count)", "200 result=0")
		s.want("GET VARIABLE LONG", "200 result=1 ("+strings.Repeat("x", 1023)+")")
		s.want("GET FULL VARIABLE ${CALLERID(name)}:${NOPE}:${CHANNEL}", "200 result=1 (Jane::PJSIP/a-1)")
		s.want("GET FULL VARIABLE ${CALLERID(all)}", `200 result=1 ("Jane" <+12125551234>)`)
		s.want("GET FULL VARIABLE \"${${X}}\"", "200 result=1 ()")
		s.want("GET FULL VARIABLE ${A} PJSIP/other", "200 result=0")
		s.want("SET VARIABLE CALLERID(name) \"New Name\"", "200 result=1")
		s.want("GET FULL VARIABLE ${CALLERID(name)}", "200 result=1 (New Name)")
		s.want("SET VARIABLE CALLSCREEN_ID \"\"", "200 result=1")
		s.want("GET VARIABLE CALLSCREEN_ID", "200 result=0")
		s.want("EXEC Set \"R=a=b\"", "200 result=0")
		s.want("EXEC Goto screened,s,1", "200 result=0")
		s.want("EXEC Dial PJSIP/x", "200 result=-2")
		s.want("SET CONTEXT ctx", "200 result=0")
		s.want("SET EXTENSION 100", "200 result=0")
		s.want("SET PRIORITY 5", "200 result=0")
		s.want("SET VARIABLE A b c", "520-Invalid command syntax.  Proper usage follows:", "Sets a variable to the current channel.", "520 End of proper usage.")
		s.want("get variable R", "200 result=1 (a=b)") // command words are case-insensitive
		s.want("CHANNEL STATUS", "200 result=4")
		s.want("ANSWER", "200 result=0")
		s.want("CHANNEL STATUS", "200 result=6")
		s.want("HANGUP", "200 result=1", "HANGUP")
		s.want("ANSWER", "511 Command Not Permitted on a dead channel or intercept routine")
	})
	if tr.Vars["R"] != "a=b" || tr.Context != "ctx" || tr.Extension != "100" || tr.Priority != "5" || !tr.HungUp || !tr.Answered {
		t.Errorf("%+v", tr)
	}
	if _, ok := tr.Vars["CALLSCREEN_ID"]; ok {
		t.Error("empty SET VARIABLE did not unset")
	}
	if c.Vars["R"] != "" {
		t.Error("Dial modified the caller's Vars")
	}
}

func TestAsteriskLineHandling(t *testing.T) {
	t.Run("line over 8191 bytes runs its tail as a command", func(t *testing.T) {
		long := "VERBOSE " + strings.Repeat("a", 8183) + "NOOP"
		tr := play(t, agitest.Call{}, func(s *server) {
			s.want(long, "200 result=1", "200 result=0")
		})
		if len(tr.Commands) != 2 || tr.Commands[1] != "NOOP" || len(tr.Commands[0]) != 8191 {
			t.Errorf("commands %d: %.20q…", len(tr.Commands), tr.Commands)
		}
	})
	t.Run("CR is not stripped", func(t *testing.T) {
		play(t, agitest.Call{}, func(s *server) {
			s.want("SET VARIABLE A b\r", "200 result=1")
			s.want("GET VARIABLE A", "200 result=1 (b\r)")
		})
	})
	t.Run("failure line ends the AGI", func(t *testing.T) {
		tr := play(t, agitest.Call{}, func(s *server) {
			s.want("FAILURE now", "HANGUP")
		})
		if tr.Status != "FAILURE" {
			t.Errorf("status %s", tr.Status)
		}
	})
	t.Run("missing sound", func(t *testing.T) {
		tr := play(t, agitest.Call{Sounds: map[string]int64{"beep": 10}}, func(s *server) {
			s.want("STREAM FILE nope \"\" 5", "200 result=-1 endpos=5")
			s.want("GET DATA nope", "200 result=-1")
			s.want("STREAM FILE beep \"\"", "200 result=0 endpos=10")
		})
		if tr.Status != "FAILURE" || !slices.Equal(tr.Played, []string{"nope", "nope", "beep"}) {
			t.Errorf("status %s played %q", tr.Status, tr.Played)
		}
	})
	t.Run("unknown and empty commands", func(t *testing.T) {
		play(t, agitest.Call{}, func(s *server) {
			s.want("", "510 Invalid or unknown command")
			s.want("SET", "510 Invalid or unknown command")
			s.want("DATABASE GET a b", "510 Invalid or unknown command")
		})
	})
}

// TestPipelinedCommandAbortsPlayback: a byte arriving while media plays
// ends the command without a reply, as in Asterisk.
func TestPipelinedCommandAbortsPlayback(t *testing.T) {
	tr := play(t, agitest.Call{Latency: 200 * time.Millisecond}, func(s *server) {
		if _, err := io.WriteString(s.conn, "STREAM FILE beep \"\"\nNOOP\n"); err != nil {
			t.Fatal(err)
		}
		if got := s.read(1); got[0] != "200 result=0" {
			t.Errorf("got %q, want only the NOOP reply", got)
		}
		if _, err := io.WriteString(s.conn, "WAIT FOR DIGIT 1000\nNOOP\n"); err != nil {
			t.Fatal(err)
		}
		if got := s.read(2); !slices.Equal(got, []string{"200 result=1", "200 result=0"}) {
			t.Errorf("got %q", got)
		}
	})
	if len(tr.Commands) != 4 {
		t.Errorf("commands %q", tr.Commands)
	}
}

func TestDialFailure(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	tr, err := agitest.Dial(callCtx(t), addr, agitest.Call{})
	if err == nil || tr.Status != "FAILURE" || tr.Vars["AGISTATUS"] != "FAILURE" {
		t.Errorf("Dial to a closed port: %v %+v", err, tr)
	}
}

func TestContextCancel(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			defer c.Close()
			_, _ = io.Copy(io.Discard, c) // reads, never answers
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	tr, err := agitest.Dial(ctx, l.Addr().String(), agitest.Call{})
	if !errors.Is(err, context.DeadlineExceeded) || tr == nil {
		t.Errorf("Dial past its deadline: %v", err)
	}
}

func TestTranscriptFormat(t *testing.T) {
	tr := play(t, agitest.Call{}, func(s *server) { s.want("NOOP \"a b\"", "200 result=0") })
	lines, err := agitest.ReadFixture(strings.NewReader(tr.String() + "! end: note\n"))
	if err != nil || !slices.Equal(lines, tr.Lines) {
		t.Errorf("round trip: %v\n%s", err, tr)
	}
	if !strings.Contains(tr.String(), `> "NOOP \"a b\"\n"`) {
		t.Errorf("format:\n%s", tr)
	}
	for _, bad := range []string{"x\n", "< unquoted\n", "<\"x\"\n"} {
		if _, err := agitest.ReadFixture(strings.NewReader(bad)); err == nil {
			t.Errorf("ReadFixture(%q): no error", bad)
		}
	}
}

func TestEnvBlockDefaults(t *testing.T) {
	got := string(agitest.EnvBlock(agitest.Call{Request: "agi://h/screen?profile=sales", Args: []string{"a", "b"}}))
	for _, want := range []string{
		"agi_network: yes\nagi_network_script: screen?profile=sales\nagi_request: agi://h/screen?profile=sales\n",
		"agi_type: PJSIP\n", "agi_callerid: unknown\n", "agi_calleridname: unknown\n", "agi_dnid: unknown\n",
		"agi_accountcode: \n", "agi_arg_1: a\nagi_arg_2: b\n\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("env block lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(string(agitest.EnvBlock(agitest.Call{Request: "agi://h"})), "agi_network_script") {
		t.Error("empty script sent")
	}
}

// TestMSet: EXEC MSet as main/pbx_variables.c runs it, on the captures'
// values: two levels of escaping, an empty value, the one-backslash
// mistake that splits a pair off with a warning; and result=-2 without
// the application.
func TestMSet(t *testing.T) {
	tr := play(t, agitest.Call{}, func(s *server) {
		s.want(`EXEC MSet "A=list.block\\,caller.anonymous,B=,C=a \\\"q\\\" b\\\\c"`, "200 result=0")
		s.want("GET VARIABLE A", "200 result=1 (list.block,caller.anonymous)")
		s.want("GET VARIABLE B", "200 result=1 ()")
		s.want(`GET VARIABLE C`, `200 result=1 (a "q" b\c)`)
		s.want(`EXEC MSet "A=one\,lost"`, "200 result=0")
		s.want("GET VARIABLE A", "200 result=1 (one)")
		s.want(`EXEC MSet "D=(a,b),E=[c,d],F=x=y"`, "200 result=0")
		s.want("GET VARIABLE D", "200 result=1 ((a,b))")
		s.want("GET VARIABLE E", "200 result=1 ([c,d])")
		s.want("GET VARIABLE F", "200 result=1 (x=y)")
	})
	if !slices.Equal(tr.Warnings, []string{"MSet: ignoring entry 'lost' with no '='"}) {
		t.Errorf("warnings %q", tr.Warnings)
	}
	play(t, agitest.Call{NoMSet: true}, func(s *server) {
		s.want(`EXEC MSet "A=1"`, "200 result=-2")
		s.want("GET VARIABLE A", "200 result=0")
	})
}

func TestSeparateArgs(t *testing.T) {
	for _, tt := range []struct {
		in   string
		max  int
		want []string
	}{
		{"a,b,c", 99, []string{"a", "b", "c"}},
		{"a,b,", 99, []string{"a", "b", ""}},
		{`a\,b,c`, 99, []string{"a,b", "c"}},
		{`"a,b",c`, 99, []string{"a,b", "c"}},
		{"f(a,b),c", 99, []string{"f(a,b)", "c"}},
		{"a,b,c,d", 3, []string{"a", "b", "c,d"}},
		{"N=v=w", 2, []string{"N", "v=w"}},
		{`N=a\"b`, 2, []string{"N", `a\"b`}}, // the rest is kept as it is
		{"N=", 2, []string{"N", ""}},
		{"N", 2, []string{"N"}},
		{"", 99, nil},
	} {
		delim := byte(',')
		if tt.max == 2 {
			delim = '='
		}
		if got := agitest.SeparateArgs(tt.in, delim, tt.max); !slices.Equal(got, tt.want) {
			t.Errorf("SeparateArgs(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

// callCtx bounds a simulated call: no test client waits for ever.
func callCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
