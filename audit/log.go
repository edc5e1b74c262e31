package audit

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callscreen/callscreen/decision"
)

// Defaults for Options.
const (
	DefaultDir                = "./data/audit"
	DefaultKeyName            = "ed25519.key"
	DefaultFsyncInterval      = 100 * time.Millisecond
	DefaultCheckpointEvery    = 1000
	DefaultCheckpointInterval = 10 * time.Second
	DefaultRotateSize         = 64 << 20
	DefaultQueueSize          = 8192
)

// The fsync policies.
const (
	// FsyncBatch writes as records come and fsyncs every FsyncInterval; a
	// record counts as written after the fsync that covers it.
	FsyncBatch = "batch"
	// FsyncAlways fsyncs after every write (group commit: one write and
	// one fsync for whatever is queued).
	FsyncAlways = "always"
	// FsyncNone never fsyncs: a record counts as written once the
	// operating system has it. A power cut can lose the last seconds.
	FsyncNone = "none"
)

const (
	filePrefix = "audit-"
	fileSuffix = ".jsonl"
	// HeadFile, in the log directory, holds the latest checkpoint line. It
	// is replaced atomically after the checkpoint is durable in the log.
	HeadFile = "head.json"
	// writeAt is how much the batch policy buffers before writing without
	// waiting for the next tick.
	writeAt = 256 << 10
	// maxBacklog is how much unwritten data the writer holds while the
	// disk fails; beyond it, it stops taking records and the queue fills.
	maxBacklog = 8 << 20
	// takeInterval is how often the batch writer takes the queue.
	takeInterval = 10 * time.Millisecond
	maxRetry     = 2 * time.Second
)

var (
	// ErrClosed reports a record given to a closed log, or one the log
	// could not write before it closed.
	ErrClosed = errors.New("audit log closed")
	// ErrBadOptions reports options Open cannot use.
	ErrBadOptions = errors.New("bad audit options")
)

// File is an open log file, as Options.OpenFile returns it.
type File interface {
	Write(p []byte) (int, error)
	Sync() error
	Truncate(size int64) error
	Close() error
}

// Options configures a Log. The zero value of every field selects its
// default.
type Options struct {
	// Dir holds the log files and the head file; DefaultDir when "".
	Dir string
	// Fsync is FsyncBatch (default), FsyncAlways or FsyncNone.
	Fsync string
	// FsyncInterval is the batch fsync period; DefaultFsyncInterval.
	FsyncInterval time.Duration
	// CheckpointEvery and CheckpointInterval: a signed checkpoint is
	// written after that many records, and at least that often while
	// records come.
	CheckpointEvery    int
	CheckpointInterval time.Duration
	// RotateSize starts a new file once one reaches it; files also rotate
	// when the UTC day changes.
	RotateSize int64
	// KeyFile is the ed25519 signing key, created on first start;
	// Dir/ed25519.key when "". Its public key is KeyFile + ".pub".
	KeyFile string
	// ConfigVersion is recorded for results that carry none.
	ConfigVersion string
	// QueueSize bounds the records waiting for the writer; when it is
	// full, Record drops and counts. DefaultQueueSize when 0.
	QueueSize int
	Logger    *slog.Logger
	Metrics   *Metrics
	// OpenFile opens log files; nil uses os.OpenFile. Tests use it to
	// inject disk errors.
	OpenFile func(name string, flag int, perm os.FileMode) (File, error)
}

