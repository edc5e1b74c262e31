package audit

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
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
	// DefaultCommitWait bounds how long Commit waits for a writer stalled
	// in the kernel before it queues the record and lets the call go on.
	DefaultCommitWait = 100 * time.Millisecond
	// DefaultMaxBacklog is the memory the writer keeps for a failing disk.
	DefaultMaxBacklog = 8 << 20
)

// The fsync policies. Under each, a record Commit returned nil for is in
// the operating system when the call's routing variables go out: a crash
// of the process loses none of them. The policy decides what a crash of
// the machine (power loss, kernel panic) may cost.
const (
	// FsyncBatch fsyncs every FsyncInterval (group commit): a power loss
	// can cost the decisions of the last FsyncInterval.
	FsyncBatch = "batch"
	// FsyncAlways fsyncs as soon as anything was written (group commit:
	// one fsync for whatever was written meanwhile): a power loss can cost
	// the decisions of the fsync in progress.
	FsyncAlways = "always"
	// FsyncNone never fsyncs: the operating system writes when it likes,
	// typically within 30 seconds; a power loss can cost that much.
	FsyncNone = "none"
)

const (
	filePrefix = "audit-"
	fileSuffix = ".jsonl"
	// HeadFile, in the log directory, holds the latest checkpoint line. It
	// is replaced atomically after the checkpoint is durable in the log.
	HeadFile = "head.json"
	// brokenSuffix is added, with a UTC time, to the name of a file a
	// break set aside.
	brokenSuffix = ".broken-"
	// maxWrite is the most one write(2) takes, in whole lines, so a disk
	// that has room for part of a backlog takes that part.
	maxWrite = 256 << 10
	// maxRetry is the longest pause between two tries of a failing disk.
	maxRetry = time.Second
)

