package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/callscreen/callscreen/internal/citest"
	"github.com/callscreen/callscreen/internal/timingtest"
)

// diskFullRun drives a log whose disk fills up and frees space in two
// steps, and checks what must hold: Commit keeps returning (every call is
// decided), memory stays bounded (decisions past MaxBacklog are dropped
// and counted), writing resumes with the first space that returns and
// takes as much of the backlog as fits (not all or nothing), a gap entry
// states how many were dropped, and the log verifies.
//
// fill makes the disk full; free(step) returns space, step 1 less than
// the backlog, step 2 all of it.
func diskFullRun(t *testing.T, dir string, openFile func(string, int, os.FileMode) (File, error), fill func(), free func(step int)) {
	t.Helper()
	m := NewMetrics(nil)
	const backlog = 64 << 10
	l := openLog(t, Options{Dir: dir, Metrics: m, OpenFile: openFile, MaxBacklog: backlog, CheckpointEvery: 1000})
	appendN(t, l, 1, 3)
	fill()

	committed := 3
	commit := func() error {
		committed++
		r := result(committed)
		return l.Commit(r)
	}
	// Until the disk refuses, then well past the memory bound.
	for i := 0; ; i++ {
		if err := commit(); err != nil {
			if !errors.Is(err, ErrNotWritten) {
				t.Fatalf("commit %d: %v", committed, err)
			}
			break
		}
		if i > 10000 {
			t.Fatal("the disk never filled")
		}
	}
	for range 150 { // ~1.1 KiB each: about twice the backlog
		if err := commit(); err != nil && !errors.Is(err, ErrNotWritten) {
			t.Fatalf("commit %d while the disk is full: %v", committed, err)
		}
	}
	if testutil.ToFloat64(m.failing) != 1 || testutil.ToFloat64(m.errorsWrite) == 0 {
		t.Fatalf("failing %v, write errors %v", testutil.ToFloat64(m.failing), testutil.ToFloat64(m.errorsWrite))
	}
	dropped := testutil.ToFloat64(m.droppedBacklog)
	if dropped == 0 {
		t.Fatal("nothing dropped past the memory bound")
	}
	// What was written before the disk filled becomes durable; nothing
	// more can.
	timingtest.WaitFor(t, "written entries synced", func() bool {
		l.lock()
		defer l.unlock()
		return l.w.written == 0
	})
	l.lock()
	held := len(l.w.buf)
	l.unlock()
	if held > backlog+2<<10 {
		t.Errorf("%d bytes held in memory, bound %d", held, backlog)
	}
	stuck := l.Written()

	// Some space returns: part of the backlog is written, the rest waits.
	free(1)
	timingtest.WaitFor(t, "part of the backlog written", func() bool { return l.Written() > stuck })
	if testutil.ToFloat64(m.failing) != 1 {
		t.Errorf("the whole backlog fit in the first space freed: the test proves nothing")
	}
	// All of it returns.
	free(2)
	timingtest.WaitFor(t, "writing resumed", func() bool { return testutil.ToFloat64(m.failing) == 0 })
	timingtest.WaitFor(t, "backlog written", func() bool {
		l.lock()
		defer l.unlock()
		return l.w.written == len(l.w.buf) && l.w.dropped == 0
	})
	for range 3 {
		if err := commit(); err != nil {
			t.Fatalf("commit after recovery: %v", err)
		}
	}
	closeLog(t, l)
	rep, err := VerifyDir(dir, VerifyOptions{PublicKey: l.PublicKey()})
	if err != nil {
		t.Fatalf("verify after the disk recovered: %v", err)
	}
	if rep.Gaps != 1 || float64(rep.Dropped) != dropped {
		t.Errorf("gaps %d for %d dropped, metric says %v dropped", rep.Gaps, rep.Dropped, dropped)
	}
	if got := rep.Records + rep.Dropped; got != uint64(committed) {
		t.Errorf("records %d + dropped %d = %d, want %d: a decision was lost without being counted", rep.Records, rep.Dropped, got, committed)
	}
}

// TestDiskFull runs the disk-full scenario on a filesystem simulated in
// the test: writes land up to a byte budget, then fail with ENOSPC.
func TestDiskFull(t *testing.T) {
	fs := &faultFS{}
	diskFullRun(t, t.TempDir(), fs.open,
		func() { fs.space(0) },
		func(step int) {
			if step == 1 {
				fs.space(20 << 10)
			} else {
				fs.space(-1)
			}
		})
}

// TestDiskFullOnASmallFilesystem runs the disk-full scenario on a real
// 256 KiB tmpfs, filled with two files that are removed in turn.
func TestDiskFullOnASmallFilesystem(t *testing.T) {
	dir := smallFS(t, 256<<10)
	logDir := filepath.Join(dir, "audit")
	fillers := []string{filepath.Join(dir, "filler-1"), filepath.Join(dir, "filler-2")}
	diskFullRun(t, logDir, nil,
		func() {
			for i, f := range fillers {
				fillFile(t, f, []int64{24 << 10, 1 << 30}[i])
			}
		},
		func(step int) {
			if err := os.Remove(fillers[step-1]); err != nil {
				t.Fatal(err)
			}
		})
}

// smallFS mounts a tmpfs of size bytes for the test. Where mounting is not
// permitted (not root, no CAP_SYS_ADMIN in a container) it skips, saying
// so, unless CI=true: CI runs as root and must run it.
func smallFS(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		citest.Unavailable(t, "cannot mount a %d-byte tmpfs here (%v); TestDiskFull covers the same with a simulated disk", size, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fillFile writes up to n bytes to name, stopping quietly when the
// filesystem is full.
func fillFile(t *testing.T, name string, n int64) {
	t.Helper()
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := []byte(strings.Repeat("x", 4096))
	for written := int64(0); written < n; written += int64(len(chunk)) {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
}
