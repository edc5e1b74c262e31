package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/callscreen/callscreen/decision"
)

// writer is the state the writer token guards.
type writer struct {
	f       File
	fileSeq uint64 // first seq of the file to open when f is nil
	day     string // UTC day f was opened
	synced  int64  // durable size of f
	// buf holds the entries after synced; buf[:written] are in f. dirty
	// says f may hold a partial entry past them (cut before the next
	// write).
	buf     []byte
	written int
	dirty   bool
	marks   []mark // one per entry in buf, in order
	enc     *json.Encoder
	scratch bytes.Buffer // enc's output
	// gen changes whenever f is cut back to synced, so an fsync that
	// started before does not mark anything durable.
	gen     uint64
	seq     uint64 // seq of the last entry
	hash    string // its hash
	n       uint64 // number of the last checkpoint
	sinceCP int    // entries after the last checkpoint
	cpAt    time.Time
	failing bool
	backoff time.Duration
	retryAt time.Time
	rotate  bool // seal and close f at the next round
	closed  bool
	// dropped counts decisions refused while buf was full (backlog_full)
	// that no gap entry states yet.
	dropped             uint64
	dropFirst, dropLast time.Time
	// durableCPs are the checkpoint lines made durable since the last
	// publish: the newest goes to the head file, all to the witness.
	durableCPs [][]byte
}

const (
	kindRecord = iota
	kindCheckpoint
	kindOther // gap, break
)

// mark is one entry in the writer's buffer.
type mark struct {
	end  int // offset in buf right after the entry
	seq  uint64
	kind int
	enq  time.Time
	ack  chan uint64 // Append's, told the seq once durable
	line []byte      // a checkpoint's line
}

// drainLocked moves what Record queued into the buffer, at most a queue's
// worth.
func (l *Log) drainLocked(now time.Time) {
	for n := cap(l.queue); n > 0; n-- {
		select {
		case it, ok := <-l.queue:
			if !ok {
				return
			}
			if l.acceptLocked(now) {
				l.addRecordLocked(&it.res, it.enq, nil)
			}
			if len(l.w.buf)-l.w.written >= maxWrite && !l.w.failing {
				_ = l.writeLocked(now) // a failure is counted, logged once and retried
			}
		default:
			return
		}
	}
}

// acceptLocked reports whether there is memory for one more entry; when
// there is not, the decision is counted as dropped. The bound is on what
// is not written yet (a failing disk); what is written but not fsynced
// (a slow fsync) may take four times as much.
func (l *Log) acceptLocked(now time.Time) bool {
	w := &l.w
	if len(w.buf)-w.written < l.opts.MaxBacklog && len(w.buf) < 4*l.opts.MaxBacklog {
		return true
	}
	w.dropped++
	if w.dropFirst.IsZero() {
		w.dropFirst = now
	}
	w.dropLast = now
	l.m.droppedBacklog.Inc()
	l.warnDrop()
	return false
}

func (l *Log) appendLocked(line []byte, m mark) {
	w := &l.w
	w.buf = append(w.buf, line...)
	m.end = len(w.buf)
	w.marks = append(w.marks, m)
}

// addRecordLocked appends a record for r, after a gap entry when
// decisions were dropped since the last entry.
func (l *Log) addRecordLocked(r *decision.Result, enq time.Time, ack chan uint64) {
	w := &l.w
	l.gapLocked(enq)
	rec := FromResult(r, l.opts.ConfigVersion)
	rec.Seq = w.seq + 1
	rec.Prev = w.hash
	rec.Type = TypeRecord
	hash, err := l.appendSealedLocked(&rec, mark{seq: rec.Seq, kind: kindRecord, enq: enq, ack: ack})
	if err != nil { // cannot happen with the types in Record
		l.m.errorsEncode.Inc()
		l.log.Error("audit record not encodable", "id", rec.ID, "err", err)
		if ack != nil {
			close(ack)
		}
		return
	}
	l.chainedLocked(rec.Seq, hash)
}

