package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/callscreen/callscreen/agi/agitest"
)

// TestCheckConfigRefusesWhatServeRefuses: each configuration that loads
// but cannot run is refused by `serve --check-config` and by `serve` with
// the same words, exit 1; serve exits before it serves.
func TestCheckConfigRefusesWhatServeRefuses(t *testing.T) {
	tests := []struct {
		name, yaml, err string
	}{
		{
			"provider timeout shorter than the budget",
			"providers:\n  callerapi:\n    key: k\nreputation:\n  budget: 400ms\n  provider_timeout: 100ms\n",
			"providers: reputation.provider_timeout: 100ms: must not be shorter than reputation.budget (400ms)",
		},
		{
			"admin API off loopback without a token",
			"admin:\n  listen: 0.0.0.0:0\n",
			`admin: listen "0.0.0.0:0": admin.token is required when admin.listen is not a loopback address`,
		},
		{
			"a data dir that cannot be created",
			"data_dir: {dir}/file/data\n",
			`data_dir "{dir}/file/data": {dir}/file is not a directory`,
		},
		{
			"an ARI server without a password",
			"ari:\n  servers:\n    - url: http://127.0.0.1:1\n      username: callscreen\n",
			"ari.servers[0]: ari client: 127.0.0.1:1: username and password are required",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			yaml := strings.ReplaceAll(tt.yaml, "{dir}", dir)
			if !strings.Contains(yaml, "agi:") {
				yaml += "agi:\n  listen: 127.0.0.1:0\n"
			}
			if !strings.Contains(yaml, "admin:") {
				yaml += "admin:\n  listen: 127.0.0.1:0\n"
			}
			if !strings.Contains(yaml, "data_dir:") {
				yaml += "data_dir: " + filepath.Join(dir, "data") + "\n"
			}
			cfg := filepath.Join(dir, "c.yaml")
			if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			want := "callscreen serve: config " + cfg + ": " + strings.ReplaceAll(tt.err, "{dir}", dir) + "\n"
			out, errOut, code := callscreen(t, dir, "serve", "--config", cfg, "--check-config")
			if code != 1 || errOut != want || out != "" {
				t.Errorf("--check-config: exit %d\nstdout %q\nstderr %q\nwant   %q", code, out, errOut, want)
			}
			out, errOut, code = callscreen(t, dir, "serve", "--config", cfg)
			if code != 1 || errOut != want || strings.Contains(out+errOut, "callscreen serving") {
				t.Errorf("serve: exit %d\nstdout %q\nstderr %q\nwant   %q", code, out, errOut, want)
			}
		})
	}
}

// TestSecondServeOnOneDataDir: a second serve on the same data_dir exits 1
// at once, before it serves, naming the directory and the first one's pid;
// the first keeps serving, and once it stops the directory is free.
func TestSecondServeOnOneDataDir(t *testing.T) {
	first := startServe(t, baseConfig, baseFiles)
	data := filepath.Join(first.dir, "data")
	cfg := filepath.Join(t.TempDir(), "second.yaml")
	second := baseConfig + "agi:\n  listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\ndata_dir: " + data + "\nlog:\n  format: json\n"
	if err := os.WriteFile(cfg, []byte(second), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := callscreen(t, first.dir, "serve", "--config", cfg)
	pid := strconv.Itoa(first.cmd.Process.Pid)
	if code == 0 || !strings.Contains(errOut, data) || !strings.Contains(errOut, "is in use by another callscreen process (pid "+pid+",") {
		t.Fatalf("second serve: exit %d\n%s", code, errOut)
	}
	if strings.Contains(errOut, "callscreen serving") {
		t.Fatalf("the second serve served:\n%s", errOut)
	}
	if tr := call(t, first, agitest.Call{CallerID: "+12125550666"}); tr.Vars["CALLSCREEN_RESULT"] != "block" {
		t.Fatalf("the first serve after the refusal: %v", tr.Vars)
	}
	first.stop(t)
	p := run(t, first.dir, []string{"serve", "--config", cfg}, nil)
	if tr := call(t, p, agitest.Call{CallerID: "+12125550666"}); tr.Vars["CALLSCREEN_RESULT"] != "block" {
		t.Fatalf("a serve on the freed data_dir: %v", tr.Vars)
	}
}

// delivered waits until no signal is pending for process pid: the kernel
// has handed it over (a process that does not handle it is gone by then).
func delivered(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return // gone
		}
		pending := false
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && (k == "SigPnd" || k == "ShdPnd") && strings.Trim(strings.TrimSpace(v), "0") != "" {
				pending = true
			}
		}
		if !pending {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a signal to pid %d is still pending after 10s", pid)
		}
		time.Sleep(time.Millisecond)
	}
}

