package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// syncBuffer is a log sink a test reads while the log may still write.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// baseLog is a closed log of 12 records in at least two files.
func baseLog(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	l := openLog(t, Options{Dir: dir, CheckpointEvery: 4, RotateSize: 6 << 10})
	appendN(t, l, 1, 12)
	closeLog(t, l)
	if n := len(mustFiles(t, dir)); n < 2 {
		t.Fatalf("base log has %d files, want 2 or more", n)
	}
	return dir
}

// snapshot reads every file of dir.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = data
	}
	return out
}

// firstBreak reads the break entry that starts the newest file.
func firstBreak(t *testing.T, dir string) Break {
	t.Helper()
	files := mustFiles(t, dir)
	ls := lines(t, files[len(files)-1])
	canon, _, err := splitSeal(bytes.TrimSuffix(ls[0], []byte("\n")), "hash", 64)
	if err != nil {
		t.Fatal(err)
	}
	var b Break
	if err := json.Unmarshal(canon, &b); err != nil || b.Type != TypeBreak {
		t.Fatalf("newest file starts with %s, not a break (%v)", ls[0], err)
	}
	return b
}

// TestDamagedLogKeepsScreening: whatever damage Open finds, it opens: the
// damaged files are set aside unchanged, a new file starts with a break
// entry that states the last good entry and why, an error is logged and
// counted, the log takes records, and verification reports the break by
// name while verifying everything before and after it.
func TestDamagedLogKeepsScreening(t *testing.T) {
	tests := []struct {
		name string
		// damage harms a closed log and says what Open must report.
		damage   func(t *testing.T, dir string)
		setAside int    // files set aside
		reason   string // in the break's reason
	}{
		{"flipped byte in the newest file", func(t *testing.T, dir string) {
			files := mustFiles(t, dir)
			editFile(t, files[len(files)-1], func(ls [][]byte) [][]byte { ls[1] = flip(ls[1], `"caller":"+1`, 1); return ls })
		}, 1, "record hash mismatch"},
		{"two servers wrote the same file", func(t *testing.T, dir string) {
			a := openLog(t, Options{Dir: dir, CheckpointEvery: 4})
			b := openLog(t, Options{Dir: dir, CheckpointEvery: 4})
			for i := range 3 {
				appendN(t, a, 100+2*i, 1)
				appendN(t, b, 101+2*i, 1)
			}
			closeLog(t, a)
			closeLog(t, b)
		}, 1, "sequence broken"},
		{"head of the newest file cut", func(t *testing.T, dir string) {
			files := mustFiles(t, dir)
			editFile(t, files[len(files)-1], func(ls [][]byte) [][]byte { return ls[2:] })
		}, 1, "sequence broken"},
		{"log cut behind its head file", func(t *testing.T, dir string) {
			files := mustFiles(t, dir)
			editFile(t, files[len(files)-1], func(ls [][]byte) [][]byte { return ls[:len(ls)-2] })
		}, 0, "head.json holds checkpoint"},
		{"every file removed, head file kept", func(t *testing.T, dir string) {
			for _, f := range mustFiles(t, dir) {
				os.Remove(f)
			}
		}, 0, "no log files"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := baseLog(t)
			tc.damage(t, dir)
			before := snapshot(t, dir)

			var logs syncBuffer
			m := NewMetrics(nil)
			l := openLog(t, Options{Dir: dir, Metrics: m, CheckpointEvery: 4, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
			if got := testutil.ToFloat64(m.breaks); got != 1 {
				t.Errorf("breaks_total = %v, want 1", got)
			}
			if !strings.Contains(logs.String(), `"level":"ERROR","msg":"audit log damaged`) {
				t.Errorf("no error logged:\n%s", logs.String())
			}
			b := firstBreak(t, dir)
			if len(b.Files) != tc.setAside || !strings.Contains(b.Reason, tc.reason) {
				t.Errorf("break sets aside %v for %q; want %d files, reason with %q", b.Files, b.Reason, tc.setAside, tc.reason)
			}
			// Set aside, never deleted or changed: every damaged file is
			// there, byte for byte, under its new name.
			for _, name := range b.Files {
				orig := name[:strings.Index(name, brokenSuffix)]
				data, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil || !bytes.Equal(data, before[orig]) {
					t.Errorf("set-aside %s differs from %s as damaged (%v)", name, orig, err)
				}
			}
			appendN(t, l, 1000, 3)
			closeLog(t, l)

			rep, err := VerifyDir(dir, VerifyOptions{PublicKey: l.PublicKey()})
			if !errors.Is(err, ErrBreak) || len(rep.Breaks) != 1 || len(rep.Breaks[0].Missing) != 0 {
				t.Fatalf("verify: %v, breaks %v", err, rep.Breaks)
			}
			if !strings.Contains(err.Error(), tc.reason) || (len(b.Files) > 0 && !strings.Contains(err.Error(), b.Files[0])) {
				t.Errorf("the error does not name the break: %v", err)
			}
			// Everything before the break (up to the last good entry,
			// read from the set-aside file) and after it verified.
			if rep.Records != b.LastSeq+3 || rep.LastSeq != b.Seq+3 {
				t.Errorf("verified %d records up to seq %d; want %d records (%d good before the break, 3 after) up to seq %d",
					rep.Records, rep.LastSeq, b.LastSeq+3, b.LastSeq, b.Seq+3)
			}

			// The next start finds nothing wrong: no second break.
			m2 := NewMetrics(nil)
			l2 := openLog(t, Options{Dir: dir, Metrics: m2})
			appendN(t, l2, 2000, 1)
			closeLog(t, l2)
			if got := testutil.ToFloat64(m2.breaks); got != 0 {
				t.Errorf("second start: breaks_total = %v", got)
			}
			if _, err := VerifyDir(dir, VerifyOptions{PublicKey: l.PublicKey()}); !errors.Is(err, ErrBreak) {
				t.Errorf("after another start: %v", err)
			}
		})
	}
}

// TestBreakDoesNotHideTampering: a log with a break still fails on any
// other damage, before or after the break, and that error comes first.
func TestBreakDoesNotHideTampering(t *testing.T) {
	dir := baseLog(t)
	files := mustFiles(t, dir)
	last := files[len(files)-1]
	editFile(t, last, func(ls [][]byte) [][]byte { ls[2] = flip(ls[2], `"caller":"+1`, 1); return ls })
	l := openLog(t, Options{Dir: dir, CheckpointEvery: 4})
	appendN(t, l, 100, 3)
	closeLog(t, l)
	b := firstBreak(t, dir)
	if len(b.Files) != 1 || b.LastSeq == 0 {
		t.Fatalf("break %+v", b)
	}
	tests := []struct {
		name   string
		tamper func(t *testing.T, d string)
		want   error
	}{
		{"the good part of the set-aside file changed", func(t *testing.T, d string) {
			editFile(t, filepath.Join(d, b.Files[0]), func(ls [][]byte) [][]byte { ls[0] = flip(ls[0], `"caller":"+1`, 1); return ls })
		}, ErrHash},
		{"a record after the break changed", func(t *testing.T, d string) {
			fs := mustFiles(t, d)
			editFile(t, fs[len(fs)-1], func(ls [][]byte) [][]byte { ls[2] = flip(ls[2], `"caller":"+1`, 1); return ls })
		}, ErrHash},
		{"the break entry changed", func(t *testing.T, d string) {
			fs := mustFiles(t, d)
			editFile(t, fs[len(fs)-1], func(ls [][]byte) [][]byte { ls[0] = flip(ls[0], `"reason":"`, 1); return ls })
		}, ErrHash},
		{"a file before the break removed", func(t *testing.T, d string) {
			os.Remove(mustFiles(t, d)[0])
		}, ErrMissingStart},
		{"the set-aside file removed", func(t *testing.T, d string) {
			os.Remove(filepath.Join(d, b.Files[0]))
		}, ErrBreak},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := copyDir(t, dir)
			tc.tamper(t, d)
			rep, err := VerifyDir(d, VerifyOptions{PublicKey: l.PublicKey()})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want == ErrBreak && (len(rep.Breaks) != 1 || len(rep.Breaks[0].Missing) != 1 || !strings.Contains(err.Error(), "MISSING")) {
				t.Errorf("a missing set-aside file is not named: %v", err)
			}
		})
	}
}