func (o *Options) setDefaults() error {
	if o.Dir == "" {
		o.Dir = DefaultDir
	}
	switch o.Fsync {
	case "":
		o.Fsync = FsyncBatch
	case FsyncBatch, FsyncAlways, FsyncNone:
	default:
		return fmt.Errorf("%w: fsync %q: want batch, always or none", ErrBadOptions, o.Fsync)
	}
	if o.FsyncInterval < 0 || o.CheckpointEvery < 0 || o.CheckpointInterval < 0 || o.RotateSize < 0 || o.QueueSize < 0 {
		return fmt.Errorf("%w: negative interval, count or size", ErrBadOptions)
	}
	if o.FsyncInterval == 0 {
		o.FsyncInterval = DefaultFsyncInterval
	}
	if o.CheckpointEvery == 0 {
		o.CheckpointEvery = DefaultCheckpointEvery
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = DefaultCheckpointInterval
	}
	if o.RotateSize == 0 {
		o.RotateSize = DefaultRotateSize
	}
	if o.KeyFile == "" {
		o.KeyFile = filepath.Join(o.Dir, DefaultKeyName)
	}
	if o.QueueSize == 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.OpenFile == nil {
		o.OpenFile = func(name string, flag int, perm os.FileMode) (File, error) {
			return os.OpenFile(name, flag, perm)
		}
	}
	return nil
}

// Log is the append-only decision log. Record and Append are safe for
// concurrent use; one goroutine writes.
type Log struct {
	opts  Options
	m     *Metrics
	log   *slog.Logger
	key   ed25519.PrivateKey
	keyID string

	mu       sync.RWMutex // guards closed against sends on queue
	closed   bool
	queue    chan *item
	kick     chan struct{}
	closeCtx context.Context
	done     chan struct{}
	closeErr error

	written  atomic.Uint64
	lastWarn atomic.Int64
	w        writer
}

var _ decision.Recorder = (*Log)(nil)

// item is one result on its way to the writer.
type item struct {
	res decision.Result
	enq time.Time
	// ack, when not nil, receives the seq once the record is durable, or
	// is closed when it never will be.
	ack chan uint64
}

type waiter struct {
	seq uint64
	enq time.Time
	ack chan uint64
}

// writer is the state of the writer goroutine.
type writer struct {
	f        File
	fileSeq  uint64 // first seq of the file to open when f is nil
	day      string
	synced   int64  // durable size of the current file
	buf      []byte // bytes not yet durable: buf[:written] already written
	written  int
	dirty    bool // the file may hold bytes past synced+written
	bufSeq   uint64
	seq      uint64 // last seq assigned
	hash     string
	n        uint64 // last checkpoint number
	sinceCP  int
	cpAt     time.Time
	headLine []byte // latest checkpoint line, not yet in the head file
	waiters  []waiter
	failing  bool
	backoff  time.Duration
	retryAt  time.Time
	rotate   bool // rotate once the buffer is durable
}