// startBlocked starts serve on a configuration whose admin token is read
// from a FIFO, and returns once serve has opened it: serve is then inside
// its start-up (loading the configuration), where it waits until feed
// writes the token.
func startBlocked(t *testing.T) (p *process, feed func()) {
	t.Helper()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "token")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "c.yaml")
	yaml := fmt.Sprintf("agi:\n  listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\n  token_file: %s\ndata_dir: %s\nlog:\n  format: json\n", fifo, filepath.Join(dir, "data"))
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	p = &process{logs: newLogBuffer(), dir: dir, config: cfg, done: make(chan error, 1)}
	p.start(t, []string{"serve", "--config", cfg}, nil)
	// Opening the FIFO for writing returns once serve opened it to read.
	opened := make(chan *os.File, 1)
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
		}
		opened <- f
	}()
	var w *os.File
	select {
	case w = <-opened:
	case err := <-p.done:
		t.Fatalf("serve exited (%v) before reading its token:\n%s", err, strings.Join(p.logs.all(), "\n"))
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Fatal("serve never read its token file")
	}
	return p, func() {
		if _, err := w.WriteString("t0k3n\n"); err != nil {
			t.Error(err)
		}
		w.Close()
	}
}

// feedAgain writes the token once more, for the next read of the FIFO.
func feedAgain(t *testing.T, p *process) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(filepath.Join(p.dir, "token"), os.O_WRONLY, 0)
		if err == nil {
			_, err = f.WriteString("t0k3n\n")
			f.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve never read its token file again")
	}
}

// TestSignalsDuringStartup: signals are handled from serve's first line. A
// SIGHUP during start-up does not end the process: serve starts, then
// reloads once. A SIGTERM during start-up ends it cleanly, exit 0,
// without serving.
func TestSignalsDuringStartup(t *testing.T) {
	t.Run("SIGHUP", func(t *testing.T) {
		p, feed := startBlocked(t)
		p.signal(t, syscall.SIGHUP)
		delivered(t, p.cmd.Process.Pid)
		feed()
		deadline := time.Now().Add(20 * time.Second)
		for len(p.logs.records("callscreen serving")) == 0 {
			select {
			case err := <-p.done:
				t.Fatalf("serve ended (%v) after a SIGHUP during start-up:\n%s", err, strings.Join(p.logs.all(), "\n"))
			case <-time.After(10 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("serve did not serve within 20s:\n%s", strings.Join(p.logs.all(), "\n"))
			}
		}
		p.agi, _ = p.logs.records("callscreen serving")[0]["agi"].(string)
		feedAgain(t, p) // the reload reads the configuration again
		p.logs.waitFor(t, "config reloaded", 20*time.Second)
		if tr := call(t, p, agitest.Call{CallerID: "+12125551234"}); tr.Vars["CALLSCREEN_RESULT"] != "allow" {
			t.Fatalf("after the reload: %v", tr.Vars)
		}
		p.stop(t)
	})
	t.Run("SIGTERM", func(t *testing.T) {
		p, feed := startBlocked(t)
		p.signal(t, syscall.SIGTERM)
		delivered(t, p.cmd.Process.Pid)
		feed()
		exited(t, p, 20*time.Second)
		if rs := p.logs.records("callscreen serving"); len(rs) > 0 {
			t.Fatalf("serve served after a SIGTERM during start-up:\n%s", strings.Join(p.logs.all(), "\n"))
		}
		p.logs.waitFor(t, "callscreen serve: stopped before serving", time.Second)
		// Not asserted: which start-up steps ran before serve saw the
		// signal. Go hands a signal to signal.Notify's channel from a
		// goroutine of its own, so start-up may take its next step (make
		// the data directory, say) before it stops; what holds is that it
		// stops without serving.
	})
}

// TestReloadKeepsProviderHold: a provider that answered 429 with
// Retry-After is not called again after a SIGHUP within the hold, though
// the reload rebuilt the providers.
func TestReloadKeepsProviderHold(t *testing.T) {
	var requests atomic.Int64
	prov := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Retry-After", "600")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer prov.Close()
	// The budget in seconds: the first call waits for the 429, however
	// busy the machine.
	p := startServe(t, baseConfig+"providers:\n  http:\n    url: "+prov.URL+"\n", baseFiles, callPathSeconds...)
	if tr := call(t, p, agitest.Call{CallerID: "+12125550101"}); tr.Vars["CALLSCREEN_RESULT"] != "allow" || !strings.Contains(tr.Vars["CALLSCREEN_REASONS"], "provider.unavailable") {
		t.Fatalf("first call: %v", tr.Vars)
	}
	if n := requests.Load(); n != 1 {
		t.Fatalf("%d provider requests for the first call; want 1", n)
	}
	body, err := os.ReadFile(p.config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.config, append(body, "\nmode: monitor\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	p.signal(t, syscall.SIGHUP)
	p.logs.waitFor(t, "config reloaded", 10*time.Second)
	tr := call(t, p, agitest.Call{CallerID: "+12125550102"})
	if tr.Vars["CALLSCREEN_MODE"] != "monitor" || !strings.Contains(tr.Vars["CALLSCREEN_REASONS"], "provider.unavailable") {
		t.Fatalf("call after the reload: %v", tr.Vars)
	}
	if n := requests.Load(); n != 1 {
		t.Fatalf("%d provider requests: the provider was called again inside its Retry-After hold after SIGHUP", n)
	}
}