// TestUnreadableHeadFileSetAside: a head file that is not a checkpoint is
// set aside, logged, and replaced by the next checkpoint: not a break.
func TestUnreadableHeadFileSetAside(t *testing.T) {
	dir := baseLog(t)
	if err := os.WriteFile(filepath.Join(dir, HeadFile), []byte("garbage\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	m := NewMetrics(nil)
	l := openLog(t, Options{Dir: dir, Metrics: m, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	appendN(t, l, 100, 1)
	closeLog(t, l)
	if testutil.ToFloat64(m.breaks) != 0 || !strings.Contains(logs.String(), "audit head file unreadable") {
		t.Errorf("breaks %v; logs:\n%s", testutil.ToFloat64(m.breaks), logs.String())
	}
	aside, _ := filepath.Glob(filepath.Join(dir, HeadFile+brokenSuffix+"*"))
	if len(aside) != 1 {
		t.Errorf("head file set aside as %v", aside)
	}
	if _, err := VerifyDir(dir, VerifyOptions{PublicKey: l.PublicKey()}); err != nil {
		t.Errorf("verify: %v", err)
	}
}

// TestOpenBringsTheHeadFileUpToTheLog: a crash between a checkpoint's
// fsync and the head file leaves the head file behind the log; the next
// start writes the log's last checkpoint to it (and to the witness), with
// no break.
func TestOpenBringsTheHeadFileUpToTheLog(t *testing.T) {
	dir := baseLog(t)
	wit := filepath.Join(t.TempDir(), "witness.jsonl")
	file, i := locate(t, dir, TypeCheckpoint, 1)
	if err := os.WriteFile(filepath.Join(dir, HeadFile), lines(t, file)[i], 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyDir(dir, VerifyOptions{}); !errors.Is(err, ErrReplay) {
		t.Fatalf("a head file behind a sealed log: %v, want ErrReplay", err)
	}
	m := NewMetrics(nil)
	l := openLog(t, Options{Dir: dir, Metrics: m, Witness: FileWitness{Path: wit}})
	closeLog(t, l)
	head, err := ReadHead(dir)
	if err != nil || head == nil || head.N == 1 {
		t.Fatalf("head file after a start: %+v, %v", head, err)
	}
	if _, err := VerifyDir(dir, VerifyOptions{PublicKey: l.PublicKey()}); err != nil || testutil.ToFloat64(m.breaks) != 0 {
		t.Fatalf("verify: %v, breaks %v", err, testutil.ToFloat64(m.breaks))
	}
	got, err := ReadWitness(t.Context(), wit, "", nil)
	if err != nil || len(got) != 1 || got[0].N != head.N {
		t.Errorf("witness holds %v, %v; want checkpoint %d", got, err, head.N)
	}
}
