package service

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gofrs/flock"
)

// LockFile is the file in data_dir that a running server holds an
// exclusive flock on, and that names its pid.
const LockFile = "callscreen.lock"

// ErrDataDirInUse reports that another process holds the data directory.
var ErrDataDirInUse = errors.New("in use by another callscreen process")

// InUseError says which data directory is held, and by which process
// (PID 0 when its lock file does not say).
type InUseError struct {
	Dir string
	PID int
}

func (e *InUseError) Error() string {
	holder := "a process whose pid its lock file does not name"
	if e.PID > 0 {
		holder = "pid " + strconv.Itoa(e.PID)
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

// LockDataDir takes the exclusive lock on dir, creating dir if needed, and
// writes this process's pid into the lock file. It does not wait: a lock
// held by another process is an *InUseError naming dir and the holder's
// pid.
func LockDataDir(dir string) (*DirLock, error) {
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
		return nil, &InUseError{Dir: dir, PID: holder(path)}
	}
	// The lock belongs to the open file, not to its contents: writing the
	// pid through another descriptor keeps it.
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		_ = f.Unlock()
		return nil, fmt.Errorf("data_dir %q: write %s: %w", dir, path, errorsCause(err))
	}
	return &DirLock{f: f, dir: dir}, nil
}

// holder reads the pid a lock file names, 0 when it names none (the holder
// may not have written it yet).
func holder(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
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

// errorsCause drops the path an *os.PathError repeats.
func errorsCause(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
