package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// resume reads the newest files to find where the chain stands and deals
// with what a crash or damage left, before the log takes records: a
// partial last line is cut, entries after the last checkpoint are sealed,
// and damage is set aside behind a break entry. It publishes the newest
// checkpoint (head file, witness).
func (l *Log) resume() error {
	w := &l.w
	w.hash, w.fileSeq, w.cpAt = GenesisHash, 1, time.Now()
	head, err := ReadHead(l.opts.Dir)
	if errors.Is(err, ErrMalformed) {
		// The head file is only a copy of a checkpoint: set it aside and
		// go on; the next checkpoint writes a new one.
		name := filepath.Join(l.opts.Dir, HeadFile)
		to := name + brokenSuffix + stamp(time.Now())
		if rerr := os.Rename(name, to); rerr != nil {
			return fmt.Errorf("set aside unreadable head file: %w", rerr)
		}
		l.log.Error("audit head file unreadable: set aside", "file", to, "err", err)
		head, err = nil, nil
	}
	if err != nil {
		return err
	}
	files, err := Files(l.opts.Dir)
	if err != nil {
		return err
	}
	broke, err := l.resumeFiles(files, head)
	if err != nil {
		return err
	}
	now := time.Now()
	l.lock()
	if l.writeLocked(now) == nil {
		_ = l.syncLocked(now) // a failure is retried by the log's goroutine
	}
	fresh := len(w.durableCPs) > 0
	l.unlock()
	if !fresh && !broke && head != nil && l.wit != nil {
		// The witness may have missed the newest checkpoint before a
		// restart; sending it again is harmless.
		l.wit.add(head.line())
	}
	l.publish()
	return nil
}

// resumeFiles sets the writer state from the files; broke reports a break.
func (l *Log) resumeFiles(files []string, head *Checkpoint) (broke bool, err error) {
	w := &l.w
	if len(files) == 0 {
		if head == nil {
			return false, nil
		}
		l.startBreak(Break{LastHash: GenesisHash, N: head.N,
			Reason: fmt.Sprintf("no log files, but %s holds checkpoint %d covering seq %d: the files were removed", HeadFile, head.N, head.Seq)},
			head.Seq+1)
		return true, nil
	}
	var v *verifier
	var good int64
	var verr error
	for start := len(files) - 1; ; start-- {
		v = newRecoverVerifier(head)
		verr = nil
		for i := start; i < len(files) && verr == nil; i++ {
			good, verr = v.file(files[i], i == len(files)-1)
		}
		if verr != nil && !v.started && start > 0 {
			continue // read the file before, to know where the chain stood
		}
		if verr != nil || (v.nKnown && v.started) || start == 0 {
			break
		}
	}
	if verr != nil {
		var ve *VerifyError
		if !errors.As(verr, &ve) {
			return false, verr
		}
		i := slices.Index(files, ve.File)
		if i < 0 {
			return false, verr
		}
		return true, l.breakAt(files[i:], v, ve, head)
	}
	last := files[len(files)-1]
	st, err := os.Stat(last)
	if err != nil {
		return false, err
	}
	if st.Size() > good {
		l.log.Warn("audit log: removing a partial last line left by a crash", "file", last, "bytes", st.Size()-good)
		if err := os.Truncate(last, good); err != nil {
			return false, err
		}
	}
	if head != nil && !v.headFound && (!v.nKnown || head.N > v.n) {
		lastSeq, lastHash := uint64(0), GenesisHash
		if v.started {
			lastSeq, lastHash = v.seq, v.hash
		}
		l.startBreak(Break{LastHash: lastHash, LastSeq: lastSeq, N: max(head.N, v.n),
			Reason: fmt.Sprintf("the log ends at seq %d (checkpoint %d) but %s holds checkpoint %d covering seq %d: the log was cut, or lost its tail in a power loss", lastSeq, v.n, HeadFile, head.N, head.Seq)},
			max(head.Seq, lastSeq)+1)
		return true, nil
	}
	if v.started {
		w.seq, w.hash = v.seq, v.hash
	}
	w.n = v.n
	w.fileSeq = w.seq + 1
	l.written.Store(w.seq)
	w.sinceCP = int(v.report.Unsealed)
	if v.lastKeyID != "" && v.lastKeyID != l.keyID {
		// A new signing key starts a new file, so each file verifies
		// with one key.
		l.log.Warn("audit signing key changed: starting a new file", "old_key_id", v.lastKeyID, "key_id", l.keyID)
	} else {
		f, err := l.opts.OpenFile(last, os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return false, err
		}
		w.f, w.synced = f, good
		w.day = dayOf(last)
	}
	if w.sinceCP > 0 {
		l.log.Warn("audit log: sealing entries left after the last checkpoint", "entries", w.sinceCP)
		l.addCheckpointLocked()
	} else if v.lastCP != nil && (head == nil || v.lastCP.N > head.N) {
		// A crash came between a checkpoint's fsync and the head file:
		// bring the head file (and the witness) up to the log.
		w.durableCPs = append(w.durableCPs, v.lastCP.line())
	}
	return false, nil
}