// appendSealedLocked encodes a chain entry (record, gap, break) with the
// writer's reusable encoder and appends its line to the buffer, sealed as
// sealRecord seals it: the same bytes, without the copies. It returns the
// entry's hash.
func (l *Log) appendSealedLocked(v any, m mark) (string, error) {
	w := &l.w
	if w.enc == nil {
		w.enc = json.NewEncoder(&w.scratch)
	}
	w.scratch.Reset()
	if err := w.enc.Encode(v); err != nil {
		return "", err
	}
	canon := w.scratch.Bytes()
	canon = canon[:len(canon)-1] // Encode ends with a newline; Marshal does not
	sum := sha256.Sum256(canon)
	var hx [2 * sha256.Size]byte
	hex.Encode(hx[:], sum[:])
	w.buf = append(w.buf, canon[:len(canon)-1]...)
	w.buf = append(w.buf, `,"hash":"`...)
	w.buf = append(w.buf, hx[:]...)
	w.buf = append(w.buf, '"', '}', '\n')
	m.end = len(w.buf)
	w.marks = append(w.marks, m)
	return string(hx[:]), nil
}

// chainedLocked advances the chain past an entry just appended.
func (l *Log) chainedLocked(seq uint64, hash string) {
	w := &l.w
	w.seq, w.hash = seq, hash
	w.sinceCP++
	if w.sinceCP >= l.opts.CheckpointEvery {
		l.addCheckpointLocked()
	}
	if !w.rotate && w.synced+int64(len(w.buf)) >= l.opts.RotateSize {
		w.rotate = true
	}
}

// gapLocked appends a gap entry stating the decisions dropped since the
// last entry, if any.
func (l *Log) gapLocked(now time.Time) {
	w := &l.w
	queued := l.drops.Swap(0)
	if queued == 0 && w.dropped == 0 {
		return
	}
	first, last := w.dropFirst, w.dropLast
	if queued > 0 {
		qf, ql := time.Unix(0, l.dropFirst.Swap(0)), time.Unix(0, l.dropLast.Load())
		if first.IsZero() || qf.Before(first) {
			first = qf
		}
		if ql.After(last) {
			last = ql
		}
	}
	var why []string
	if queued > 0 {
		why = append(why, "queue_full")
	}
	if w.dropped > 0 {
		why = append(why, "backlog_full")
	}
	g := Gap{
		Dropped: queued + w.dropped,
		First:   first.UTC().Format(TimeFormat),
		Last:    last.UTC().Format(TimeFormat),
		Prev:    w.hash,
		Reason:  strings.Join(why, ","),
		Seq:     w.seq + 1,
		Time:    now.UTC().Format(TimeFormat),
		Type:    TypeGap,
	}
	hash, err := l.appendSealedLocked(&g, mark{seq: g.Seq, kind: kindOther})
	if err != nil {
		l.m.errorsEncode.Inc()
		l.log.Error("audit gap entry not encodable", "err", err)
		return
	}
	w.dropped, w.dropFirst, w.dropLast = 0, time.Time{}, time.Time{}
	l.log.Warn("audit log: decisions were dropped; a gap entry says how many", "dropped", g.Dropped, "reason", g.Reason, "seq", g.Seq)
	l.chainedLocked(g.Seq, hash)
}

// addCheckpointLocked appends a checkpoint covering the last entry.
func (l *Log) addCheckpointLocked() {
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
	l.appendLocked(line, mark{seq: cp.Seq, kind: kindCheckpoint, line: line})
	w.sinceCP = 0
	w.cpAt = time.Now()
	l.m.checkpoints.Inc()
}

// errFailing reports a write not tried because the disk failed a moment
// ago.
var errFailing = errors.New("disk failing, retry later")

// writeLocked writes the unwritten part of the buffer, in whole lines of
// at most maxWrite bytes a write, opening the file first when needed. On
// a failure it keeps the lines that were written completely (a disk with
// room for some of the backlog takes that much), cuts off a partial one,
// and retries later with a growing pause.
func (l *Log) writeLocked(now time.Time) error {
	w := &l.w
	if w.written == len(w.buf) && !w.dirty {
		return nil
	}
	if w.failing && now.Before(w.retryAt) {
		return errFailing
	}
	if w.f == nil {
		if err := l.openLocked(now); err != nil {
			l.m.errorsOpen.Inc()
			return l.fail(err)
		}
	}
	if w.dirty {
		if err := w.f.Truncate(w.synced + int64(w.written)); err != nil {
			l.m.errorsWrite.Inc()
			return l.fail(fmt.Errorf("cut log file back to %d bytes: %w", w.synced+int64(w.written), err))
		}
		w.dirty = false
	}
	for w.written < len(w.buf) {
		end := len(w.buf)
		if end-w.written > maxWrite {
			chunk := w.buf[w.written : w.written+maxWrite]
			if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
				end = w.written + i + 1
			} else {
				end = w.written + bytes.IndexByte(w.buf[w.written:], '\n') + 1
			}
		}
		n, err := w.f.Write(w.buf[w.written:end])
		if n > 0 {
			complete := bytes.LastIndexByte(w.buf[w.written:w.written+n], '\n') + 1
			l.m.bytes.Add(float64(complete))
			w.written += complete
			w.dirty = complete < n
		}
		if err == nil && w.written < end {
			err = io.ErrShortWrite
		}
		if err != nil {
			l.m.errorsWrite.Inc()
			if w.dirty && w.f.Truncate(w.synced+int64(w.written)) == nil {
				w.dirty = false
			}
			return l.fail(fmt.Errorf("write: %w", err))
		}
	}
	if w.failing {
		w.failing, w.backoff = false, 0
		l.m.setFailing(false)
		l.log.Info("audit log writing again", "seq", w.seq)
	}
	return nil
}

