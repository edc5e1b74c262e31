package agi_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/callscreen/callscreen/agi"
	"github.com/callscreen/callscreen/agi/agitest"
)

// peer is a hand-scripted Asterisk for one connection.
type peer struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func (p *peer) send(lines ...string) {
	p.t.Helper()
	for _, l := range lines {
		if _, err := io.WriteString(p.conn, l); err != nil {
			p.t.Errorf("peer write %q: %v", l, err)
		}
	}
}

// expect reads one command line and checks it.
func (p *peer) expect(want string) {
	p.t.Helper()
	got, err := p.r.ReadString('\n')
	if err != nil || got != want {
		p.t.Errorf("server sent %q (%v), want %q", got, err, want)
	}
}

// expectClosed checks the server closed the connection without sending more.
func (p *peer) expectClosed() {
	p.t.Helper()
	got, err := p.r.ReadString('\n')
	if err != io.EOF || got != "" {
		p.t.Errorf("server sent %q (%v), want it to close", got, err)
	}
}

// session runs handler on a server with metrics m against a scripted peer
// that has sent the standard environment block, and waits for both.
func session(t *testing.T, m *agi.Metrics, handler func(ctx context.Context, s *agi.Session), script func(p *peer)) {
	t.Helper()
	done := make(chan struct{})
	srv := &agi.Server{Metrics: m, Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
		defer close(done)
		handler(ctx, s)
	})}
	addr := startServer(t, srv)
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Minute)) // no test client without a timeout
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	p := &peer{t: t, conn: conn, r: bufio.NewReader(conn)}
	p.send(string(agitest.EnvBlock(agitest.Call{})))
	script(p)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("handler did not return")
	}
}

func TestDeadlineBreaksSession(t *testing.T) {
	m := agi.NewMetrics(nil)
	session(t, m, func(ctx context.Context, s *agi.Session) {
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := s.WaitForDigit(cctx, -1)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("WAIT FOR DIGIT past its deadline: %v, want DeadlineExceeded", err)
		}
		err = s.SetVariable(ctx, "A", "b")
		if !errors.Is(err, agi.ErrProtocol) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("command after a broken stream: %v, want ErrProtocol wrapping the cause", err)
		}
	}, func(p *peer) {
		p.expect("WAIT FOR DIGIT -1\n")
		// never answer; the server must give up and close
		p.expectClosed()
	})
	if got := testutil.ToFloat64(m.CommandsCounter("wait_for_digit", "timeout")); got != 1 {
		t.Errorf("timeout count = %v", got)
	}
}

func TestCancelBreaksSession(t *testing.T) {
	session(t, nil, func(ctx context.Context, s *agi.Session) {
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(50*time.Millisecond, cancel)
		_, _, err := s.GetData(cctx, "beep", 0, 0)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("GET DATA cancelled: %v", err)
		}
		if _, _, err := s.GetVariable(context.Background(), "X"); !errors.Is(err, agi.ErrProtocol) {
			t.Errorf("after cancel: %v", err)
		}
	}, func(p *peer) {
		p.expect("GET DATA beep 0 0\n")
		p.expectClosed()
	})
}

func TestExpiredContextWritesNothing(t *testing.T) {
	session(t, nil, func(ctx context.Context, s *agi.Session) {
		dead, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.Answer(dead); !errors.Is(err, context.Canceled) {
			t.Errorf("Answer with a done ctx: %v", err)
		}
		must(t, s.Answer(ctx)) // the session is still in step
	}, func(p *peer) {
		p.expect("ANSWER\n")
		p.send("200 result=0\n")
		p.expectClosed()
	})
}

