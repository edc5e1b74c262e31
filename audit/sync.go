package audit

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// run is the log's own goroutine: every FsyncInterval it takes what
// Record queued, writes checkpoints that fall due by time, rotates, retries
// a failing disk and fsyncs what calls wrote (group commit); woken early
// when the queue fills, an Append waits, or (fsync always) a call wrote.
func (l *Log) run() {
	defer close(l.done)
	tick := time.NewTicker(l.opts.FsyncInterval)
	defer tick.Stop()
	for {
		select {
		case <-l.closing:
			l.shutdown()
			return
		case <-l.kick:
			l.round(time.Now(), false)
		case now := <-tick.C:
			l.round(now, true)
		}
	}
}

// round is one pass of the log's goroutine. The fsync runs without the
// writer token: calls go on writing meanwhile, and what they wrote waits
// for the next fsync.
func (l *Log) round(now time.Time, tick bool) {
	w := &l.w
	l.lock()
	l.drainLocked(now)
	if tick && w.sinceCP > 0 && now.Sub(w.cpAt) >= l.opts.CheckpointInterval {
		l.addCheckpointLocked()
	}
	if tick && w.f != nil && w.day != "" && now.UTC().Format("20060102") != w.day {
		w.rotate = true
	}
	_ = l.writeLocked(now) // a failure is counted, logged once and retried
	if !w.failing && (w.dropped > 0 || l.drops.Load() > 0) && len(w.buf)-w.written < l.opts.MaxBacklog {
		// Writing resumed after drops: say how many now, not at the next
		// decision.
		l.gapLocked(now)
		_ = l.writeLocked(now)
	}
	if w.rotate && !w.failing {
		l.rotateLocked(now)
	}
	syncNow := (tick || l.opts.Fsync == FsyncAlways) && w.f != nil && w.written > 0
	f, k, gen := w.f, w.written, w.gen
	l.unlock()

	if syncNow {
		var err error
		if l.opts.Fsync != FsyncNone {
			start := time.Now()
			err = f.Sync()
			l.m.fsync.Observe(time.Since(start).Seconds())
		}
		l.lock()
		if w.gen == gen && w.f == f {
			if err != nil {
				l.failSync(err)
			} else {
				l.markDurableLocked(k, now)
			}
		}
		l.unlock()
	}
	l.publish()
	l.m.queue.Set(float64(len(l.queue)))
}

// syncLocked fsyncs the whole buffer with the token held: for rotation and
// shutdown, where nothing may be written in between.
func (l *Log) syncLocked(now time.Time) error {
	w := &l.w
	if w.f == nil || w.written == 0 {
		return nil
	}
	if l.opts.Fsync != FsyncNone {
		start := time.Now()
		if err := w.f.Sync(); err != nil {
			l.failSync(err)
			return err
		}
		l.m.fsync.Observe(time.Since(start).Seconds())
	}
	l.markDurableLocked(w.written, now)
	return nil
}

// rotateLocked seals the file with a checkpoint, makes it durable and
// closes it; the next entry opens a new file. While the disk fails it
// waits for a later round.
func (l *Log) rotateLocked(now time.Time) {
	w := &l.w
	if w.sinceCP > 0 {
		l.addCheckpointLocked()
	}
	if l.writeLocked(now) != nil || l.syncLocked(now) != nil || len(w.buf) > 0 {
		return
	}
	if w.f != nil {
		if err := w.f.Close(); err != nil {
			l.log.Warn("audit log close after rotation", "err", err)
		}
		l.m.rotations.Inc()
	}
	w.f, w.fileSeq, w.synced, w.rotate = nil, w.seq+1, 0, false
}

// publish writes the newest durable checkpoint to the head file and hands
// every new one to the witness.
func (l *Log) publish() {
	l.lock()
	cps := l.w.durableCPs
	l.w.durableCPs = nil
	l.unlock()
	if len(cps) == 0 {
		return
	}
	if err := writeHead(l.opts.Dir, cps[len(cps)-1]); err != nil {
		l.m.errorsHead.Inc()
		l.log.Warn("audit head file not updated", "err", err)
	}
	if l.wit != nil {
		for _, cp := range cps {
			l.wit.add(cp)
		}
	}
}

// shutdown writes what is left when the log closes, retrying a failing
// disk until Close's context ends.
func (l *Log) shutdown() {
	w := &l.w
	for {
		now := time.Now()
		l.lock()
		l.drainLocked(now) // the queue is closed: this takes all of it
		if w.sinceCP > 0 || l.drops.Load() > 0 || w.dropped > 0 {
			l.gapLocked(now)
			l.addCheckpointLocked()
		}
		w.retryAt = time.Time{}
		if l.writeLocked(now) == nil {
			_ = l.syncLocked(now)
		}
		finished := len(w.buf) == 0
		giveUp := !finished && l.closeCtx.Err() != nil
		seq, pause := w.seq, min(w.backoff, 100*time.Millisecond)
		if giveUp {
			lost := 0
			for _, m := range w.marks {
				if m.kind == kindRecord {
					lost++
				}
				if m.ack != nil {
					close(m.ack)
				}
			}
			w.marks = nil
			l.m.droppedUnwritten.Add(float64(lost))
			l.closeErr = fmt.Errorf("close audit log: %d records not written: %w", lost, l.closeCtx.Err())
			if w.f != nil {
				_ = w.f.Truncate(w.synced)
			}
		}
		if finished || giveUp {
			if w.f != nil {
				if err := w.f.Close(); err != nil && l.closeErr == nil {
					l.closeErr = fmt.Errorf("close audit log: %w", err)
				}
				w.f = nil
			}
			w.closed = true
		}
		l.unlock()
		l.publish()
		if finished {
			l.log.Info("audit log closed", "seq", seq)
			return
		}
		if giveUp {
			return
		}
		select {
		case <-l.closeCtx.Done():
		case <-time.After(pause):
		}
	}
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