// Open opens the log in opts.Dir, creating the directory and the signing
// key on first start. It reads the newest files to continue the chain: a
// last line cut by a crash is removed (it was never reported written) and
// records left after the last checkpoint get a checkpoint. A log that fails
// verification otherwise is not touched: Open returns the *VerifyError and
// the operator moves the bad file aside.
func Open(opts Options) (*Log, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	key, err := LoadOrCreateKey(opts.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	l := &Log{
		opts:  opts,
		m:     opts.Metrics,
		log:   opts.Logger,
		key:   key,
		keyID: KeyID(key.Public().(ed25519.PublicKey)),
		queue: make(chan *item, opts.QueueSize),
		kick:  make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
	if err := l.resume(); err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	l.written.Store(l.w.seq)
	l.m.writtenSeq.Set(float64(l.w.seq))
	l.log.Info("audit log open", "dir", opts.Dir, "seq", l.w.seq, "key_id", l.keyID, "fsync", opts.Fsync)
	go l.run()
	return l, nil
}

// KeyID is the id of the key that signs this log's checkpoints.
func (l *Log) KeyID() string { return l.keyID }

// PublicKey is the public half of the signing key.
func (l *Log) PublicKey() ed25519.PublicKey { return l.key.Public().(ed25519.PublicKey) }

// Written returns the seq of the last record known durable under the fsync
// policy: every record up to it survives a crash of the process (and, with
// fsync, of the machine).
func (l *Log) Written() uint64 { return l.written.Load() }

// Record queues r for the log and returns at once: it never waits for the
// disk. When the queue is full (the disk is failing or too slow) the record
// is dropped, counted in callscreen_audit_dropped_total and reported in a
// warning at most every ten seconds. Record copies r; it keeps r's slices
// and maps, which must not change afterwards.
func (l *Log) Record(r *decision.Result) {
	it := &item{res: *r, enq: time.Now()}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		l.m.droppedClosed.Inc()
		return
	}
	select {
	case l.queue <- it:
		l.mu.RUnlock()
		if len(l.queue) >= cap(l.queue)/4 {
			l.wake()
		}
	default:
		l.mu.RUnlock()
		l.m.droppedFull.Inc()
		l.warnDrop()
	}
}

// wake tells the writer to take the queue now rather than at its next
// round.
func (l *Log) wake() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

func (l *Log) warnDrop() {
	now := time.Now().UnixNano()
	last := l.lastWarn.Load()
	if now-last < int64(10*time.Second) || !l.lastWarn.CompareAndSwap(last, now) {
		return
	}
	l.log.Warn("audit queue full: decisions are being dropped from the log", "queue", l.opts.QueueSize, "failing", l.m.failingNow())
}

// Append queues r, waiting for room, and returns its seq once the record is
// durable. It is for tools and tests, not for calls: calls use Record.
// It returns ErrClosed when the log closed first, ctx.Err() when ctx ended
// first (the record may still be written).
func (l *Log) Append(ctx context.Context, r *decision.Result) (uint64, error) {
	it := &item{res: *r, enq: time.Now(), ack: make(chan uint64, 1)}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return 0, fmt.Errorf("audit append: %w", ErrClosed)
	}
	select {
	case l.queue <- it:
		l.mu.RUnlock()
		l.wake()
	case <-ctx.Done():
		l.mu.RUnlock()
		return 0, fmt.Errorf("audit append: %w", ctx.Err())
	}
	select {
	case seq, ok := <-it.ack:
		if !ok {
			return 0, fmt.Errorf("audit append: not written: %w", ErrClosed)
		}
		return seq, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("audit append: %w", ctx.Err())
	}
}

// Close stops taking records, writes what is queued, seals the log with a
// checkpoint and fsyncs. If the disk still fails when ctx ends, Close gives
// up and reports how many records were lost.
func (l *Log) Close(ctx context.Context) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		<-l.done
		return l.closeErr
	}
	l.closed = true
	l.closeCtx = ctx
	close(l.queue)
	l.mu.Unlock()
	l.wake()
	select {
	case <-l.done:
		return l.closeErr
	case <-ctx.Done():
	}
	// The writer gives up on the same ctx; give it a moment to say what
	// it lost, unless it is stuck in the kernel.
	select {
	case <-l.done:
		return l.closeErr
	case <-time.After(100 * time.Millisecond):
		return fmt.Errorf("close audit log: writer still busy: %w", ctx.Err())
	}
}

// run is the writer goroutine.
//
// With batch fsync it does not wait on the queue: it takes what is queued
// every takeInterval (or at once when the queue fills up, or an Append or
// Close asks), so a call's Record is a channel send that wakes nobody. The
// other policies take each record as it comes.
func (l *Log) run() {
	defer close(l.done)
	tick := time.NewTicker(l.opts.FsyncInterval)
	defer tick.Stop()
	var rounds <-chan time.Time
	lazy := l.opts.Fsync == FsyncBatch
	if lazy {
		t := time.NewTicker(min(takeInterval, l.opts.FsyncInterval))
		defer t.Stop()
		rounds = t.C
	}
	w := &l.w
	w.cpAt = time.Now()
	for {
		in := l.queue
		if w.failing && len(w.buf) > maxBacklog {
			in = nil // stop taking records; Record drops when the queue is full
		}
		eager := in
		if lazy {
			eager = nil
		}
		select {
		case it, ok := <-eager:
			if !ok {
				l.shutdown()
				return
			}
			l.add(it)
			if l.take(in) {
				return
			}
		case <-rounds:
			if l.take(in) {
				return
			}
		case <-l.kick:
			if l.take(in) {
				return
			}
		case now := <-tick.C:
			if l.take(in) {
				return
			}
			if w.sinceCP > 0 && now.Sub(w.cpAt) >= l.opts.CheckpointInterval {
				l.addCheckpoint()
			}
			if !w.rotate && w.f != nil && w.day != "" && now.UTC().Format("20060102") != w.day {
				l.startRotation()
			}
			l.flush(true)
		}
		l.m.queue.Set(float64(len(l.queue)))
	}
}

