package stats

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/audit"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/policy"
)

// writeLog writes rs into a fresh decision log (small files, so it spans
// several) and returns its directory.
func writeLog(t testing.TB, rs []*decision.Result) string {
	return writeLogRotating(t, rs, 4096)
}

func writeLogRotating(t testing.TB, rs []*decision.Result, rotate int64) string {
	t.Helper()
	dir := t.TempDir()
	l, err := audit.Open(audit.Options{Dir: dir, RotateSize: rotate, Fsync: audit.FsyncNone, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, r := range rs {
		if _, err := l.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestRebuild: statistics rebuilt from the decision log equal those
// recorded live, for the calls within the retention and before the start.
func TestRebuild(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Minute)
	started := now.Add(-time.Minute)
	kinds := []kind{allowed, blocked, blockedVoicemail, passed, failed, abandoned, heldBlock, heldChallenge}
	dids := []string{"+18005550100", "+18005550200", "s"}
	var rs []*decision.Result
	c := &clock{t: now}
	live := newStats(t, c, Options{})
	older := 1
	for i := range 120 {
		at := now.Add(-time.Duration(i) * 97 * time.Minute) // back over eight days
		r := result(fmt.Sprintf("r%d", i), []string{"sales", "pilot"}[i%2], dids[i%3], at, kinds[i%len(kinds)],
			[]policy.Reason{policy.ListBlock, policy.CallerAnonymous, policy.FeedRobocall}[i%3])
		rs = append(rs, r)
		switch {
		case at.Before(now.Add(-DefaultRetention)):
			older++
		case at.Before(started):
			live.Record(r)
		}
	}
	// Older than the retention, and after the start: not counted.
	rs = append(rs, result("old", "sales", dids[0], now.Add(-9*24*time.Hour), blocked))
	rs = append(rs, result("new", "sales", dids[0], started.Add(time.Second), blocked))
	dir := writeLog(t, rs)
	files, _ := audit.Files(dir)
	if len(files) < 3 {
		t.Fatalf("the log has %d files; the test wants several", len(files))
	}

	rebuilt := newStats(t, c, Options{})
	rep, err := rebuilt.Rebuild(context.Background(), dir, started)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Files != len(files) || rep.Older != older || rep.Unreadable != 0 || rep.Records < 100 {
		t.Fatalf("report %+v for %d files", rep, len(files))
	}
	if rebuilt.Rebuilding() {
		t.Fatal("still rebuilding")
	}
	for _, rng := range []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, DefaultRetention} {
		q := Query{From: now.Add(-rng), To: now}
		want, err1 := live.Summary(context.Background(), q)
		got, err2 := rebuilt.Summary(context.Background(), q)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("range %s: rebuilt %+v\nlive %+v", rng, got.Total, want.Total)
		}
		wd, _, err1 := live.DIDs(context.Background(), q)
		gd, _, err2 := rebuilt.DIDs(context.Background(), q)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(gd, wd) {
			t.Errorf("range %s: DIDs differ (%v %v)", rng, err1, err2)
		}
	}
	sum, _ := rebuilt.Summary(context.Background(), Query{From: now.Add(-DefaultRetention), To: now})
	if sum.Total.Calls != int64(rep.Records) {
		t.Errorf("%d calls for %d records", sum.Total.Calls, rep.Records)
	}
}

// TestRebuildSkipsOldFiles: a file followed by one opened before the
// oldest day kept holds nothing within the retention and is not read.
func TestRebuildSkipsOldFiles(t *testing.T) {
	now := time.Now().UTC()
	dir := writeLog(t, []*decision.Result{result("1", "p", "+18005550100", now.Add(-time.Hour), blocked)})
	files, _ := audit.Files(dir)
	if len(files) != 1 || !strings.HasPrefix(filepath.Base(files[0]), "audit-000000000001-") {
		t.Fatalf("files %v", files)
	}
	// Two files before it, opened 30 and 20 days ago: the first cannot hold
	// anything within the retention (it would fail if read), the second
	// may.
	for name, body := range map[string]string{
		"audit-000000000000-" + now.Add(-30*24*time.Hour).Format("20060102") + ".jsonl": "not json at all\n",
		"audit-000000000000-" + now.Add(-20*24*time.Hour).Format("20060102") + ".jsonl": "",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := newStats(t, &clock{t: now}, Options{})
	rep, err := s.Rebuild(context.Background(), dir, now)
	if err != nil || rep.Skipped != 1 || rep.Files != 2 || rep.Records != 1 {
		t.Fatalf("rebuild: %+v %v", rep, err)
	}
}

// TestRebuildBadLog: an unreadable line stops the rebuild with an error
// naming it; what came before is counted.
func TestRebuildBadLog(t *testing.T) {
	now := time.Now().UTC()
	dir := writeLog(t, []*decision.Result{
		result("1", "p", "+18005550100", now.Add(-time.Hour), blocked),
		result("2", "p", "+18005550100", now.Add(-time.Hour), blocked),
	})
	files, _ := audit.Files(dir)
	f, err := os.OpenFile(files[len(files)-1], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("{\"type\":\"record\",garbage\n")
	f.Close()
	s := newStats(t, &clock{t: now}, Options{})
	rep, err := s.Rebuild(context.Background(), dir, now)
	if err == nil || !strings.Contains(err.Error(), "rebuild stopped, 2 records counted") || !strings.Contains(err.Error(), filepath.Base(files[len(files)-1])) {
		t.Fatalf("err %v", err)
	}
	if rep.Records != 2 {
		t.Fatalf("report %+v", rep)
	}
	sum, _ := s.Summary(context.Background(), Query{From: now.Add(-2 * time.Hour), To: now})
	if sum.Total.Calls != 2 {
		t.Fatalf("after a failed rebuild: %+v", sum.Total)
	}
	// No log at all is no error.
	if rep, err := s.Rebuild(context.Background(), filepath.Join(t.TempDir(), "none"), now); err != nil || rep.Files != 0 {
		t.Fatalf("no log: %+v %v", rep, err)
	}
}
