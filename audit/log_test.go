package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/internal/timingtest"
)

func TestRecordRoundTrip(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, Options{Dir: dir, ConfigVersion: "fallback"})
	appendN(t, l, 1, 3)
	r := result(4)
	r.ConfigVersion = ""
	r.Decision.Scored = false
	if _, err := l.Append(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	closeLog(t, l)

	files := mustFiles(t, dir)
	ls := lines(t, files[0])
	var got Record
	canon, _, err := splitSeal(bytes.TrimSuffix(ls[0], []byte("\n")), "hash", 64)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(canon, &got); err != nil {
		t.Fatal(err)
	}
	want := FromResult(result(1), "")
	want.Seq, want.Prev, want.Type = 1, GenesisHash, TypeRecord
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(canon, wantJSON) {
		t.Errorf("record 1:\n got %s\nwant %s", canon, wantJSON)
	}
	// The writer's encoder writes the very line sealRecord makes.
	if wantLine, _, err := sealRecord(&want); err != nil || !bytes.Equal(ls[0], wantLine) {
		t.Errorf("record 1 line:\n got %s\nwant %s (%v)", ls[0], wantLine, err)
	}
	for _, s := range []string{`"caller":"+12125550001"`, `"caller_raw":"2125550001"`, `"challenge":"passed"`,
		`"reasons":["provider.risk_medium","velocity.caller_burst"]`, `"raw":{"carrier":"Example Wireless","hash":"\"fake\"","line_type":"mobile"}`,
		`"error":"youmail: timeout"`, `"latency_us":130000`, `"config_version":"cfg-7"`, `"score":55`, `"wrong_entries":1`,
		`\u003cscript\u003e`} {
		if !bytes.Contains(ls[0], []byte(s)) {
			t.Errorf("record 1 lacks %s: %s", s, ls[0])
		}
	}
	if !bytes.Contains(ls[3], []byte(`"config_version":"fallback"`)) || bytes.Contains(ls[3], []byte(`"score":55,"seq"`)) {
		t.Errorf("record 4 config version or score wrong: %s", ls[3])
	}
	rep, err := Verify(files, l.PublicKey())
	if err != nil || rep.Records != 4 || rep.Checkpoints != 1 {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
	pub, err := ReadPublicKey(PublicKeyFile(filepath.Join(dir, DefaultKeyName)))
	if err != nil || !pub.Equal(l.PublicKey()) {
		t.Errorf("public key file: %v", err)
	}
}

func TestFsyncPolicies(t *testing.T) {
	for _, policy := range []string{FsyncBatch, FsyncAlways, FsyncNone} {
		t.Run(policy, func(t *testing.T) {
			dir := t.TempDir()
			reg := prometheus.NewPedanticRegistry()
			m := NewMetrics(reg)
			l := openLog(t, Options{Dir: dir, Fsync: policy, Metrics: m, CheckpointEvery: 7})
			appendN(t, l, 1, 20)
			if got := l.Written(); got != 20 {
				t.Errorf("Written() = %d, want 20", got)
			}
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 50 {
						l.Record(result(100 + g*50 + i))
					}
				}()
			}
			wg.Wait()
			closeLog(t, l)
			rep, err := Verify(mustFiles(t, dir), l.PublicKey())
			if err != nil || rep.Records != 220 {
				t.Fatalf("verify: %+v, %v", rep, err)
			}
			if got := testutil.ToFloat64(m.records); got != 220 {
				t.Errorf("records_total = %v", got)
			}
			if got := testutil.ToFloat64(m.writtenSeq); got != 220 {
				t.Errorf("written_sequence = %v", got)
			}
			if n := histCount(t, reg, "callscreen_audit_fsync_seconds"); (policy == FsyncNone) != (n == 0) {
				t.Errorf("fsync policy %s: %d fsyncs observed", policy, n)
			}
			if n := histCount(t, reg, "callscreen_audit_commit_seconds"); n != 220 {
				t.Errorf("commit latency observed %d times, want 220", n)
			}
		})
	}
}