// take adds every record queued on in, one write for the group, and
// flushes as the fsync policy says. It reports whether the queue was closed
// and the log shut down.
func (l *Log) take(in chan *item) bool {
	w := &l.w
	// At most a queue's worth per round, so a flood cannot keep the
	// writer from its fsync tick.
	for n := cap(l.queue); n > 0; n-- {
		select {
		case it, ok := <-in:
			if !ok {
				l.shutdown()
				return true
			}
			l.add(it)
			if len(w.buf)-w.written >= writeAt {
				l.flush(l.opts.Fsync != FsyncBatch)
			}
			continue
		default:
		}
		break
	}
	if l.opts.Fsync != FsyncBatch && len(w.buf) > w.written {
		l.flush(true)
	}
	return false
}

// add encodes one record into the buffer.
func (l *Log) add(it *item) {
	w := &l.w
	rec := FromResult(&it.res, l.opts.ConfigVersion)
	rec.Seq = w.seq + 1
	rec.Prev = w.hash
	rec.Type = TypeRecord
	line, hash, err := sealRecord(&rec)
	if err != nil { // cannot happen with the types in Record
		l.m.errorsEncode.Inc()
		l.log.Error("audit record not encodable", "id", rec.ID, "err", err)
		if it.ack != nil {
			close(it.ack)
		}
		return
	}
	w.seq, w.hash = rec.Seq, hash
	w.buf = append(w.buf, line...)
	w.bufSeq = w.seq
	w.waiters = append(w.waiters, waiter{seq: w.seq, enq: it.enq, ack: it.ack})
	w.sinceCP++
	if w.sinceCP >= l.opts.CheckpointEvery {
		l.addCheckpoint()
	}
	if int64(len(w.buf))+w.synced >= l.opts.RotateSize && !w.rotate {
		l.startRotation()
	}
}

func (l *Log) addCheckpoint() {
	w := &l.w
	cp := Checkpoint{
		Hash:  w.hash,
		KeyID: l.keyID,
		N:     w.n + 1,
		Seq:   w.seq,
		Time:  time.Now().UTC().Format(TimeFormat),
		Type:  TypeCheckpoint,
	}
	line, err := sealCheckpoint(&cp, func(msg []byte) []byte { return ed25519.Sign(l.key, msg) })
	if err != nil {
		l.m.errorsEncode.Inc()
		l.log.Error("audit checkpoint not encodable", "err", err)
		return
	}
	w.n = cp.N
	w.buf = append(w.buf, line...)
	w.headLine = line
	w.sinceCP = 0
	w.cpAt = time.Now()
	l.m.checkpoints.Inc()
}

// startRotation seals the current file and closes it once the seal is
// durable; while the disk fails, the next successful flush does.
func (l *Log) startRotation() {
	if l.w.sinceCP > 0 {
		l.addCheckpoint()
	}
	l.w.rotate = true
	l.flush(true)
}

