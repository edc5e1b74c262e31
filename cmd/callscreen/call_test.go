package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/agi"
	"github.com/callscreen/callscreen/bridge"
	"github.com/callscreen/callscreen/decision"
)

// startAGI serves h on a loopback port until the test ends and returns the
// address. allow, when set, is the server's peer allow-list.
func startAGI(t *testing.T, h agi.HandlerFunc, allow ...netip.Prefix) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &agi.Server{Handler: h, Allow: allow}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
		<-done
	})
	return l.Addr().String()
}

// TestCallOutcome: `callscreen call` says SUCCESS and exits 0 only when the
// server screened the call (set CALLSCREEN_RESULT); a server that refused
// the connection or a session that failed prints AGISTATUS=FAILURE and
// exits 1.
func TestCallOutcome(t *testing.T) {
	screen := func(ctx context.Context, s *agi.Session) {
		_ = s.SetVariable(ctx, decision.VarResult, "allow")
	}
	noResult := func(ctx context.Context, s *agi.Session) {
		_ = s.SetVariable(ctx, "SOMETHING_ELSE", "x")
	}
	prompt := func(ctx context.Context, s *agi.Session) {
		_, _, _ = s.StreamFile(ctx, "beep", "")
		_ = s.SetVariable(ctx, decision.VarResult, "allow")
	}
	closeAtOnce := func(context.Context, *agi.Session) {}
	// A raw listener that runs serve on every connection.
	raw := func(t *testing.T, serve func(net.Conn)) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				serve(c)
				c.Close()
			}
		}()
		t.Cleanup(func() { l.Close(); <-done })
		return l.Addr().String()
	}
	// Accepts and closes before reading anything: a server over its
	// session cap.
	refuser := func(t *testing.T) string { return raw(t, func(net.Conn) {}) }
	// Sets the result, then sends a "failure" line, which ends the AGI with
	// FAILURE (run_agi in res/res_agi.c). agi.Session refuses to send
	// such a line, so this server writes the wire itself.
	failing := func(t *testing.T) string {
		return raw(t, func(c net.Conn) {
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			r := bufio.NewReader(c)
			for {
				l, err := r.ReadString('\n')
				if err != nil || l == "\n" {
					break
				}
			}
			_, _ = io.WriteString(c, "SET VARIABLE CALLSCREEN_RESULT allow\n")
			_, _ = r.ReadString('\n')
			_, _ = io.WriteString(c, "failure\n")
			_, _ = io.Copy(io.Discard, r)
		})
	}
	elsewhere := netip.MustParsePrefix("192.0.2.0/24")

	for _, tc := range []struct {
		name     string
		addr     func(t *testing.T) string
		args     []string
		code     int
		status   string
		stderrIs string
	}{
		{"screened", func(t *testing.T) string { return startAGI(t, screen) }, nil, 0, "SUCCESS", ""},
		{"caller hung up", func(t *testing.T) string { return startAGI(t, prompt) }, []string{"--hangup-after", "1"}, 0, "HANGUP", ""},
		{"refused by the allow-list", func(t *testing.T) string { return startAGI(t, screen, elsewhere) }, nil, 1, "FAILURE", "without a command"},
		{"accepted and closed", refuser, nil, 1, "FAILURE", "without a command"},
		{"closed after the environment", func(t *testing.T) string { return startAGI(t, closeAtOnce) }, nil, 1, "FAILURE", "without a command"},
		{"no CALLSCREEN_RESULT", func(t *testing.T) string { return startAGI(t, noResult) }, nil, 1, "FAILURE", "without setting CALLSCREEN_RESULT"},
		{"session failed", failing, nil, 1, "FAILURE", "session failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := tc.addr(t)
			var out, errb bytes.Buffer
			args := append([]string{"call", "--agi", addr, "--from", "+12125551234", "--timeout", "30s"}, tc.args...)
			code := run(context.Background(), args, &out, &errb)
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if code != tc.code || lines[len(lines)-1] != "AGISTATUS="+tc.status {
				t.Fatalf("exit %d, out %q, err %q; want exit %d and AGISTATUS=%s", code, out.String(), errb.String(), tc.code, tc.status)
			}
			if strings.Count(out.String(), "AGISTATUS=") != 1 {
				t.Errorf("AGISTATUS printed more than once: %q", out.String())
			}
			if tc.stderrIs == "" && errb.Len() != 0 || !strings.Contains(errb.String(), tc.stderrIs) {
				t.Errorf("stderr %q, want it to say %q", errb.String(), tc.stderrIs)
			}
		})
	}
}