func TestRotationContinuesTheChain(t *testing.T) {
	dir := t.TempDir()
	m := NewMetrics(nil)
	l := openLog(t, Options{Dir: dir, RotateSize: 8 << 10, CheckpointEvery: 1000, Metrics: m})
	appendN(t, l, 1, 40)
	closeLog(t, l)
	files := mustFiles(t, dir)
	if len(files) < 3 {
		t.Fatalf("only %d files after 40 records of ~1 KiB with 8 KiB rotation", len(files))
	}
	rep, err := Verify(files, l.PublicKey())
	if err != nil || rep.Records != 40 || len(rep.Files) != len(files) {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
	for i, f := range files {
		ls := lines(t, f)
		// Every file is sealed by a checkpoint.
		if !bytes.Contains(ls[len(ls)-1], []byte(`"type":"checkpoint"`)) {
			t.Errorf("file %d does not end with a checkpoint", i)
		}
	}
	if got := testutil.ToFloat64(m.rotations); int(got) < len(files)-1 {
		t.Errorf("rotations_total = %v, files %d", got, len(files))
	}
	// The last file alone verifies from its middle seq on, continuing
	// from the checkpoint that sealed the file before.
	after, err := LastCheckpoint(files[len(files)-2])
	if err != nil {
		t.Fatal(err)
	}
	rep, err = VerifyWith(files[len(files)-1:], VerifyOptions{PublicKey: l.PublicKey(), After: after})
	if err != nil || rep.FirstSeq <= 1 || rep.LastSeq != 40 {
		t.Errorf("last file alone: %+v, %v", rep, err)
	}
	// Files out of order break the chain.
	if _, err := Verify([]string{files[0], files[2], files[1]}, l.PublicKey()); !errors.Is(err, ErrSequence) {
		t.Errorf("files swapped: %v", err)
	}
	// A missing middle file is a sequence gap.
	if _, err := Verify([]string{files[0], files[2]}, l.PublicKey()); !errors.Is(err, ErrSequence) {
		t.Errorf("middle file missing: %v", err)
	}
	// Reopening continues in the last file with the next seq.
	l2 := openLog(t, Options{Dir: dir, RotateSize: 8 << 10})
	appendN(t, l2, 41, 5)
	closeLog(t, l2)
	rep, err = Verify(mustFiles(t, dir), l.PublicKey())
	if err != nil || rep.LastSeq != 45 {
		t.Fatalf("after reopen: %+v, %v", rep, err)
	}
}

func TestRecoverAfterCrash(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, Options{Dir: dir, CheckpointEvery: 4})
	appendN(t, l, 1, 10) // r1-4 c1 r5-8 c2 r9 r10, then c3 at close
	closeLog(t, l)
	name := mustFiles(t, dir)[0]
	ls := lines(t, name)
	// A crash: the last checkpoint never written, half a record after it;
	// the head file holds the checkpoint before.
	crashed := append(clone(ls[:len(ls)-1]), []byte(`{"action":"allow","caller":"+1`))
	if err := os.WriteFile(name, bytes.Join(crashed, nil), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, HeadFile), ls[9], 0o640); err != nil { // c2
		t.Fatal(err)
	}
	if _, err := VerifyWith([]string{name}, VerifyOptions{AllowUnsealed: true}); !errors.Is(err, ErrTruncated) {
		t.Fatalf("crashed log: %v, want ErrTruncated", err)
	}
	l2 := openLog(t, Options{Dir: dir, CheckpointEvery: 4})
	if l2.Written() != 10 {
		t.Errorf("Written() after recovery = %d, want 10", l2.Written())
	}
	// Recovery sealed r9, r10 with checkpoint 3 before anything else.
	after := lines(t, name)
	if len(after) != len(ls) || !bytes.Contains(after[len(after)-1], []byte(`"n":3,"seq":10`)) {
		t.Fatalf("recovered file ends with %s", after[len(after)-1])
	}
	appendN(t, l2, 11, 2)
	closeLog(t, l2)
	head, err := ReadHead(dir)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := VerifyWith(mustFiles(t, dir), VerifyOptions{PublicKey: l.PublicKey(), Head: head})
	if err != nil || rep.Records != 12 || rep.LastCheckpoint != 4 || !rep.HeadChecked {
		t.Fatalf("verify after recovery: %+v, %v", rep, err)
	}
}