// breakAt sets aside the damaged file and every file after it, and starts
// the log again after a break entry. v holds the state of the last entry
// that verified.
func (l *Log) breakAt(bad []string, v *verifier, ve *VerifyError, head *Checkpoint) error {
	maxSeq, maxN := highest(bad)
	lastSeq, lastHash := uint64(0), GenesisHash
	if v.started {
		lastSeq, lastHash = v.seq, v.hash
	}
	maxSeq, maxN = max(maxSeq, lastSeq), max(maxN, v.n)
	if head != nil {
		maxSeq, maxN = max(maxSeq, head.Seq), max(maxN, head.N)
	}
	suffix := brokenSuffix + stamp(time.Now())
	names := make([]string, 0, len(bad))
	for _, name := range bad {
		to := name + suffix
		if _, err := os.Lstat(to); err == nil {
			return fmt.Errorf("set aside damaged log file %s: %s exists", name, to)
		}
		if err := os.Rename(name, to); err != nil {
			return fmt.Errorf("set aside damaged log file: %w", err)
		}
		names = append(names, filepath.Base(to))
	}
	syncDir(l.opts.Dir)
	reason := (&VerifyError{File: filepath.Base(ve.File), Line: ve.Line, Offset: ve.Offset, Seq: ve.Seq, Err: ve.Err}).Error()
	l.startBreak(Break{Files: names, LastHash: lastHash, LastSeq: lastSeq, N: maxN, Reason: reason}, maxSeq+1)
	return nil
}

// startBreak begins a new file with break entry b at seq, sealed by a
// checkpoint, and says so.
func (l *Log) startBreak(b Break, seq uint64) {
	w := &l.w
	now := time.Now()
	b.Prev, b.Seq, b.Time, b.Type = b.LastHash, seq, now.UTC().Format(TimeFormat), TypeBreak
	if b.Files == nil {
		b.Files = []string{}
	}
	w.f, w.synced, w.fileSeq, w.n = nil, 0, seq, b.N
	w.seq, w.hash = seq-1, b.LastHash
	l.written.Store(b.LastSeq)
	hash, err := l.appendSealedLocked(&b, mark{seq: seq, kind: kindOther})
	if err != nil { // cannot happen with the types in Break
		l.m.errorsEncode.Inc()
		l.log.Error("audit break entry not encodable", "err", err)
		return
	}
	l.chainedLocked(seq, hash)
	l.addCheckpointLocked()
	l.m.breaks.Inc()
	l.log.Error("audit log damaged: the damaged files are set aside and the log goes on in a new file after a break entry",
		"set_aside", b.Files, "reason", b.Reason, "last_good_seq", b.LastSeq, "break_seq", seq, "dir", l.opts.Dir)
}

// stamp is the UTC time in names of set-aside files.
func stamp(t time.Time) string { return t.UTC().Format("20060102T150405.000Z") }

// syncDir makes renames in dir durable, as far as the filesystem allows.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// line is the checkpoint as a log line, newline included.
func (cp *Checkpoint) line() []byte {
	return appendSeal(cp.canon, `,"sig":"`, cp.Sig)
}

// dayOf reads the UTC day from a log file name, "" when it has none.
func dayOf(name string) string {
	base := filepath.Base(name)
	base = base[:len(base)-len(fileSuffix)]
	for i := len(base) - 1; i >= 0; i-- {
		if base[i] == '-' {
			if len(base)-i-1 == 8 {
				return base[i+1:]
			}
			break
		}
	}
	return ""
}