var (
	// ErrClosed reports a record given to a closed log, or one the log
	// could not write before it closed.
	ErrClosed = errors.New("audit log closed")
	// ErrBadOptions reports options Open cannot use.
	ErrBadOptions = errors.New("bad audit options")
	// ErrNotWritten reports a record Commit or Append could not hand to
	// the operating system: the disk is failing (the record waits in
	// memory and is written when the disk recovers) or the memory bound
	// is reached (the record is dropped, and a gap entry says so).
	ErrNotWritten = errors.New("audit record not written")
	// ErrBusy reports a record Commit queued instead of writing, because
	// the writer was stalled for longer than CommitWait.
	ErrBusy = errors.New("audit log busy")
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
	// written after that many entries, and at least that often while
	// entries come.
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
	// QueueSize bounds the records Record queues for the writer; when it
	// is full, Record drops and counts. DefaultQueueSize when 0.
	QueueSize int
	// CommitWait bounds how long Commit waits for the writer;
	// DefaultCommitWait when 0.
	CommitWait time.Duration
	// MaxBacklog bounds the bytes not yet durable the writer keeps in
	// memory while the disk fails; past it decisions are dropped, counted
	// and stated by a gap entry once writing resumes. DefaultMaxBacklog
	// when 0.
	MaxBacklog int
	// Witness, when set, receives a copy of every durable checkpoint.
	Witness Witness
	Logger  *slog.Logger
	Metrics *Metrics
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
	if o.FsyncInterval < 0 || o.CheckpointEvery < 0 || o.CheckpointInterval < 0 || o.RotateSize < 0 || o.QueueSize < 0 || o.CommitWait < 0 || o.MaxBacklog < 0 {
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
	if o.CommitWait == 0 {
		o.CommitWait = DefaultCommitWait
	}
	if o.MaxBacklog == 0 {
		o.MaxBacklog = DefaultMaxBacklog
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

// Log is the append-only decision log. Commit, Record and Append are safe
// for concurrent use.
//
// The writer state (the open file, the bytes not yet durable, the chain)
// belongs to whoever holds the writer token: a call committing its
// decision, or the log's own goroutine, which fsyncs (without the token,
// so calls keep writing meanwhile), rotates, writes checkpoints on time,
// updates the head file and retries a failing disk.
type Log struct {
	opts  Options
	m     *Metrics
	log   *slog.Logger
	key   ed25519.PrivateKey
	keyID string

	sem chan struct{} // the writer token
	w   writer        // owned by the token holder

	mu       sync.RWMutex // guards closed against sends on queue
	closed   bool
	queue    chan *item
	kick     chan struct{}
	closing  chan struct{}
	closeCtx context.Context
	done     chan struct{}
	closeErr error

	written  atomic.Uint64
	lastWarn atomic.Int64
	// drops counts records Record dropped on a full queue that no gap
	// entry states yet; dropFirst and dropLast are when (unix ns).
	drops               atomic.Uint64
	dropFirst, dropLast atomic.Int64

	wit *witnessSender // nil without a witness
}

var (
	_ decision.Recorder  = (*Log)(nil)
	_ decision.Committer = (*Log)(nil)
)

// item is one result on its way to the writer through the queue.
type item struct {
	res decision.Result
	enq time.Time
}

// Open opens the log in opts.Dir, creating the directory and the signing
// key on first start. It reads the newest files to continue the chain: a
// last line cut by a crash is removed (it was never reported written) and
// entries left after the last checkpoint get a checkpoint.
//
// A damaged log does not stop it: when the newest files do not verify
// (a changed byte, two writers in one file, a log cut behind its head
// file), it sets the damaged files aside (renamed, never deleted), starts
// a new file with a break entry that states the last good entry and why,
// logs an error and counts callscreen_audit_breaks_total. Open fails only
// when the directory, the key or the files cannot be read or written.
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
		opts:    opts,
		m:       opts.Metrics,
		log:     opts.Logger,
		key:     key,
		keyID:   KeyID(key.Public().(ed25519.PublicKey)),
		sem:     make(chan struct{}, 1),
		queue:   make(chan *item, opts.QueueSize),
		kick:    make(chan struct{}, 1),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	if opts.Witness != nil {
		l.wit = newWitnessSender(opts.Witness, l.m, l.log)
	}
	if err := l.resume(); err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	l.m.writtenSeq.Set(float64(l.Written()))
	l.log.Info("audit log open", "dir", opts.Dir, "seq", l.w.seq, "key_id", l.keyID, "fsync", opts.Fsync, "witness", opts.Witness != nil)
	if l.wit != nil {
		go l.wit.run()
	}
	go l.run()
	return l, nil
}

// KeyID is the id of the key that signs this log's checkpoints.
func (l *Log) KeyID() string { return l.keyID }

// PublicKey is the public half of the signing key.
func (l *Log) PublicKey() ed25519.PublicKey { return l.key.Public().(ed25519.PublicKey) }

// Written returns the seq of the last entry known durable under the fsync
// policy: every entry up to it survives a crash of the process (and, with
// fsync, of the machine).
func (l *Log) Written() uint64 { return l.written.Load() }

// Commit writes r to the log file (write(2), not fsync) and returns once
// the operating system has it, so a crash of the process after it loses
// nothing; the fsync policy decides when it is durable against a power
// loss. It is what the flow calls before the routing variables go out.
//
// It never holds a call for long: when the writer is stalled for
// CommitWait it queues the record as Record does and returns ErrBusy;
// while the disk fails it keeps the record in memory and returns
// ErrNotWritten (the record is written when the disk recovers); when that
// memory is full it drops the record (ErrNotWritten), counts it and a gap
// entry says so later; after Close it returns ErrClosed. The log reports
// and counts all of these itself: callers need not log them.
func (l *Log) Commit(r *decision.Result) error {
	if !l.tryLock(l.opts.CommitWait) {
		l.m.late.Inc()
		l.enqueue(r)
		return fmt.Errorf("audit commit: %w", ErrBusy)
	}
	now := time.Now()
	w := &l.w
	if w.closed {
		l.unlock()
		l.m.droppedClosed.Inc()
		return fmt.Errorf("audit commit: %w", ErrClosed)
	}
	l.drainLocked(now)
	if !l.acceptLocked(now) {
		l.unlock()
		return fmt.Errorf("audit commit: dropped, memory full: %w", ErrNotWritten)
	}
	l.addRecordLocked(r, now, nil)
	err := l.writeLocked(now)
	wake := l.opts.Fsync == FsyncAlways || w.rotate
	l.unlock()
	if wake {
		l.wake()
	}
	if err != nil {
		return fmt.Errorf("audit commit: %w: %w", ErrNotWritten, err)
	}
	return nil
}

// Record queues r for the log and returns at once: it never waits for the
// disk. When the queue is full (the writer is stalled) the record is
// dropped, counted in callscreen_audit_dropped_total, reported in a
// warning at most every ten seconds and stated by a gap entry. Record
// copies r; it keeps r's slices and maps, which must not change
// afterwards. A result the flow already committed (r.Committed) is not
// recorded again.
func (l *Log) Record(r *decision.Result) {
	if r.Committed {
		return
	}
	l.enqueue(r)
}

func (l *Log) enqueue(r *decision.Result) {
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
		now := it.enq.UnixNano()
		l.drops.Add(1)
		l.dropFirst.CompareAndSwap(0, now)
		l.dropLast.Store(now)
		l.warnDrop()
	}
}

// wake tells the log's goroutine to take the queue and write now rather
// than at its next tick.
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
	l.log.Warn("audit log: decisions are being dropped (a gap entry will say how many)", "queue", l.opts.QueueSize, "failing", l.m.failingNow.Load())
}