func TestSigningKeyChangeStartsNewFile(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, Options{Dir: dir})
	appendN(t, l, 1, 2)
	closeLog(t, l)
	for _, f := range []string{DefaultKeyName, DefaultKeyName + ".pub"} {
		os.Remove(filepath.Join(dir, f))
	}
	l2 := openLog(t, Options{Dir: dir})
	appendN(t, l2, 3, 2)
	closeLog(t, l2)
	files := mustFiles(t, dir)
	if len(files) != 2 || l.KeyID() == l2.KeyID() {
		t.Fatalf("files %v, keys %s %s", files, l.KeyID(), l2.KeyID())
	}
	if _, err := Verify(files[:1], l.PublicKey()); err != nil {
		t.Errorf("old file with old key: %v", err)
	}
	after, err := LastCheckpoint(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyWith(files[1:], VerifyOptions{PublicKey: l2.PublicKey(), After: after}); err != nil {
		t.Errorf("new file with new key: %v", err)
	}
	if _, err := Verify(files, l2.PublicKey()); !errors.Is(err, ErrWrongKey) {
		t.Errorf("both files with the new key: %v", err)
	}
}

// faultFS opens real files whose writes and syncs fail on demand.
type faultFS struct {
	writeErr, syncErr atomic.Pointer[error]
	block             chan struct{} // when not nil, Sync waits on it
	mu                sync.Mutex
	syncs             atomic.Int64
	// budget, when limited, is how many more bytes fit on the disk: a
	// write beyond it lands what fits and fails with ENOSPC, as a full
	// filesystem does.
	limited bool
	budget  int64
}

// space sets the bytes left on the disk; -1 means no limit.
func (f *faultFS) space(n int64) {
	f.mu.Lock()
	f.limited, f.budget = n >= 0, n
	f.mu.Unlock()
}

type faultFile struct {
	*os.File
	fs *faultFS
}

func (f *faultFS) open(name string, flag int, perm os.FileMode) (File, error) {
	of, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{of, f}, nil
}