func TestGarbageReplyClosesSession(t *testing.T) {
	m := agi.NewMetrics(nil)
	session(t, m, func(ctx context.Context, s *agi.Session) {
		if err := s.Answer(ctx); !errors.Is(err, agi.ErrProtocol) {
			t.Errorf("garbage reply: %v", err)
		}
		if _, err := s.ChannelStatus(ctx); !errors.Is(err, agi.ErrProtocol) {
			t.Errorf("after garbage: %v", err)
		}
	}, func(p *peer) {
		p.expect("ANSWER\n")
		p.send("I am not Asterisk\n")
		p.expectClosed()
	})
	if got := testutil.ToFloat64(m.CommandsCounter("answer", "protocol")); got != 1 {
		t.Errorf("protocol count = %v", got)
	}
}

func TestClosedMidCommand(t *testing.T) {
	session(t, nil, func(ctx context.Context, s *agi.Session) {
		_, _, err := s.StreamFile(ctx, "beep", "")
		if !errors.Is(err, agi.ErrProtocol) || !errors.Is(err, io.EOF) {
			t.Errorf("peer closed mid-reply: %v, want ErrProtocol and io.EOF", err)
		}
	}, func(p *peer) {
		p.expect("STREAM FILE beep \"\"\n")
		p.send("200 result=0 endp")
		p.conn.Close()
	})
}

func TestBadArgumentKeepsSession(t *testing.T) {
	session(t, nil, func(ctx context.Context, s *agi.Session) {
		for _, err := range []error{
			s.SetVariable(ctx, "A", "x\nHANGUP"),
			s.SetVariable(ctx, "", "x"),
			s.SetVariable(ctx, "A", strings.Repeat("x", 2000)),
			s.Verbose(ctx, "hi", 9),
			s.SetContext(ctx, ""),
		} {
			if !errors.Is(err, agi.ErrBadArgument) {
				t.Errorf("bad argument: %v", err)
			}
		}
		if _, err := s.SayDigits(ctx, "abc", ""); !errors.Is(err, agi.ErrBadArgument) {
			t.Errorf("SAY DIGITS abc: %v", err)
		}
		if _, err := s.Cmd(ctx, "FAILURE"); !errors.Is(err, agi.ErrBadArgument) {
			t.Errorf("Cmd FAILURE: %v", err)
		}
		must(t, s.SetVariable(ctx, "A", "ok"))
	}, func(p *peer) {
		p.expect("SET VARIABLE A \"ok\"\n")
		p.send("200 result=1\n")
		p.expectClosed()
	})
}

