package lists

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/callscreen/callscreen/internal/timingtest"
	"github.com/callscreen/callscreen/policy"
)

// TestWatchHalfWrittenFile: block.txt rewritten in place by a writer that
// pauses in the middle (cat > block.txt from a slow pipe, a script). While
// it pauses, the watcher has read the half file, yet every listed caller
// stays blocked (10 of 10 lookups); a new entry in the first half applies
// at once; the line cut in the middle is not read; when the writer
// finishes every entry is there; and an entry the finished file no longer
// has goes once the file has been quiet.
func TestWatchHalfWrittenFile(t *testing.T) {
	var listed []string
	for i := range 10 {
		listed = append(listed, fmt.Sprintf("+1212555%04d", 100+i))
	}
	const added, dropped = "+13135550001", "+13135550002"
	oldFile := strings.Join(append(slices.Clone(listed), dropped), "\n") + "\n"
	newFile := added + "   # new, first line\n" + strings.Join(listed, "\n") + "\n"

	dir := t.TempDir()
	block := filepath.Join(dir, "block.txt")
	if err := os.WriteFile(block, []byte(oldFile), 0o644); err != nil {
		t.Fatal(err)
	}
	const quiet = 2 * time.Second
	l, err := New(Options{BlockFile: block, Metrics: NewMetrics(prometheus.NewRegistry()), Debounce: 20 * time.Millisecond, Quiet: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Watch(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	}()
	blocked := func(n string) bool {
		v, _ := l.Lookup(context.Background(), query(n, ""))
		return slices.Contains(v.Reasons, policy.ListBlock)
	}
	// The watcher may not be installed yet: touch the file until a reload
	// is seen.
	reloads := func() float64 { return testutil.ToFloat64(l.metrics.Reloads.WithLabelValues("ok")) }
	deadline := time.Now().Add(timingtest.WaitTimeout)
	for before := reloads(); reloads() == before; {
		if time.Now().After(deadline) {
			t.Fatal("watcher never reloaded")
		}
		now := time.Now()
		_ = os.Chtimes(block, now, now)
		if err := os.WriteFile(block, []byte(oldFile), 0o644); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // a pause between writes, not synchronisation
	}

	// Write in place: the first line, half of the listed numbers, and a
	// number cut in the middle; then pause.
	half := len(newFile) / 2
	cut := strings.LastIndexByte(newFile[:half], '\n') + 5 // "+121" of the next line
	f, err := os.OpenFile(block, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(newFile[:cut]); err != nil {
		t.Fatal(err)
	}
	// The watcher has read the half file once the new first line blocks.
	timingtest.WaitFor(t, "the half-written file to be read", func() bool { return blocked(added) })
	n := 0
	for _, c := range listed {
		if blocked(c) {
			n++
		}
	}
	if n != len(listed) {
		t.Fatalf("during the pause %d of %d listed callers blocked", n, len(listed))
	}
	if p := l.Problems(); len(p) != 0 {
		t.Fatalf("the cut last line was read: %v", p)
	}
	if blockFile(l).held == 0 {
		t.Fatal("the half file was read whole: nothing held")
	}
	if !blocked(dropped) {
		t.Fatal("an entry the file lost while being written was dropped before the file was quiet")
	}
	// Finish the write.
	if _, err := f.WriteString(newFile[cut:]); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	timingtest.WaitFor(t, "the dropped entry to go after the quiet time", func() bool { return !blocked(dropped) })
	for _, c := range append(slices.Clone(listed), added) {
		if !blocked(c) {
			t.Errorf("%s not blocked after the write finished", c)
		}
	}
	if p := l.Problems(); len(p) != 0 {
		t.Errorf("problems %v", p)
	}
	if o := blockFile(l).entries[0].Origin; o != "block.txt:1" {
		t.Errorf("origin %q, want block.txt:1", o)
	}
}

func blockFile(l *Lists) fileState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.files[Block]
}

// TestRemoveFileEntry: an entry a list file holds cannot be removed
// through Remove: the error names the file and line, and the caller stays
// listed. Stored entries still can be.
func TestRemoveFileEntry(t *testing.T) {
	l, _, _, _ := newLists(t, nil)
	ctx := context.Background()
	for _, tenant := range []string{"", "acme"} {
		e, err := ParseEntry("+1900*", "US")
		if err != nil {
			t.Fatal(err)
		}
		e.List, e.Tenant = Block, tenant
		err = l.Remove(ctx, e)
		if !errors.Is(err, ErrFromFile) || !strings.Contains(err.Error(), "comes from block.txt:3; edit the file") {
			t.Fatalf("tenant %q: Remove of a file entry = %v", tenant, err)
		}
		v, _ := l.Lookup(ctx, query("+19005551234", ""))
		if !slices.Contains(v.Reasons, policy.ListBlock) {
			t.Fatal("file entry no longer blocks")
		}
	}
	e, _ := ParseEntry("+13135550000", "US")
	e.List = Block
	if err := l.Add(ctx, e); err != nil {
		t.Fatal(err)
	}
	if l.FileOrigin(e) != "" {
		t.Fatal("a stored entry has a file origin")
	}
	if err := l.Remove(ctx, e); err != nil {
		t.Fatalf("Remove of a stored entry: %v", err)
	}
}