// flush writes the buffer and, with sync, makes it durable. On failure it
// cuts the file back to its durable size, keeps the buffer and retries
// later with a growing pause.
func (l *Log) flush(sync bool) {
	w := &l.w
	now := time.Now()
	if w.failing && now.Before(w.retryAt) {
		return
	}
	if len(w.buf) == 0 && !w.rotate {
		return
	}
	if err := l.writeBuf(); err != nil {
		l.fail(err)
		return
	}
	if l.opts.Fsync == FsyncNone {
		l.durable(now)
	} else if sync && w.written > 0 {
		start := time.Now()
		if err := w.f.Sync(); err != nil {
			l.m.errorsSync.Inc()
			l.fail(fmt.Errorf("fsync: %w", err))
			return
		}
		l.m.fsync.Observe(time.Since(start).Seconds())
		l.durable(now)
	}
	if w.failing {
		w.failing, w.backoff = false, 0
		l.m.failing.Set(0)
		l.log.Info("audit log writing again", "seq", w.seq)
	}
	if w.rotate && len(w.buf) == 0 && w.f != nil {
		if err := w.f.Close(); err != nil {
			l.log.Warn("audit log close after rotation", "err", err)
		}
		w.f, w.fileSeq, w.synced, w.rotate = nil, w.seq+1, 0, false
		l.m.rotations.Inc()
	} else if w.rotate && w.f == nil {
		w.rotate = false
	}
}

// writeBuf writes the unwritten part of the buffer, opening the file first
// when needed.
func (l *Log) writeBuf() error {
	w := &l.w
	if w.f == nil {
		if len(w.buf) == 0 {
			return nil
		}
		day := time.Now().UTC().Format("20060102")
		name := filepath.Join(l.opts.Dir, fmt.Sprintf("%s%012d-%s%s", filePrefix, w.fileSeq, day, fileSuffix))
		f, err := l.opts.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o640)
		if errors.Is(err, fs.ErrExist) {
			// Left empty by a crash right after it was created: reuse it.
			// A file with content is never appended to from here.
			if st, serr := os.Stat(name); serr == nil && st.Size() == 0 {
				f, err = l.opts.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0o640)
			}
		}
		if err != nil {
			l.m.errorsOpen.Inc()
			return fmt.Errorf("open log file: %w", err)
		}
		w.f, w.day, w.synced, w.written, w.dirty = f, day, 0, 0, false
	}
	if w.dirty { // fail set written to 0: cut back to the durable size
		if err := w.f.Truncate(w.synced + int64(w.written)); err != nil {
			l.m.errorsWrite.Inc()
			return fmt.Errorf("cut log file back to %d bytes: %w", w.synced, err)
		}
		w.dirty = false
	}
	if w.written == len(w.buf) {
		return nil
	}
	w.dirty = true // until the write is known complete
	n, err := w.f.Write(w.buf[w.written:])
	if err != nil {
		l.m.errorsWrite.Inc()
		return fmt.Errorf("write: %w", err)
	}
	if n != len(w.buf)-w.written {
		l.m.errorsWrite.Inc()
		return fmt.Errorf("write: short write")
	}
	w.written = len(w.buf)
	w.dirty = false
	l.m.bytes.Add(float64(n))
	return nil
}

// fail records a write or sync failure: nothing in the buffer counts as
// written, and all of it is written again once the disk recovers.
func (l *Log) fail(err error) {
	w := &l.w
	w.written = 0
	if w.f != nil {
		w.dirty = true
	}
	if w.backoff == 0 {
		w.backoff = l.opts.FsyncInterval
	} else if w.backoff *= 2; w.backoff > maxRetry {
		w.backoff = maxRetry
	}
	w.retryAt = time.Now().Add(w.backoff)
	if !w.failing {
		w.failing = true
		l.m.failing.Set(1)
		// The one report of this failure: the writer is the top of its
		// own work. Calls go on; records queue, then drop.
		l.log.Error("audit log cannot write; decisions are kept in memory and dropped when the queue fills", "err", err, "pending", len(w.waiters))
	}
}

// durable marks the whole buffer durable and acknowledges its records.
func (l *Log) durable(now time.Time) {
	w := &l.w
	w.synced += int64(len(w.buf))
	w.buf, w.written = w.buf[:0], 0
	if cap(w.buf) > 4*writeAt {
		w.buf = nil
	}
	l.written.Store(w.bufSeq)
	l.m.writtenSeq.Set(float64(w.bufSeq))
	for _, wt := range w.waiters {
		l.m.commit.Observe(now.Sub(wt.enq).Seconds())
		if wt.ack != nil {
			wt.ack <- wt.seq
		}
	}
	l.m.records.Add(float64(len(w.waiters)))
	clear(w.waiters)
	w.waiters = w.waiters[:0]
	if w.headLine != nil {
		if err := writeHead(l.opts.Dir, w.headLine); err != nil {
			l.m.errorsHead.Inc()
			l.log.Warn("audit head file not updated", "err", err)
		} else {
			w.headLine = nil
		}
	}
}