func (f *faultFile) Write(p []byte) (int, error) {
	if e := f.fs.writeErr.Load(); e != nil {
		// A disk that fills mid-write: half the bytes land.
		n, _ := f.File.Write(p[:len(p)/2])
		return n, *e
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.fs.limited && int64(len(p)) > f.fs.budget {
		n, _ := f.File.Write(p[:f.fs.budget])
		f.fs.budget -= int64(n)
		return n, syscall.ENOSPC
	}
	n, err := f.File.Write(p)
	if f.fs.limited {
		f.fs.budget -= int64(n)
	}
	return n, err
}

func (f *faultFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.fs.limited {
		if st, err := f.File.Stat(); err == nil && st.Size() > size {
			f.fs.budget += st.Size() - size
		}
	}
	return f.File.Truncate(size)
}

func (f *faultFile) Sync() error {
	f.fs.mu.Lock()
	block := f.fs.block
	f.fs.mu.Unlock()
	if block != nil {
		<-block
	}
	f.fs.syncs.Add(1)
	if e := f.fs.syncErr.Load(); e != nil {
		return *e
	}
	return f.File.Sync()
}

func errp(err error) *error { return &err }

// TestSyncErrorRewrites: after a failed fsync the written bytes are not
// trusted: the file is cut back and written again, without duplicates.
func TestSyncErrorRewrites(t *testing.T) {
	dir := t.TempDir()
	fs := &faultFS{}
	m := NewMetrics(nil)
	l := openLog(t, Options{Dir: dir, Metrics: m, OpenFile: fs.open})
	appendN(t, l, 1, 3)
	fs.syncErr.Store(errp(syscall.EIO))
	for i := range 10 {
		l.Record(result(4 + i))
	}
	timingtest.WaitFor(t, "sync errors", func() bool { return testutil.ToFloat64(m.errorsSync) >= 2 })
	fs.syncErr.Store(nil)
	timingtest.WaitFor(t, "written", func() bool { return l.Written() == 13 })
	closeLog(t, l)
	if rep, err := Verify(mustFiles(t, dir), l.PublicKey()); err != nil || rep.Records != 13 {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
}

// TestSlowDiskNeverBlocksRecord: with fsync stuck, Record keeps returning;
// once the queue is full it drops and counts.
func TestSlowDiskNeverBlocksRecord(t *testing.T) {
	dir := t.TempDir()
	fs := &faultFS{}
	m := NewMetrics(nil)
	l := openLog(t, Options{Dir: dir, Metrics: m, QueueSize: 8, Fsync: FsyncAlways, OpenFile: fs.open})
	release := make(chan struct{})
	fs.mu.Lock()
	fs.block = release
	fs.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 5000 {
			l.Record(result(i))
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Record blocked behind a stuck fsync")
	}
	if got := testutil.ToFloat64(m.droppedFull); got < 5000-8-maxWrite/1000 {
		t.Errorf("dropped %v of 5000 with a stuck disk", got)
	}
	fs.mu.Lock()
	fs.block = nil
	fs.mu.Unlock()
	close(release)
	closeLog(t, l)
	if _, err := Verify(mustFiles(t, dir), l.PublicKey()); err != nil {
		t.Fatal(err)
	}
}

func TestCloseGivesUpOnAFailingDisk(t *testing.T) {
	dir := t.TempDir()
	fs := &faultFS{}
	m := NewMetrics(nil)
	l := openLog(t, Options{Dir: dir, Metrics: m, OpenFile: fs.open})
	appendN(t, l, 1, 2)
	fs.writeErr.Store(errp(syscall.ENOSPC))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := l.Append(ctx, result(3))
		errc <- err
	}()
	timingtest.WaitFor(t, "failing", func() bool { return testutil.ToFloat64(m.failing) == 1 })
	cctx, ccancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer ccancel()
	err := l.Close(cctx)
	if err == nil || !strings.Contains(err.Error(), "not written") {
		t.Errorf("Close on a full disk: %v", err)
	}
	if aerr := <-errc; !errors.Is(aerr, ErrClosed) && !errors.Is(aerr, context.DeadlineExceeded) {
		t.Errorf("Append of a record never written: %v", aerr)
	}
	if got := testutil.ToFloat64(m.droppedUnwritten); got < 1 {
		t.Errorf("unwritten drops = %v", got)
	}
	fs.writeErr.Store(nil)
	// What was durable before is intact.
	if rep, err := VerifyWith(mustFiles(t, dir), VerifyOptions{PublicKey: l.PublicKey(), AllowUnsealed: true}); err != nil || rep.Records != 2 {
		t.Errorf("log after giving up: %+v, %v", rep, err)
	}
}

func TestRecordAfterClose(t *testing.T) {
	m := NewMetrics(nil)
	l := openLog(t, Options{Metrics: m})
	closeLog(t, l)
	l.Record(result(1))
	if got := testutil.ToFloat64(m.droppedClosed); got != 1 {
		t.Errorf("closed drops = %v", got)
	}
	if _, err := l.Append(context.Background(), result(1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v", err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	var _ decision.Recorder = l
}

func TestBadOptionsAndKeys(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		opts Options
		want error
	}{
		{"unknown fsync", Options{Dir: dir, Fsync: "sometimes"}, ErrBadOptions},
		{"negative size", Options{Dir: dir, RotateSize: -1}, ErrBadOptions},
		{"key not PEM", Options{Dir: dir, KeyFile: writeFile(t, dir, "bad.key", "hello")}, ErrBadKey},
		{"key of another type", Options{Dir: dir, KeyFile: writeFile(t, dir, "rsa.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")}, ErrBadKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			o.Logger = quiet
			if _, err := Open(o); !errors.Is(err, tc.want) {
				t.Errorf("Open: %v, want %v", err, tc.want)
			}
		})
	}
	// The key is created once and kept.
	key := filepath.Join(dir, "k", "audit.key")
	k1, err := LoadOrCreateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateKey(key)
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("key changed on reload: %v", err)
	}
	st, err := os.Stat(key)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, %v", st.Mode(), err)
	}
	if _, err := ReadPublicKey(key); !errors.Is(err, ErrBadKey) {
		t.Errorf("private key read as public: %v", err)
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func histCount(t *testing.T, g prometheus.Gatherer, name string) uint64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
