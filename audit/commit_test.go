package audit

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/internal/timingtest"
)

// fileHolds reports whether any log file in dir holds id, as the
// operating system has it now.
func fileHolds(t *testing.T, dir, id string) bool {
	t.Helper()
	files, err := Files(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(`"id":"`+id+`"`)) {
			return true
		}
	}
	return false
}

// TestCommitWritesBeforeReturning: when Commit returns, the record is in
// the file (a crash of the process now loses nothing), under every fsync
// policy, with no fsync due for an hour; Record only queues.
func TestCommitWritesBeforeReturning(t *testing.T) {
	for _, policy := range []string{FsyncBatch, FsyncAlways, FsyncNone} {
		t.Run(policy, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, Options{Dir: dir, Fsync: policy, FsyncInterval: time.Hour})
			for i := range 20 {
				r := result(i)
				if err := l.Commit(r); err != nil {
					t.Fatalf("commit %d: %v", i, err)
				}
				if !fileHolds(t, dir, r.ID) {
					t.Fatalf("commit %d returned before the record was written", i)
				}
			}
			q := result(99)
			l.Record(q)
			if fileHolds(t, dir, q.ID) {
				t.Fatal("Record wrote at once: the test cannot tell Commit from Record")
			}
			// A result the flow committed is not recorded again.
			c := result(100)
			c.Committed = true
			l.Record(c)
			closeLog(t, l)
			rep, err := VerifyDir(dir, VerifyOptions{PublicKey: l.PublicKey()})
			if err != nil || rep.Records != 21 {
				t.Fatalf("verify: %+v, %v", rep, err)
			}
		})
	}
}

// TestCommitNeverWaitsLong: a writer stalled in the kernel (here: holding
// the writer token) costs a call at most CommitWait; the record is queued
// instead, counted, and written once the writer moves.
func TestCommitNeverWaitsLong(t *testing.T) {
	dir := t.TempDir()
	m := NewMetrics(nil)
	l := openLog(t, Options{Dir: dir, Metrics: m, CommitWait: 10 * time.Millisecond})
	l.lock() // the stall
	r := result(1)
	err := l.Commit(r)
	l.unlock()
	if !errors.Is(err, ErrBusy) || testutil.ToFloat64(m.late) != 1 {
		t.Fatalf("Commit behind a stalled writer: %v, late %v", err, testutil.ToFloat64(m.late))
	}
	timingtest.WaitFor(t, "the queued record", func() bool { return fileHolds(t, dir, r.ID) })
	closeLog(t, l)
	if err := l.Commit(result(2)); !errors.Is(err, ErrClosed) || testutil.ToFloat64(m.droppedClosed) != 1 {
		t.Errorf("Commit after Close: %v", err)
	}
}

// TestRecordersCommit: a fan-out commits to its committers only, and
// Record then skips the results they committed.
func TestRecordersCommit(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, Options{Dir: dir, FsyncInterval: time.Hour})
	var recorded []string
	rs := decision.Recorders{l, decision.RecorderFunc(func(r *decision.Result) { recorded = append(recorded, r.ID) })}
	r := result(1)
	if err := rs.Commit(r); err != nil {
		t.Fatal(err)
	}
	if !fileHolds(t, dir, r.ID) || len(recorded) != 0 {
		t.Fatalf("after Commit: in the file %v, recorded %v", fileHolds(t, dir, r.ID), recorded)
	}
	r.Committed = true
	rs.Record(r)
	closeLog(t, l)
	rep, err := VerifyDir(dir, VerifyOptions{PublicKey: l.PublicKey()})
	if err != nil || rep.Records != 1 || len(recorded) != 1 {
		t.Fatalf("records %d (want 1), recorded %v, %v", rep.Records, recorded, err)
	}
}
