package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bin is the callscreen binary under test, built once by TestMain.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "callscreen-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "callscreen")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "../cmd/callscreen")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building callscreen:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// logBuffer collects a process's stderr, line by line, for the test to
// read while the process runs.
type logBuffer struct {
	mu    sync.Mutex
	lines []string
	cond  *sync.Cond
}

func newLogBuffer() *logBuffer {
	b := &logBuffer{}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func (b *logBuffer) consume(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		b.mu.Lock()
		b.lines = append(b.lines, sc.Text())
		b.cond.Broadcast()
		b.mu.Unlock()
	}
}

func (b *logBuffer) all() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.lines...)
}

// records returns the JSON log records, with msg matching when msg is
// not "".
func (b *logBuffer) records(msg string) []map[string]any {
	var out []map[string]any
	for _, l := range b.all() {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) != nil {
			continue
		}
		if msg == "" || m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// errors returns the log lines at level ERROR.
func (b *logBuffer) errors() []string {
	var out []string
	for _, r := range b.records("") {
		if r["level"] == "ERROR" {
			js, _ := json.Marshal(r)
			out = append(out, string(js))
		}
	}
	return out
}

// waitFor waits until a record with msg has been logged.
func (b *logBuffer) waitFor(t *testing.T, msg string, timeout time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if rs := b.records(msg); len(rs) > 0 {
			return rs[len(rs)-1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %q in the log after %s:\n%s", msg, timeout, strings.Join(b.all(), "\n"))
	return nil
}

// process is one running `callscreen serve`.
type process struct {
	cmd    *exec.Cmd
	logs   *logBuffer
	dir    string
	config string
	agi    string // FastAGI address
	admin  string // admin address, "off" when off
	done   chan error
}

// files are written into the test's directory before serve starts.
type files map[string]string

// startServe writes the configuration (with data_dir, agi.listen and
// admin.listen filled in unless set) and runs callscreen serve on it.
func startServe(t *testing.T, yaml string, fs files, env ...string) *process {
	t.Helper()
	dir, cfg := writeServeConfig(t, yaml, fs)
	return run(t, dir, []string{"serve", "--config", cfg}, env)
}

// writeServeConfig writes what startServe starts serve on into a new
// directory: the files, and the configuration with data_dir, agi.listen
// and admin.listen filled in unless set. It returns the directory and
// the configuration's path.
func writeServeConfig(t *testing.T, yaml string, fs files) (dir, cfg string) {
	t.Helper()
	dir = t.TempDir()
	for name, body := range fs {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(yaml, "agi:") {
		yaml += "\nagi:\n  listen: 127.0.0.1:0\n"
	}
	if !strings.Contains(yaml, "admin:") {
		yaml += "\nadmin:\n  listen: 127.0.0.1:0\n"
	}
	if !strings.Contains(yaml, "data_dir:") {
		yaml += "\ndata_dir: " + filepath.Join(dir, "data") + "\n"
	}
	if !strings.Contains(yaml, "log:") {
		yaml += "\nlog:\n  format: json\n  level: info\n"
	}
	cfg = filepath.Join(dir, "callscreen.yaml")
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, cfg
}

func run(t *testing.T, dir string, args, env []string) *process {
	t.Helper()
	p, err := tryRun(t, dir, args, env)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// tryRun starts the binary and waits for it to serve; an error says why
// it did not (it exited first, or said nothing in time).
func tryRun(t *testing.T, dir string, args, env []string) (*process, error) {
	t.Helper()
	p := &process{logs: newLogBuffer(), dir: dir, done: make(chan error, 1)}
	if len(args) >= 3 {
		p.config = args[2]
	}
	p.start(t, args, env)
	deadline := time.After(20 * time.Second)
	for {
		if rs := p.logs.records("callscreen serving"); len(rs) > 0 {
			p.agi, _ = rs[0]["agi"].(string)
			p.admin, _ = rs[0]["admin"].(string)
			t.Cleanup(func() { p.stop(t) })
			return p, nil
		}
		select {
		case err := <-p.done:
			p.done <- err
			return nil, fmt.Errorf("callscreen %s exited (%v) before serving:\n%s", args[0], err, strings.Join(p.logs.all(), "\n"))
		case <-deadline:
			_ = p.cmd.Process.Kill()
			return nil, fmt.Errorf("callscreen %s did not start serving within 20s:\n%s", args[0], strings.Join(p.logs.all(), "\n"))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// start starts the binary with args in p.dir, its stderr read into
// p.logs; p.done receives its exit. A process still running when the test
// ends is killed.
func (p *process) start(t *testing.T, args, env []string) {
	t.Helper()
	p.startCmd(t, exec.Command(bin, args...), env)
}

// startCmd is start for a command line of the caller's (the binary run
// through setpriv, say).
func (p *process) startCmd(t *testing.T, cmd *exec.Cmd, env []string) {
	t.Helper()
	p.cmd = cmd
	p.cmd.Dir = p.dir
	p.cmd.Env = append(cleanEnv(), env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.cmd.Process.Kill() })
	consumed := make(chan struct{})
	go func() {
		p.logs.consume(stderr)
		close(consumed)
	}()
	go func() {
		<-consumed
		p.done <- p.cmd.Wait()
	}()
}

// cleanEnv is the test's environment without CALLSCREEN_* variables, so a
// developer's settings cannot change what the tests see (CALLSCREEN_CONFIG
// is set empty). A binary built
// with the race detector is told not to wait a second at exit (it still
// reports races and exits 66 on one).
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CALLSCREEN_") {
			out = append(out, kv)
		}
	}
	if os.Getenv("GORACE") == "" {
		out = append(out, "GORACE=atexit_sleep_ms=0")
	}
	// Set empty: the built-in defaults, never a configuration the host
	// has in /etc/callscreen.
	out = append(out, "CALLSCREEN_CONFIG=")
	return out
}

// stop sends SIGTERM and waits for a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("callscreen serve exited with %v\n%s", err, strings.Join(p.logs.all(), "\n"))
		}
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Errorf("callscreen serve did not stop within 30s of SIGTERM")
	}
}

// signal sends sig to the server.
func (p *process) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// metric returns the value of a metric line (name with labels, as
// exposed) from the admin /metrics endpoint.
func (p *process) metric(t *testing.T, series string) string {
	t.Helper()
	resp, err := testClient.Get("http://" + p.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			return v
		}
	}
	return ""
}

// callscreen runs the binary with args and returns stdout, stderr and
// the exit code.
func callscreen(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// portFree reports whether addr can be listened on now.
func portFree(addr string) bool {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}
