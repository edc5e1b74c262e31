package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func runCommand(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "CALLSCREEN_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestCommandArguments(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("mode: sometimes\n"), 0o644)
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"serve extra argument", []string{"serve", "now"}, 2, "", `unexpected argument "now"`},
		{"serve bad config", []string{"serve", "--config", bad}, 1, "", `mode "sometimes": want enforce or monitor`},
		{"check-config defaults", []string{"serve", "--check-config"}, 0, "configuration OK: built-in defaults", ""},
		{"check-config bad", []string{"serve", "--check-config", "--config", bad}, 1, "", "config " + bad},
		{"check without number", []string{"check"}, 2, "", "usage: callscreen check NUMBER"},
		{"check two numbers", []string{"check", "1", "2"}, 2, "", "usage: callscreen check NUMBER"},
		{"check unknown profile", []string{"check", "--config", "", "--profile", "nosuch", "+12125551234"}, 0, "profile default", `no profile "nosuch"`},
		{"check attestation C", []string{"check", "--config", "", "--attestation", "C", "+12125551234"}, 0, "stir.unverified", ""},
		{"check attestation A", []string{"check", "--config", "", "+12125551234", "--attestation", "A"}, 0, "attestation A, verification success", ""},
		{"check attestation A failed", []string{"check", "--config", "", "--attestation", "A", "--verify-result", "signature_validation", "+12125551234"}, 0, "action   challenge", ""},
		{"check no identity header", []string{"check", "--config", "", "--attestation", "none", "+12125551234"}, 0, "attestation none, verification -", ""},
		{"check bad attestation", []string{"check", "--config", "", "--attestation", "D", "+12125551234"}, 2, "", `--attestation "D": want A, B, C or none`},
		{"check bad verify result", []string{"check", "--config", "", "--attestation", "A", "--verify-result", "great", "+12125551234"}, 2, "", `--verify-result "great": not a verify_result`},
		{"check verify result alone", []string{"check", "--config", "", "--verify-result", "success", "+12125551234"}, 2, "", "--verify-result needs --attestation"},
		{"call bad keys", []string{"call", "--keys", "12a"}, 2, "", `--keys "12a"`},
		{"call extra argument", []string{"call", "x"}, 2, "", `unexpected argument "x"`},
		{"call nobody listening", []string{"call", "--agi", "127.0.0.1:1", "--timeout", "5s"}, 1, "AGISTATUS=FAILURE\n", "callscreen call:"},
		{"config bad", []string{"config", "--config", bad}, 1, "", "callscreen config:"},
		{"config defaults", []string{"config"}, 0, "listen: 127.0.0.1:4573", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(dir) // check opens data_dir relative to here
			out, errOut, code := runCommand(t, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.stdout) || !strings.Contains(errOut, tt.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", code, tt.code, out, tt.stdout, errOut, tt.stderr)
			}
		})
	}
}

// TestServeStopsOnCancel runs serve in process on a free port and stops it
// through its context, as SIGTERM does.
func TestServeStopsOnCancel(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("agi:\n  listen: 127.0.0.1:0\nadmin:\n  listen: \"\"\ndata_dir: "+dir+"\nlog:\n  format: json\n"), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	logs := &lockedBuffer{b: &errb}
	go func() { done <- run(ctx, []string{"serve", "--config", cfg}, &out, logs) }()
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(logs.String(), `"msg":"callscreen serving"`); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", logs.String())
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(logs.String(), `"msg":"callscreen serving"`) || !strings.Contains(logs.String(), `"msg":"callscreen stopped"`) {
		t.Fatalf("log:\n%s", logs.String())
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestAGIDialAddr(t *testing.T) {
	tests := []struct{ listen, want string }{
		{"", "127.0.0.1:4573"},
		{"127.0.0.1:14573", "127.0.0.1:14573"},
		{"0.0.0.0:4574", "127.0.0.1:4574"},
		{"[::]:4575", "127.0.0.1:4575"},
		{":4576", "127.0.0.1:4576"},
		{"10.0.0.5:4573", "10.0.0.5:4573"},
		{"[::1]:4577", "[::1]:4577"},
		{"127.0.0.1:0", "127.0.0.1:4573"},
		{"not an address", "127.0.0.1:4573"},
	}
	for _, tt := range tests {
		t.Run(tt.listen, func(t *testing.T) {
			if got := agiDialAddr(tt.listen); got != tt.want {
				t.Fatalf("agiDialAddr(%q) = %q; want %q", tt.listen, got, tt.want)
			}
		})
	}
}

// TestCallFollowsAGIListen: without --agi, call dials the address serve
// would listen on, from $CALLSCREEN_AGI_LISTEN.
func TestCallFollowsAGIListen(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nobody listens there now: the call fails, naming the address
	t.Setenv("CALLSCREEN_AGI_LISTEN", addr)
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"call", "--from", "+12125551234", "--timeout", "5s"}, &out, &errb)
	if code != 1 || out.String() != "AGISTATUS=FAILURE\n" || !strings.Contains(errb.String(), addr) {
		t.Fatalf("exit %d out %q err %q; want a failure dialling %s", code, out.String(), errb.String(), addr)
	}
}
