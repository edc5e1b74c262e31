package lists

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/callscreen/callscreen/internal/timingtest"
	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	// Write then rename, as editors and config managers do.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func query(caller, name string) reputation.Query {
	return reputation.Query{Caller: number.Parse(caller, "US"), Name: name, Dialed: number.Parse("+12125550000", "US"), Profile: policy.Default()}
}

const allowTxt = `# must-pass
+12125551000          # the clinic
+1212777*             # head office
name:*HOSPITAL*
`

const blockTxt = `# must-block
+12125559999          # known scammer
+1900*
+12125551000          # also allowed: allow wins
+13135550100..+13135550199
name:*CAR WARRANTY*
garbage line
`

func newLists(t *testing.T, now func() time.Time) (*Lists, string, string, *Metrics) {
	t.Helper()
	dir := t.TempDir()
	allow, block := filepath.Join(dir, "allow.txt"), filepath.Join(dir, "block.txt")
	writeFile(t, allow, allowTxt)
	writeFile(t, block, blockTxt)
	m := NewMetrics(prometheus.NewRegistry())
	l, err := New(Options{AllowFile: allow, BlockFile: block, Metrics: m, Now: now, Debounce: 20 * time.Millisecond, Quiet: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return l, allow, block, m
}

func TestLookup(t *testing.T) {
	l, _, _, m := newLists(t, nil)
	tests := []struct {
		name, caller, callerName string
		reason                   policy.Reason
		tier                     policy.Tier
		entry                    string
	}{
		{name: "exact allow", caller: "+12125551000", reason: policy.ListAllow, entry: "+12125551000"},
		{name: "national form matches", caller: "2125551000", reason: policy.ListAllow, entry: "+12125551000"},
		{name: "allow prefix", caller: "+12127771234", reason: policy.ListAllow, entry: "+1212777*"},
		{name: "allow name beats block number", caller: "+12125559999", callerName: "St Mary Hospital", reason: policy.ListAllow, entry: "name:*HOSPITAL*"},
		{name: "exact block", caller: "+12125559999", reason: policy.ListBlock, tier: policy.TierSpam, entry: "+12125559999"},
		{name: "block prefix", caller: "+19005551234", reason: policy.ListBlock, tier: policy.TierSpam, entry: "+1900*"},
		{name: "block range low end", caller: "+13135550100", reason: policy.ListBlock, tier: policy.TierSpam, entry: "+13135550100..+13135550199"},
		{name: "block range high end", caller: "+13135550199", reason: policy.ListBlock, tier: policy.TierSpam, entry: "+13135550100..+13135550199"},
		{name: "just outside range", caller: "+13135550200"},
		{name: "block name", caller: "+13135551234", callerName: "Your Car Warranty", reason: policy.ListBlockName, tier: policy.TierSpam, entry: "name:*CAR WARRANTY*"},
		{name: "unknown", caller: "+13135551234", callerName: "Jane Doe"},
		{name: "anonymous", caller: "anonymous"},
		{name: "empty", caller: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := l.Lookup(context.Background(), query(tt.caller, tt.callerName))
			if err != nil {
				t.Fatal(err)
			}
			if tt.reason == "" {
				if len(v.Reasons) != 0 || v.Final || v.Tier != "" {
					t.Fatalf("got %+v, want an empty verdict", v)
				}
				return
			}
			if !slices.Equal(v.Reasons, []policy.Reason{tt.reason}) || !v.Final || v.Tier != tt.tier {
				t.Fatalf("got reasons %v final %v tier %q, want [%s] final tier %q", v.Reasons, v.Final, v.Tier, tt.reason, tt.tier)
			}
			if v.Raw["entry"] != tt.entry || v.Source != SourceName {
				t.Fatalf("raw entry %q source %q, want %q %q", v.Raw["entry"], v.Source, tt.entry, SourceName)
			}
		})
	}
	if got := testutil.ToFloat64(m.BadLines); got != 1 {
		t.Fatalf("bad lines metric = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.Entries.WithLabelValues("block", "number")); got != 2 {
		t.Fatalf("block number entries = %v, want 2", got)
	}
	if p := l.Problems(); len(p) != 1 || p[0].Line != 7 {
		t.Fatalf("problems = %v, want block.txt line 7", p)
	}
}

func TestLookupNote(t *testing.T) {
	l, _, _, _ := newLists(t, nil)
	v, _ := l.Lookup(context.Background(), query("+12125559999", ""))
	if v.Raw["note"] != "known scammer" || v.Raw["origin"] != "block.txt:2" {
		t.Fatalf("raw = %v, want note and origin", v.Raw)
	}
}

func TestChainStopsOnList(t *testing.T) {
	l, _, _, _ := newLists(t, nil)
	called := false
	chain := reputation.Chain{
		{Name: SourceName, Source: l},
		{Name: "provider", Source: reputation.SourceFunc(func(context.Context, reputation.Query) (reputation.Verdict, error) {
			called = true
			return reputation.Verdict{}, nil
		})},
	}
	v, _ := chain.Lookup(context.Background(), query("+19005550000", ""))
	if called || v.Tier != policy.TierSpam {
		t.Fatalf("chain went past a must-block hit (called %v, tier %s)", called, v.Tier)
	}
	d := policy.Decide(policy.Call{Caller: number.Parse("+19005550000", "US")}, v.Verdict, policy.Default())
	if d.Action != policy.Block {
		t.Fatalf("policy action = %s, want block", d.Action)
	}
}

func TestNewMissingFile(t *testing.T) {
	_, err := New(Options{AllowFile: filepath.Join(t.TempDir(), "nope.txt")})
	if err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("New with a missing file: err = %v, want not-exist", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			if j, ok := err.(interface{ Unwrap() []error }); ok && len(j.Unwrap()) > 0 {
				err = j.Unwrap()[0]
				continue
			}
			return err
		}
		err = u.Unwrap()
	}
}

func TestReloadKeepsLastGood(t *testing.T) {
	l, _, block, m := newLists(t, nil)
	if err := os.Remove(block); err != nil {
		t.Fatal(err)
	}
	if err := l.Reload(); err == nil {
		t.Fatal("Reload with the block file gone: want an error")
	}
	v, _ := l.Lookup(context.Background(), query("+12125559999", ""))
	if !slices.Contains(v.Reasons, policy.ListBlock) {
		t.Fatal("a failed reload emptied the block list")
	}
	if got := testutil.ToFloat64(m.Reloads.WithLabelValues("error")); got != 1 {
		t.Fatalf("reload errors = %v, want 1", got)
	}
	// A file full of garbage loads as empty but valid: bad lines skipped.
	writeFile(t, block, "junk\nmore junk\n+12125558888\n")
	if err := l.Reload(); err != nil {
		t.Fatal(err)
	}
	v, _ = l.Lookup(context.Background(), query("+12125558888", ""))
	if !slices.Contains(v.Reasons, policy.ListBlock) {
		t.Fatal("new entry not loaded")
	}
	if p := l.Problems(); len(p) != 2 {
		t.Fatalf("problems = %v, want 2", p)
	}
}

func TestExpiry(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	l, _, _, _ := newLists(t, func() time.Time { return now })
	e, err := ParseEntry("+13135550000", "US")
	if err != nil {
		t.Fatal(err)
	}
	e.List, e.Expires, e.Note = Block, now.Add(time.Minute), "for a minute"
	if err := l.Add(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if v, _ := l.Lookup(context.Background(), query("+13135550000", "")); !v.Final || v.Raw["expires"] != "2026-03-01T12:01:00Z" {
		t.Fatalf("entry not yet expired: got %+v", v)
	}
	now = now.Add(time.Minute)
	if v, _ := l.Lookup(context.Background(), query("+13135550000", "")); v.Final {
		t.Fatal("expired entry still matches")
	}
}

func TestWatch(t *testing.T) {
	l, _, block, _ := newLists(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Watch(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	}()
	blocked := func(n string) func() bool {
		return func() bool {
			v, _ := l.Lookup(context.Background(), query(n, ""))
			return slices.Contains(v.Reasons, policy.ListBlock)
		}
	}
	// The watcher may not be installed yet: keep rewriting until seen.
	deadline := time.Now().Add(20 * time.Second)
	for !blocked("+12125557777")() {
		if time.Now().After(deadline) {
			t.Fatal("file change not picked up")
		}
		writeFile(t, block, blockTxt+"+12125557777\n")
		time.Sleep(50 * time.Millisecond)
	}
	// In-place write (truncate + write) is seen too.
	if err := os.WriteFile(block, []byte("+12125556666\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	timingtest.WaitFor(t, "in-place write", blocked("+12125556666"))
	// The entry the rewrite dropped goes once the file has been quiet.
	timingtest.WaitFor(t, "old entry dropped after the quiet time", func() bool { return !blocked("+12125557777")() })
	// SIGHUP reloads: change the file in a way fsnotify would also see,
	// but check the signal path by counting reloads.
	before := testutil.ToFloat64(l.metrics.Reloads.WithLabelValues("ok"))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	timingtest.WaitFor(t, "SIGHUP reload", func() bool { return testutil.ToFloat64(l.metrics.Reloads.WithLabelValues("ok")) > before })
}