func TestCallOutcomeError(t *testing.T) {
	status, code, why := callOutcome(nil, errors.New("agitest dial x: refused"))
	if status != "FAILURE" || code != 1 || !strings.Contains(why, "refused") {
		t.Fatalf("callOutcome(nil, err) = %s %d %q", status, code, why)
	}
}

// TestCallSTIRArguments: --attestation and --verify-result reach the
// server as the AGI arguments dialplan/callscreen.conf passes (the rows
// of dialplan's "stir" tests), and the server reads them as the call's
// STIR/SHAKEN result; values Asterisk would not produce are refused
// before anything is dialled.
func TestCallSTIRArguments(t *testing.T) {
	type seen struct {
		args                []string
		attestation, verify string
	}
	got := make(chan seen, 1)
	addr := startAGI(t, func(ctx context.Context, s *agi.Session) {
		info := bridge.AGIInfo(s.Env())
		got <- seen{args: s.Env().Args, attestation: info.Attestation, verify: info.VerifyResult}
		_ = s.SetVariable(ctx, decision.VarResult, "allow")
	})
	for _, tc := range []struct {
		name   string
		flags  []string
		args   []string // what the server receives; nil: refused, nothing dialled
		attest string
		verify string
		stderr string
	}{
		{"no result", nil, []string{"screened="}, "", "", ""},
		{"A, verified by default", []string{"--attestation", "A"}, []string{"screened=", "attest=A", "verify=success"}, "A", "success", ""},
		{"lower case is the letter", []string{"--attestation", "c"}, []string{"screened=", "attest=C", "verify=success"}, "C", "success", ""},
		{"B with a failed check", []string{"--attestation", "B", "--verify-result", "cid_orig_tn_mismatch"}, []string{"screened=", "attest=B", "verify=cid_orig_tn_mismatch"}, "B", "cid_orig_tn_mismatch", ""},
		{"no attestation", []string{"--attestation", "none"}, []string{"screened=", "attest=none"}, "none", "", ""},
		{"screened before", []string{"--screened", "abc", "--attestation", "A"}, []string{"screened=abc", "attest=A", "verify=success"}, "A", "success", ""},
		{"not an attestation", []string{"--attestation", "D"}, nil, "", "", `--attestation "D": want A, B, C or none`},
		{"verify without attestation", []string{"--verify-result", "success"}, nil, "", "", "--verify-result needs --attestation"},
		{"verify with none", []string{"--attestation", "none", "--verify-result", "missing_identity_hdr"}, nil, "", "", "passes no verify= without an attestation"},
		{"unknown verify code", []string{"--attestation", "A", "--verify-result", "fine"}, nil, "", "", `--verify-result "fine": not a verify_result of Asterisk 22`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"call", "--agi", addr, "--from", "+12125551234", "--timeout", "30s"}, tc.flags...)
			code := run(context.Background(), args, &out, &errb)
			if tc.args == nil {
				if code != 2 || !strings.Contains(errb.String(), tc.stderr) || out.Len() != 0 {
					t.Fatalf("exit %d, out %q, err %q; want exit 2 saying %q", code, out.String(), errb.String(), tc.stderr)
				}
				select {
				case s := <-got:
					t.Fatalf("refused flags dialled the server: %v", s.args)
				default:
				}
				return
			}
			if code != 0 {
				t.Fatalf("exit %d, out %q, err %q", code, out.String(), errb.String())
			}
			var s seen
			select {
			case s = <-got: // the handler ran before the call ended
			default:
				t.Fatal("the server saw no call")
			}
			if !slices.Equal(s.args, tc.args) {
				t.Errorf("AGI arguments %q; want %q", s.args, tc.args)
			}
			if s.attestation != tc.attest || s.verify != tc.verify {
				t.Errorf("server read attestation %q verify %q; want %q %q", s.attestation, s.verify, tc.attest, tc.verify)
			}
		})
	}
}
