package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/callscreen/callscreen/admin"
	"github.com/callscreen/callscreen/internal/citest"
	"github.com/callscreen/callscreen/reputation/lists"
	"github.com/callscreen/callscreen/service"
)

// watchedBuffer is a writer a test can wait on for some text.
type watchedBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	seen chan struct{}
	want string
}

func newWatched(want string) *watchedBuffer {
	return &watchedBuffer{seen: make(chan struct{}), want: want}
}

func (w *watchedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	had := strings.Contains(w.buf.String(), w.want)
	n, err := w.buf.Write(p)
	if !had && strings.Contains(w.buf.String(), w.want) {
		close(w.seen)
	}
	return n, err
}

func (w *watchedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestCommandWaitsForCommand: a command that finds data_dir held by
// another command says so, waits, and writes once it is free; with no
// time left to wait it says who holds it and changes nothing.
func TestCommandWaitsForCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, "data_dir: "+dir+"\n")
	held, err := service.LockDataDirFor(dir, "callscreen lists import")
	if err != nil {
		t.Fatal(err)
	}
	errOut := newWatched("waiting up to 1m0s for pid " + strconv.Itoa(os.Getpid()) + ` ("callscreen lists import"), which holds data_dir`)
	var out bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), []string{"lists", "add", "+12125550001", "--list", "block", "--config", cfg}, &out, errOut)
	}()
	select {
	case <-errOut.seen:
	case code := <-done:
		t.Fatalf("the command did not wait: exit %d\n%s", code, errOut.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("the command neither waited nor said so:\n%s", errOut.String())
	}
	if err := held.Unlock(); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 || !strings.Contains(out.String(), "added +12125550001 on the block list") {
			t.Fatalf("after the lock was let go: exit %d\n%s%s", code, out.String(), errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the command did not go on once the lock was let go")
	}
	if r := listsSee(t, cfg, "", "+12125550001"); len(r) != 1 {
		t.Fatalf("the entry was not stored: %v", r)
	}

	held, err = service.LockDataDirFor(dir, "callscreen feed import")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()
	code, _, stderr := runCmd("lists", "add", "+12125550002", "--list", "block", "--config", cfg, "--wait", "0s")
	if code != 1 || !strings.Contains(stderr, `is still held by pid `+strconv.Itoa(os.Getpid())+` ("callscreen feed import") after 0s; nothing was changed`) {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if r := listsSee(t, cfg, "", "+12125550002"); len(r) != 0 {
		t.Fatalf("the entry was stored anyway: %v", r)
	}
}

// TestCommandAndSilentServer: a server that holds data_dir but whose admin
// API cannot be reached gets no change behind its back: the command says
// why and exits 1; something that is no callscreen admin API at
// admin.listen is refused, and so is a wrong token.
func TestCommandAndSilentServer(t *testing.T) {
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	tests := []struct {
		name, admin string
		server      bool // a server holds data_dir
		want        string
	}{
		{"admin API off", `""`, true, `and its admin API is off (admin.listen is empty in `},
		{"admin API on a port chosen at start", "127.0.0.1:0", true, `and admin.listen "127.0.0.1:0" (in `},
		{"admin API that does not answer", closedAddr(t), true, "but no admin API answered at "},
		{"another HTTP server at admin.listen", other.Listener.Addr().String(), false, "answers GET /healthz with 404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := writeConfig(t, "data_dir: "+dir+"\nadmin:\n  listen: "+tt.admin+"\n")
			if tt.server {
				held, err := service.LockDataDir(dir)
				if err != nil {
					t.Fatal(err)
				}
				defer held.Unlock()
			}
			code, out, stderr := runCmd("report", "spam", "+12125550003", "--config", cfg, "--wait", "200ms")
			if code != 1 || out != "" || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d\nstdout %q\nstderr %q\nwant %q", code, out, stderr, tt.want)
			}
			if tt.server && !strings.Contains(stderr, "is held by callscreen serve (pid "+strconv.Itoa(os.Getpid())+")") {
				t.Fatalf("the refusal does not name the server: %s", stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, "feedback.jsonl")); err == nil {
				t.Fatal("the report was written behind the server's back")
			}
		})
	}

	// A callscreen admin API with a token the command does not have.
	srv, err := admin.New(admin.Options{Listen: "127.0.0.1:0", Token: "right", Logger: quietLogger(), Lists: nil})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	cfg := writeConfig(t, "data_dir: "+t.TempDir()+"\nadmin:\n  listen: "+ts.Listener.Addr().String()+"\n  token: wrong\n")
	code, _, stderr := runCmd("lists", "add", "+12125550004", "--list", "block", "--config", cfg)
	if code != 1 || !strings.Contains(stderr, "admin API: 401 Unauthorized: missing or wrong token") {
		t.Fatalf("wrong token: exit %d\n%s", code, stderr)
	}
}