// Append writes r like Commit, waiting for the writer as long as ctx
// allows, and returns its seq once the record is durable under the fsync
// policy. It is for tools and tests, not for calls. It returns ErrClosed
// when the log closed first, ErrNotWritten when memory is full, ctx.Err()
// when ctx ended first (the record may still be written).
func (l *Log) Append(ctx context.Context, r *decision.Result) (uint64, error) {
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return 0, fmt.Errorf("audit append: %w", ctx.Err())
	}
	now := time.Now()
	if l.w.closed {
		l.unlock()
		return 0, fmt.Errorf("audit append: %w", ErrClosed)
	}
	l.drainLocked(now)
	if !l.acceptLocked(now) {
		l.unlock()
		return 0, fmt.Errorf("audit append: dropped, memory full: %w", ErrNotWritten)
	}
	ack := make(chan uint64, 1)
	l.addRecordLocked(r, now, ack)
	_ = l.writeLocked(now) // a failure is retried; the ack waits for it
	l.unlock()
	l.wake()
	select {
	case seq, ok := <-ack:
		if !ok {
			return 0, fmt.Errorf("audit append: not written: %w", ErrClosed)
		}
		return seq, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("audit append: %w", ctx.Err())
	}
}

// Close stops taking records, writes what is queued, seals the log with a
// checkpoint, fsyncs and hands the last checkpoint to the witness. If the
// disk still fails when ctx ends, Close gives up and reports how many
// records were lost.
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
	close(l.closing)
	l.mu.Unlock()
	select {
	case <-l.done:
	case <-ctx.Done():
		// The writer gives up on the same ctx; give it a moment to say
		// what it lost, unless it is stuck in the kernel.
		select {
		case <-l.done:
		case <-time.After(100 * time.Millisecond):
			return fmt.Errorf("close audit log: writer still busy: %w", ctx.Err())
		}
	}
	if l.wit != nil {
		l.wit.close(ctx)
	}
	return l.closeErr
}

// tryLock takes the writer token, waiting at most d.
func (l *Log) tryLock(d time.Duration) bool {
	select {
	case l.sem <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case l.sem <- struct{}{}:
		return true
	case <-t.C:
		return false
	}
}

func (l *Log) lock()   { l.sem <- struct{}{} }
func (l *Log) unlock() { <-l.sem }
