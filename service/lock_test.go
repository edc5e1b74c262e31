package service

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLockHolder: the lock file says who holds the data directory, a
// server or a command, and the refusal says so.
func TestLockHolder(t *testing.T) {
	tests := []struct {
		name, command string
		lock          func(dir string) (*DirLock, error)
		want          []string
	}{
		{"a server", "", LockDataDir, []string{"(pid " + strconv.Itoa(os.Getpid()) + ", holding", "two servers on one data directory"}},
		{"a command", "callscreen lists import", func(dir string) (*DirLock, error) { return LockDataDirFor(dir, " callscreen  lists import ") },
			[]string{"(pid " + strconv.Itoa(os.Getpid()) + `, "callscreen lists import", holding`, "wait for it to finish"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			l, err := tt.lock(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Unlock()
			_, err = LockDataDir(dir)
			var inUse *InUseError
			if !errors.As(err, &inUse) || inUse.PID != os.Getpid() || inUse.Command != tt.command || inUse.Dir != dir {
				t.Fatalf("second lock: %v (%+v)", err, inUse)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
		})
	}
	if _, err := LockDataDirFor(t.TempDir(), "  "); err == nil {
		t.Error("a command lock without a name was taken")
	}
}

// logged is a slog handler that reports each message on a channel.
type logged chan string

func (l logged) Enabled(context.Context, slog.Level) bool { return true }
func (l logged) Handle(_ context.Context, r slog.Record) error {
	l <- r.Message
	return nil
}
func (l logged) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l logged) WithGroup(string) slog.Handler      { return l }

// TestServerWaitsForCommand: a server that starts while a command holds
// the data directory waits for it, says so once, and takes the lock when
// the command lets go; a server holder is refused without waiting; the
// wait ends with its context or its bound.
func TestServerWaitsForCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	cmd, err := LockDataDirFor(dir, "callscreen lists import")
	if err != nil {
		t.Fatal(err)
	}
	msgs := make(logged, 10)
	done := make(chan error, 1)
	go func() {
		l, err := waitDataDir(context.Background(), dir, time.Hour, slog.New(msgs))
		if err == nil {
			err = l.Unlock()
		}
		done <- err
	}()
	select {
	case m := <-msgs:
		if m != "callscreen serve: waiting for a command that holds data_dir" {
			t.Fatalf("logged %q", m)
		}
	case err := <-done:
		t.Fatalf("the server did not wait: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the server neither waited nor said so")
	}
	if err := cmd.Unlock(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("after the command let go: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not take the lock the command let go")
	}
	if m := <-msgs; m != "callscreen serve: data_dir free again" {
		t.Fatalf("logged %q", m)
	}

	// A server holding it: refused at once (a wait of an hour would time
	// the test out).
	srv, err := LockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = waitDataDir(context.Background(), dir, time.Hour, slog.New(msgs))
	var inUse *InUseError
	if !errors.As(err, &inUse) || inUse.Command != "" {
		t.Fatalf("a second server: %v", err)
	}
	_ = srv.Unlock()

	// The context ends the wait; so does its bound.
	cmd, err = LockDataDirFor(dir, "callscreen feed import")
	if err != nil {
		t.Fatal(err)
	}
	defer cmd.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := waitDataDir(ctx, dir, time.Hour, slog.New(slog.DiscardHandler)); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled wait: %v", err)
	}
	if _, err := waitDataDir(context.Background(), dir, 0, slog.New(slog.DiscardHandler)); !errors.Is(err, ErrDataDirInUse) || !strings.Contains(err.Error(), "(waited 0s)") || !strings.Contains(err.Error(), "callscreen feed import") {
		t.Fatalf("a wait past its bound: %v", err)
	}
}