// TestOwnerRefusal: as root, on a data_dir that belongs to the server's
// user, a command that would create files there refuses, naming the owner
// and how to run it as that user; files that exist are written in place
// (their owner stays).
func TestOwnerRefusal(t *testing.T) {
	if os.Geteuid() != 0 {
		citest.Unavailable(t, "needs root to give the data directory to another user (as a service manager does)")
	}
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(base, "data")
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, "data_dir: "+dir+"\n")
	code, _, stderr := runCmd("lists", "add", "+12125550005", "--list", "block", "--config", cfg)
	for _, want := range []string{
		`data_dir "` + dir + `" belongs to uid 65534`,
		"but this command runs as uid 0",
		"it would create " + filepath.Join(dir, "callscreen.lock") + " and " + filepath.Join(dir, "lists.db") + " as uid 0",
		"nothing was changed",
		"setpriv --reuid=65534 --regid=65534 --clear-groups -- ",
		" lists add +12125550005 --list block --config " + cfg,
		"chown -R 0:0 " + dir,
	} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("exit %d, stderr lacks %q:\n%s", code, want, stderr)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("the refused command left %d files", len(ents))
	}

	// The server's own files exist: written in place, they stay its own.
	for _, f := range []string{"callscreen.lock", "lists.db"} {
		p := filepath.Join(dir, f)
		if f == "lists.db" {
			if err := lists.NewBoltStore(dir).Apply(context.Background(), []lists.Change{{Entry: mustEntry(t, "+12125550006")}}); err != nil {
				t.Fatal(err)
			}
		} else if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	if code, out, stderr := runCmd("lists", "add", "+12125550005", "--list", "block", "--config", cfg); code != 0 {
		t.Fatalf("with the files in place: exit %d\n%s%s", code, out, stderr)
	}
	for _, f := range []string{"callscreen.lock", "lists.db"} {
		if uid := ownerOf(t, filepath.Join(dir, f)); uid != 65534 {
			t.Errorf("%s now belongs to uid %d", f, uid)
		}
	}

	// A server that holds data_dir comes first: the refusal is about it,
	// not about files this command would not write anyway.
	held, err := service.LockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCmd("report", "spam", "+12125550007", "--config", cfg)
	held.Unlock()
	if code != 1 || !strings.Contains(stderr, "is held by callscreen serve (pid "+strconv.Itoa(os.Getpid())+")") || strings.Contains(stderr, "belongs to") {
		t.Fatalf("with a server holding data_dir: exit %d\n%s", code, stderr)
	}
	if uid := ownerOf(t, filepath.Join(dir, "callscreen.lock")); uid != 65534 {
		t.Errorf("the lock file now belongs to uid %d", uid)
	}

	// A directory on the way the owner cannot pass (systemd keeps a
	// DynamicUser's state directory under /var/lib/private, 0700 root):
	// no setpriv line that would fail.
	if err := os.Chmod(base, 0o700); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCmd("report", "spam", "+12125550007", "--config", cfg)
	if code != 1 || !strings.Contains(stderr, "it would create "+filepath.Join(dir, "feedback.jsonl")+" as uid 0") || !strings.Contains(stderr, "running this as uid 65534") || !strings.Contains(stderr, base+" (uid 0 (root), mode 0700) keeps that user out") || strings.Contains(stderr, "setpriv") {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
}

func mustEntry(t *testing.T, s string) lists.Entry {
	t.Helper()
	e, err := lists.ParseEntry(s, "US")
	if err != nil {
		t.Fatal(err)
	}
	e.List = lists.Block
	return e
}

func ownerOf(t *testing.T, path string) int {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return ownerUID(st)
}

func TestShellJoin(t *testing.T) {
	for _, tt := range []struct {
		in   []string
		want string
	}{
		{[]string{"lists", "add", "+1900*"}, "lists add '+1900*'"},
		{[]string{"--note", "it's spam"}, `--note 'it'\''s spam'`},
		{[]string{"/usr/local/bin/callscreen", "--config=/etc/c.yaml"}, "/usr/local/bin/callscreen --config=/etc/c.yaml"},
		{[]string{""}, "''"},
	} {
		if got := shellJoin(tt.in); got != tt.want {
			t.Errorf("shellJoin(%q) = %s; want %s", tt.in, got, tt.want)
		}
	}
}

// TestDefaultConfig: --config defaults to $CALLSCREEN_CONFIG, else the
// system's file when it exists; CALLSCREEN_CONFIG set empty is the
// built-in defaults.
func TestDefaultConfig(t *testing.T) {
	sys := filepath.Join(t.TempDir(), "callscreen.yaml")
	old := systemConfig
	systemConfig = sys
	defer func() { systemConfig = old }()
	tests := []struct {
		name   string
		env    *string
		exists bool
		want   string
	}{
		{"nothing", nil, false, ""},
		{"the system's file", nil, true, sys},
		{"the environment", ptr("/x.yaml"), true, "/x.yaml"},
		{"the environment set empty", ptr(""), true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(sys)
			if tt.exists {
				if err := os.WriteFile(sys, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv("CALLSCREEN_CONFIG", "")
			if tt.env == nil {
				os.Unsetenv("CALLSCREEN_CONFIG")
			} else {
				os.Setenv("CALLSCREEN_CONFIG", *tt.env)
			}
			if got := defaultConfig(); got != tt.want {
				t.Fatalf("defaultConfig() = %q; want %q", got, tt.want)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func ownerUID(fi os.FileInfo) int {
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}