// openLocked creates the file the buffer goes to next.
func (l *Log) openLocked(now time.Time) error {
	w := &l.w
	day := now.UTC().Format("20060102")
	name := filepath.Join(l.opts.Dir, fmt.Sprintf("%s%012d-%s%s", filePrefix, w.fileSeq, day, fileSuffix))
	f, err := l.opts.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o640)
	if errors.Is(err, fs.ErrExist) {
		// Left empty by a crash right after it was created: reuse it. A
		// file with content is never appended to from here.
		if st, serr := os.Stat(name); serr == nil && st.Size() == 0 {
			f, err = l.opts.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0o640)
		}
	}
	if err != nil {
		return fmt.Errorf("open log file: %w", err)
	}
	w.f, w.day, w.synced, w.dirty = f, day, 0, false
	return nil
}

// fail records a write, open or sync failure and when to try again. The
// first failure of a run is logged once, as an error.
func (l *Log) fail(err error) error {
	w := &l.w
	if w.backoff == 0 {
		w.backoff = l.opts.FsyncInterval
	} else if w.backoff *= 2; w.backoff > maxRetry {
		w.backoff = maxRetry
	}
	w.retryAt = time.Now().Add(w.backoff)
	if !w.failing {
		w.failing = true
		l.m.setFailing(true)
		l.log.Error("audit log cannot write; decisions are kept in memory, then dropped and counted, until the disk recovers", "err", err, "pending", len(w.marks))
	}
	return err
}

// failSync: after a failed fsync nothing written since the last good one
// is trusted; the file is cut back and all of it written again.
func (l *Log) failSync(err error) {
	w := &l.w
	l.m.errorsSync.Inc()
	w.written, w.dirty = 0, true
	w.gen++
	_ = l.fail(fmt.Errorf("fsync: %w", err))
}

// markDurableLocked marks the first k bytes of the buffer durable:
// acknowledges their entries, moves the rest to the front and keeps the
// newest checkpoint among them for the head file and the witness.
func (l *Log) markDurableLocked(k int, now time.Time) {
	w := &l.w
	if k == 0 {
		return
	}
	var last uint64
	records := 0
	i := 0
	for ; i < len(w.marks) && w.marks[i].end <= k; i++ {
		m := &w.marks[i]
		switch m.kind {
		case kindCheckpoint:
			w.durableCPs = append(w.durableCPs, m.line)
		case kindRecord:
			records++
			l.m.commit.Observe(now.Sub(m.enq).Seconds())
			last = m.seq
		default:
			last = m.seq
		}
	}
	if last > 0 {
		l.written.Store(last)
		l.m.writtenSeq.Set(float64(last))
	}
	for _, m := range w.marks[:i] { // Written() already says so
		if m.ack != nil {
			m.ack <- m.seq
		}
	}
	rest := copy(w.marks, w.marks[i:])
	clear(w.marks[rest:])
	w.marks = w.marks[:rest]
	for j := range w.marks {
		w.marks[j].end -= k
	}
	n := copy(w.buf, w.buf[k:])
	w.buf = w.buf[:n]
	if cap(w.buf) > 4*maxWrite && n < maxWrite {
		w.buf = append([]byte(nil), w.buf...) // let a backlog's memory go
	}
	w.written -= k
	w.synced += int64(k)
	l.m.records.Add(float64(records))
}