// shutdown writes what is left when the queue is closed, retrying a
// failing disk until Close's context ends.
func (l *Log) shutdown() {
	w := &l.w
	if w.sinceCP > 0 {
		l.addCheckpoint()
	}
	for {
		w.retryAt = time.Time{}
		l.flush(true)
		if len(w.buf) == 0 {
			break
		}
		select {
		case <-l.closeCtx.Done():
			lost := len(w.waiters)
			for _, wt := range w.waiters {
				if wt.ack != nil {
					close(wt.ack)
				}
			}
			l.m.droppedUnwritten.Add(float64(lost))
			l.closeErr = fmt.Errorf("close audit log: %d records not written: %w", lost, l.closeCtx.Err())
			if w.f != nil {
				_ = w.f.Truncate(w.synced)
				_ = w.f.Close()
			}
			return
		case <-time.After(min(w.backoff, 100*time.Millisecond)):
		}
	}
	if w.f != nil {
		if err := w.f.Close(); err != nil {
			l.closeErr = fmt.Errorf("close audit log: %w", err)
		}
	}
	l.log.Info("audit log closed", "seq", w.seq)
}

// writeHead replaces the head file with line, atomically.
func writeHead(dir string, line []byte) error {
	tmp := filepath.Join(dir, HeadFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(line); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, HeadFile))
}

// resume reads the newest files to find where the chain stands.
func (l *Log) resume() error {
	w := &l.w
	w.hash, w.fileSeq = GenesisHash, 1
	files, err := Files(l.opts.Dir)
	if err != nil || len(files) == 0 {
		return err
	}
	var v *verifier
	var good int64
	for start := len(files) - 1; ; start-- {
		v = newVerifier(VerifyOptions{AllowUnsealed: true})
		v.recover = true
		for i := start; i < len(files); i++ {
			if good, err = v.file(files[i], i == len(files)-1); err != nil {
				return err
			}
		}
		if (v.nKnown && v.started) || start == 0 {
			break
		}
	}
	last := files[len(files)-1]
	st, err := os.Stat(last)
	if err != nil {
		return err
	}
	if st.Size() > good {
		l.log.Warn("audit log: removing a partial last line left by a crash", "file", last, "bytes", st.Size()-good)
		if err := os.Truncate(last, good); err != nil {
			return err
		}
	}
	if v.started {
		w.seq, w.hash = v.seq, v.hash
	}
	w.n = v.n
	w.bufSeq = w.seq
	w.fileSeq = w.seq + 1
	w.sinceCP = int(v.report.Unsealed)
	if v.lastKeyID != "" && v.lastKeyID != l.keyID {
		// A new signing key starts a new file, so each file verifies
		// with one key.
		l.log.Warn("audit signing key changed: starting a new file", "old_key_id", v.lastKeyID, "key_id", l.keyID)
		return nil
	}
	f, err := l.opts.OpenFile(last, os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	w.f, w.synced = f, good
	w.day = dayOf(last)
	if w.sinceCP > 0 {
		l.log.Warn("audit log: sealing records left after the last checkpoint", "records", w.sinceCP)
		l.addCheckpoint()
		l.flush(true)
	}
	return nil
}

// dayOf reads the UTC day from a log file name, "" when it has none.
func dayOf(name string) string {
	base := strings.TrimSuffix(filepath.Base(name), fileSuffix)
	if i := strings.LastIndexByte(base, '-'); i >= 0 && len(base)-i-1 == 8 {
		return base[i+1:]
	}
	return ""
}