// TestHangupAnyPoint sends HANGUP wherever Asterisk can.
func TestHangupAnyPoint(t *testing.T) {
	t.Run("unprompted while idle", func(t *testing.T) {
		session(t, nil, func(ctx context.Context, s *agi.Session) {
			time.Sleep(20 * time.Millisecond) // HANGUP is waiting in the socket
			if s.HungUp() {
				t.Error("HungUp() before any read")
			}
			must(t, s.SetVariable(ctx, "CALLSCREEN_RESULT", "allow"))
			if !s.HungUp() {
				t.Error("HungUp() false after HANGUP")
			}
		}, func(p *peer) {
			p.send("HANGUP\n")
			p.expect("SET VARIABLE CALLSCREEN_RESULT \"allow\"\n")
			p.send("200 result=1\n")
			p.expectClosed()
		})
	})
	t.Run("before 511", func(t *testing.T) {
		session(t, nil, func(ctx context.Context, s *agi.Session) {
			if _, err := s.SayDigits(ctx, "472", ""); !errors.Is(err, agi.ErrDeadChannel) || !errors.Is(err, agi.ErrHangup) {
				t.Errorf("SAY DIGITS dead: %v", err)
			}
		}, func(p *peer) {
			p.expect("SAY DIGITS 472 \"\"\n")
			p.send("HANGUP\n", "511 Command Not Permitted on a dead channel or intercept routine\n")
			p.expectClosed()
		})
	})
	t.Run("after -1", func(t *testing.T) {
		session(t, nil, func(ctx context.Context, s *agi.Session) {
			if _, _, err := s.GetData(ctx, "beep", time.Second, 3); !errors.Is(err, agi.ErrHangup) || errors.Is(err, agi.ErrDeadChannel) {
				t.Errorf("GET DATA -1: %v", err)
			}
			v, ok, err := s.GetVariable(ctx, "CALLSCREEN_ID")
			if err != nil || !ok || v != "x" || !s.HungUp() {
				t.Errorf("GET VARIABLE after hangup: %q %t %v hungup=%t", v, ok, err, s.HungUp())
			}
		}, func(p *peer) {
			p.expect("GET DATA beep 1000 3\n")
			p.send("200 result=-1\n")
			p.expect("GET VARIABLE CALLSCREEN_ID\n")
			p.send("HANGUP\n", "200 result=1 (x)\n")
			p.expectClosed()
		})
	})
	t.Run("then closed (AGIEXITONHANGUP)", func(t *testing.T) {
		session(t, nil, func(ctx context.Context, s *agi.Session) {
			err := s.SetVariable(ctx, "A", "b")
			if !errors.Is(err, agi.ErrProtocol) || !errors.Is(err, io.EOF) || !s.HungUp() {
				t.Errorf("HANGUP then close: %v hungup=%t", err, s.HungUp())
			}
		}, func(p *peer) {
			p.expect("SET VARIABLE A \"b\"\n")
			p.send("HANGUP\n", "HANGUP\n")
			p.conn.(*net.TCPConn).CloseWrite()
			p.expectClosed()
		})
	})
	t.Run("after the HANGUP command", func(t *testing.T) {
		session(t, nil, func(ctx context.Context, s *agi.Session) {
			must(t, s.Hangup(ctx))
			if !s.HungUp() {
				t.Error("HungUp() false after Hangup")
			}
			must(t, s.SetVariable(ctx, "A", "b"))
		}, func(p *peer) {
			p.expect("HANGUP\n")
			p.send("200 result=1\n", "HANGUP\n")
			p.expect("SET VARIABLE A \"b\"\n")
			p.send("200 result=1\n")
			p.expectClosed()
		})
	})
}

