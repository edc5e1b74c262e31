package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// LockFile is the file in data_dir that a running server (or a command
// writing the data directory while no server runs) holds an exclusive
// flock on. Its first line is the holder's pid; a command adds a second
// line naming itself ("callscreen lists import"), a server adds none.
const LockFile = "callscreen.lock"

// ErrDataDirInUse reports that another process holds the data directory.
var ErrDataDirInUse = errors.New("in use by another callscreen process")

// InUseError says which data directory is held, and by which process
// (PID 0 when its lock file does not say).
type InUseError struct {
	Dir string
	PID int
	// Command names the command that holds the directory ("callscreen
	// lists import"); "" is a server.
	Command string
}

func (e *InUseError) Error() string {
	holder := "a process whose pid its lock file does not name"
	if e.PID > 0 {
		holder = "pid " + strconv.Itoa(e.PID)
	}
	if e.Command != "" {
		return fmt.Sprintf("data_dir %q is %s (%s, %q, holding %s): the command writes the server's state; wait for it to finish",
			e.Dir, ErrDataDirInUse, holder, e.Command, filepath.Join(e.Dir, LockFile))
	}
	return fmt.Sprintf("data_dir %q is %s (%s, holding %s): two servers on one data directory would corrupt each other's decision log; stop the other one, or give this one a data_dir of its own",
		e.Dir, ErrDataDirInUse, holder, filepath.Join(e.Dir, LockFile))
}

func (e *InUseError) Unwrap() error { return ErrDataDirInUse }

// DirLock is an exclusive lock on a data directory, held until Unlock or
// the process ends (the kernel drops a flock with its holder, so a server
// killed with -9 leaves nothing to clean up).
type DirLock struct {
	f   *flock.Flock
	dir string
}

// LockDataDir takes the exclusive lock on dir for a server, creating dir
// if needed, and writes this process's pid into the lock file. It does
// not wait: a lock held by another process is an *InUseError naming dir,
// the holder's pid and, when the holder is a command, the command.
func LockDataDir(dir string) (*DirLock, error) { return lockDataDir(dir, "") }

// LockDataDirFor is LockDataDir for a command that writes the server's
// state while no server runs: the lock file names command, so that a
// server started meanwhile waits for it (see Server.Start) and another
// command can say what it waits for.
func LockDataDirFor(dir, command string) (*DirLock, error) {
	command = strings.Join(strings.Fields(command), " ")
	if command == "" {
		return nil, errors.New("lock data_dir: a command must name itself")
	}
	return lockDataDir(dir, command)
}

func lockDataDir(dir, command string) (*DirLock, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data_dir %q: %w", dir, errorsCause(err))
	}
	path := filepath.Join(dir, LockFile)
	// 0644: whoever finds the directory held can read who holds it.
	f := flock.New(path, flock.SetPermissions(0o644))
	ok, err := f.TryLock()
	if err != nil {
		return nil, fmt.Errorf("data_dir %q: lock %s: %w", dir, path, errorsCause(err))
	}
	if !ok {
		pid, cmd := holder(path)
		return nil, &InUseError{Dir: dir, PID: pid, Command: cmd}
	}
	// The lock belongs to the open file, not to its contents: writing the
	// pid through another descriptor keeps it.
	body := strconv.Itoa(os.Getpid()) + "\n"
	if command != "" {
		body += command + "\n"
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		_ = f.Unlock()
		return nil, fmt.Errorf("data_dir %q: write %s: %w", dir, path, errorsCause(err))
	}
	return &DirLock{f: f, dir: dir}, nil
}

// holder reads the pid a lock file names, 0 when it names none (the holder
// may not have written it yet), and the command on its second line, ""
// for a server.
func holder(path string) (pid int, command string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, ""
	}
	first, rest, _ := strings.Cut(string(b), "\n")
	pid, err = strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return 0, ""
	}
	command, _, _ = strings.Cut(rest, "\n")
	return pid, strings.TrimSpace(command)
}

// Unlock releases the lock. The file stays: removing it would let a
// process that opened it before the removal and one that creates it anew
// both hold "the" lock.
func (l *DirLock) Unlock() error {
	if l == nil {
		return nil
	}
	return l.f.Unlock()
}

// CommandWait bounds how long a server that starts while a command holds
// its data directory waits for the command to finish.
const CommandWait = 5 * time.Minute

// lockPoll is how often a waiting server tries the lock again.
const lockPoll = 100 * time.Millisecond

// waitDataDir takes dir's lock for a server. A command that holds it (an
// import while no server ran) is waited for, at most wait, saying so once
// in the log; a server that holds it is refused at once. ctx ending stops
// the wait.
func waitDataDir(ctx context.Context, dir string, wait time.Duration, log *slog.Logger) (*DirLock, error) {
	deadline := time.Now().Add(wait)
	said := false
	for {
		l, err := LockDataDir(dir)
		var inUse *InUseError
		if !errors.As(err, &inUse) || inUse.Command == "" {
			if err == nil && said {
				log.Info("callscreen serve: data_dir free again", "data_dir", dir)
			}
			return l, err
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("%w (waited %s)", err, wait)
		}
		if !said {
			log.Info("callscreen serve: waiting for a command that holds data_dir", "data_dir", dir,
				"pid", inUse.PID, "command", inUse.Command, "wait", wait.String())
			said = true
		}
		t := time.NewTimer(lockPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("waiting for data_dir %q: %w", dir, ctx.Err())
		case <-t.C:
		}
	}
}

// errorsCause drops the path an *os.PathError repeats.
func errorsCause(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