func TestCommandResults(t *testing.T) {
	long := strings.Repeat("z", 10<<10)
	session(t, nil, func(ctx context.Context, s *agi.Session) {
		if d, _, err := s.GetData(ctx, "p", time.Second, 5); d != "1*2" || err != nil {
			t.Errorf("GET DATA 1*2: %q %v", d, err)
		}
		if d, to, err := s.GetData(ctx, "p", time.Second, 5); d != "" || to || err != nil {
			t.Errorf("GET DATA # first: %q %t %v", d, to, err)
		}
		if d, err := s.WaitForDigit(ctx, time.Second); d != "#" || err != nil {
			t.Errorf("WAIT FOR DIGIT #: %q %v", d, err)
		}
		if d, err := s.WaitForDigit(ctx, time.Second); d != "" || err != nil {
			t.Errorf("WAIT FOR DIGIT timeout: %q %v", d, err)
		}
		if d, pos, err := s.StreamFile(ctx, "p", "*"); d != "*" || pos != 100 || err != nil {
			t.Errorf("STREAM FILE *: %q %d %v", d, pos, err)
		}
		if _, pos, err := s.StreamFile(ctx, "p", ""); !errors.Is(err, agi.ErrHangup) || pos != 50 {
			t.Errorf("STREAM FILE -1: %d %v", pos, err)
		}
		if v, ok, err := s.GetFullVariable(ctx, "${BIG}"); v != long || !ok || err != nil {
			t.Errorf("10 KB value: %d bytes %t %v", len(v), ok, err)
		}
		if n, err := s.Exec(ctx, "Bogus", ""); n != -2 || !errors.Is(err, agi.ErrInvalidCommand) {
			t.Errorf("EXEC unknown app: %d %v", n, err)
		}
		if n, err := s.Exec(ctx, "ReturnsOne", "x"); n != 1 || err != nil {
			t.Errorf("EXEC returning 1: %d %v", n, err)
		}
		if st, err := s.ChannelStatus(ctx); st != agi.StateRing || err != nil {
			t.Errorf("CHANNEL STATUS: %d %v", st, err)
		}
		must(t, s.SetContext(ctx, "screened"))
		must(t, s.SetExtension(ctx, "s"))
		must(t, s.SetPriority(ctx, "1"))
		// digit code that is no DTMF key: WAIT FOR DIGIT result=1 happens
		// only when something was pipelined, which never happens here.
		if _, err := s.WaitForDigit(ctx, time.Second); !errors.Is(err, agi.ErrProtocol) {
			t.Errorf("WAIT FOR DIGIT result=1: %v", err)
		}
	}, func(p *peer) {
		p.expect("GET DATA p 1000 5\n")
		p.send("200 result=1*2 (timeout)\n")
		p.expect("GET DATA p 1000 5\n")
		p.send("200 result=\n")
		p.expect("WAIT FOR DIGIT 1000\n")
		p.send("200 result=35\n")
		p.expect("WAIT FOR DIGIT 1000\n")
		p.send("200 result=0\n")
		p.expect("STREAM FILE p \"*\"\n")
		p.send("200 result=42 endpos=100\n")
		p.expect("STREAM FILE p \"\"\n")
		p.send("200 result=-1 endpos=50\n")
		p.expect("GET FULL VARIABLE ${BIG}\n")
		p.send("200 result=1 (" + long + ")\n")
		p.expect("EXEC Bogus \"\"\n")
		p.send("200 result=-2\n")
		p.expect("EXEC ReturnsOne \"x\"\n")
		p.send("200 result=1\n", "520-Invalid command syntax.  Proper usage follows:\n", "Executes a given Application\n", "520 End of proper usage.\n")
		p.expect("CHANNEL STATUS\n")
		p.send("200 result=4\n")
		p.expect("SET CONTEXT screened\n")
		p.send("200 result=0\n")
		p.expect("SET EXTENSION s\n")
		p.send("200 result=0\n")
		p.expect("SET PRIORITY 1\n")
		p.send("200 result=0\n")
		p.expect("WAIT FOR DIGIT 1000\n")
		p.send("200 result=1\n")
		p.expectClosed()
	})
}

func TestUnexpectedResults(t *testing.T) {
	tests := []struct {
		name  string
		call  func(ctx context.Context, s *agi.Session) error
		cmd   string
		reply string
	}{
		{"GET DATA letters", func(ctx context.Context, s *agi.Session) error {
			_, _, err := s.GetData(ctx, "p", 0, 1)
			return err
		}, "GET DATA p 0 1\n", "200 result=1x\n"},
		{"GET VARIABLE 1 without value", func(ctx context.Context, s *agi.Session) error {
			_, _, err := s.GetVariable(ctx, "A")
			return err
		}, "GET VARIABLE A\n", "200 result=1\n"},
		{"ANSWER not a number", func(ctx context.Context, s *agi.Session) error {
			return s.Answer(ctx)
		}, "ANSWER\n", "200 result=x\n"},
		{"EXEC 1 without usage", func(ctx context.Context, s *agi.Session) error {
			_, err := s.Exec(ctx, "A", "")
			return err
		}, "EXEC A \"\"\n", "200 result=1\n200 result=0\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			session(t, nil, func(ctx context.Context, s *agi.Session) {
				if err := tt.call(ctx, s); !errors.Is(err, agi.ErrProtocol) {
					t.Errorf("err = %v, want ErrProtocol", err)
				}
			}, func(p *peer) {
				p.expect(tt.cmd)
				p.send(tt.reply)
				p.expectClosed()
			})
		})
	}
}

func TestSessionUnusableAfterHandler(t *testing.T) {
	var kept *agi.Session
	// The peer saw the connection closed, which the server does only after
	// it closed the session: no wait is needed.
	session(t, nil, func(ctx context.Context, s *agi.Session) { kept = s }, func(p *peer) { p.expectClosed() })
	if err := kept.Answer(context.Background()); !errors.Is(err, agi.ErrProtocol) {
		t.Errorf("Answer after the handler returned: %v", err)
	}
}

func TestDeadlineOnConnSetByContext(t *testing.T) {
	// A deadline that passes while the reply is half read still wins.
	session(t, nil, func(ctx context.Context, s *agi.Session) {
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		err := s.Answer(cctx)
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("half reply past deadline: %v, want the context's error only", err)
		}
	}, func(p *peer) {
		p.expect("ANSWER\n")
		p.send("200 res")
		p.expectClosed()
	})
}

func TestMetricsLint(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := agi.NewMetrics(reg)
	session(t, m, func(ctx context.Context, s *agi.Session) { must(t, s.Answer(ctx)) }, func(p *peer) {
		p.expect("ANSWER\n")
		p.send("200 result=0\n")
		p.expectClosed()
	})
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
	if got := testutil.ToFloat64(m.CommandsCounter("answer", "ok")); got != 1 {
		t.Errorf("answer ok = %v", got)
	}
	n, err := testutil.GatherAndCount(reg, "callscreen_agi_sessions_accepted_total", "callscreen_agi_session_seconds", "callscreen_agi_command_seconds")
	if err != nil || n != 3 {
		t.Errorf("gathered %d series, %v", n, err)
	}
}

// TestConcurrentCallsNeverPipeline: two goroutines sharing a session get
// their commands serialized: the second line is written only after the
// first reply.
func TestConcurrentCallsNeverPipeline(t *testing.T) {
	session(t, nil, func(ctx context.Context, s *agi.Session) {
		errs := make(chan error, 2)
		for _, name := range []string{"A", "B"} {
			go func() { errs <- s.SetVariable(ctx, name, "1") }()
		}
		for range 2 {
			must(t, <-errs)
		}
	}, func(p *peer) {
		for range 2 {
			l, err := p.r.ReadString('\n')
			if err != nil || !strings.HasPrefix(l, "SET VARIABLE ") {
				t.Fatalf("command %q %v", l, err)
			}
			_ = p.conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if extra, err := p.r.ReadString('\n'); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("second command %q arrived before the first reply (%v)", extra, err)
			}
			_ = p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			p.send("200 result=1\n")
		}
		p.expectClosed()
	})
}

func TestPastDeadlineKeepsSession(t *testing.T) {
	session(t, nil, func(ctx context.Context, s *agi.Session) {
		past, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
		defer cancel()
		if err := s.Answer(past); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("past deadline: %v", err)
		}
		must(t, s.Answer(ctx))
	}, func(p *peer) {
		p.expect("ANSWER\n")
		p.send("200 result=0\n")
		p.expectClosed()
	})
}

// TestRawExecReadsUsageQuirk: EXEC of an application returning 1 is
// followed by a 520 block; Cmd reads it too, so the next reply is in step.
func TestRawExecReadsUsageQuirk(t *testing.T) {
	session(t, nil, func(ctx context.Context, s *agi.Session) {
		rep, err := s.Cmd(ctx, "EXEC", "ReturnsOne")
		if err != nil || rep.Result != "1" {
			t.Errorf("raw EXEC: %+v %v", rep, err)
		}
		if v, ok, err := s.GetVariable(ctx, "A"); v != "b" || !ok || err != nil {
			t.Errorf("next command out of step: %q %t %v", v, ok, err)
		}
	}, func(p *peer) {
		p.expect("EXEC ReturnsOne\n")
		p.send("200 result=1\n", "520 Invalid command syntax.  Proper usage not available.\n")
		p.expect("GET VARIABLE A\n")
		p.send("200 result=1 (b)\n")
		p.expectClosed()
	})
}
