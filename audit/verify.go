package audit

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// The ways a log fails verification. A *VerifyError wraps exactly one.
var (
	// ErrMalformed: a line is not a record or checkpoint line at all.
	ErrMalformed = errors.New("malformed entry")
	// ErrTruncated: the log was cut: a last line without its newline, or a
	// log ending before the head checkpoint.
	ErrTruncated = errors.New("log truncated")
	// ErrHash: a record's bytes do not hash to its seal.
	ErrHash = errors.New("record hash mismatch")
	// ErrSequence: a record's seq is not the previous seq plus one (a
	// record deleted, duplicated or moved).
	ErrSequence = errors.New("sequence broken")
	// ErrChain: a record's prev is not the hash of the record before it.
	ErrChain = errors.New("hash chain broken")
	// ErrSignature: a checkpoint's signature does not verify.
	ErrSignature = errors.New("bad checkpoint signature")
	// ErrWrongKey: a checkpoint names a key other than the expected one.
	ErrWrongKey = errors.New("checkpoint signed by another key")
	// ErrReplay: a checkpoint does not cover the record right before it, or
	// is not numbered next: an old checkpoint copied in, or one removed.
	ErrReplay = errors.New("checkpoint out of place")
	// ErrUnsealed: records after the last checkpoint, when the verifier
	// was not told to accept a live or crashed log.
	ErrUnsealed = errors.New("records not covered by a checkpoint")
)

// MaxLineSize is the longest line the verifier reads.
const MaxLineSize = 1 << 20

// VerifyError names the first bad entry of a log.
type VerifyError struct {
	File string
	// Line is 1-based; Offset is the byte offset of the line in File.
	Line   int
	Offset int64
	// Seq is the seq the line claims, 0 when it could not be read.
	Seq uint64
	// Err wraps one of the Err* sentinels with the details.
	Err error
}

func (e *VerifyError) Error() string {
	seq := ""
	if e.Seq != 0 {
		seq = fmt.Sprintf(", seq %d", e.Seq)
	}
	return fmt.Sprintf("%s:%d (offset %d%s): %v", e.File, e.Line, e.Offset, seq, e.Err)
}

func (e *VerifyError) Unwrap() error { return e.Err }

// VerifyOptions tunes VerifyWith.
type VerifyOptions struct {
	// PublicKey checks every checkpoint's key id and signature. Without
	// it, signatures are not checked; only that every checkpoint names the
	// same key.
	PublicKey ed25519.PublicKey
	// AllowUnsealed accepts records after the last checkpoint: a log being
	// written, or one whose writer crashed and has not restarted. Off, such
	// records fail with ErrUnsealed (a tail cut at a line boundary).
	AllowUnsealed bool
	// Head, when set, is the latest checkpoint the log is known to hold
	// (the head file): a log that ends before it was truncated.
	Head *Checkpoint
}

// FileReport summarises one verified file.
type FileReport struct {
	Name                     string
	Records, Checkpoints     uint64
	FirstSeq, LastSeq, Bytes uint64
}

// Report summarises a verified log.
type Report struct {
	Files                []FileReport
	Records, Checkpoints uint64
	// FirstSeq is the first record's seq: 1 for a complete log.
	FirstSeq, LastSeq uint64
	LastHash          string
	// LastCheckpoint is the number of the last checkpoint, which covers
	// LastCheckpointSeq.
	LastCheckpoint, LastCheckpointSeq uint64
	// KeyID is the key the checkpoints were signed with.
	KeyID string
	// Unsealed counts records after the last checkpoint.
	Unsealed uint64
	// SignaturesChecked is true when a public key was given.
	SignaturesChecked bool
	// HeadChecked is true when a head checkpoint was given and found.
	HeadChecked bool
}

// Verify checks that files, in order, form one unbroken log: every record
// hashes to its seal, seqs follow each other, every prev is the hash of the
// record before, every checkpoint is signed by pub, numbered next and covers
// the record right before it, and no record follows the last checkpoint.
// It returns a *VerifyError naming the first bad entry.
func Verify(files []string, pub ed25519.PublicKey) (Report, error) {
	return VerifyWith(files, VerifyOptions{PublicKey: pub})
}

// VerifyWith is Verify with options.
func VerifyWith(files []string, opts VerifyOptions) (Report, error) {
	v := newVerifier(opts)
	if len(files) == 0 {
		return v.report, errors.New("verify: no files")
	}
	for _, name := range files {
		if _, err := v.file(name, false); err != nil {
			return v.report, err
		}
	}
	return v.finish(files[len(files)-1])
}

// Files lists the log files in dir in log order.
func Files(dir string) ([]string, error) {
	names, err := filepath.Glob(filepath.Join(dir, filePrefix+"*"+fileSuffix))
	if err != nil {
		return nil, fmt.Errorf("list log files: %w", err)
	}
	sort.Strings(names) // names start with the zero-padded first seq
	return names, nil
}

// ReadHead reads the head file of a log directory (HeadFile). It returns
// nil, nil when there is none.
func ReadHead(dir string) (*Checkpoint, error) {
	cp, err := ReadCheckpointFile(filepath.Join(dir, HeadFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return cp, err
}

// ReadCheckpointFile reads a file holding one checkpoint line, such as a
// head file kept elsewhere.
func ReadCheckpointFile(path string) (*Checkpoint, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	cp, _, err := parseCheckpoint(bytes.TrimSuffix(data, []byte("\n")))
	if err != nil {
		return nil, fmt.Errorf("read checkpoint %s: %w", path, err)
	}
	return cp, nil
}

type verifier struct {
	opts   VerifyOptions
	keyID  string // expected key id; "" until known when no key given
	report Report
	// started is true once a record or checkpoint fixed seq and hash.
	started bool
	seq     uint64
	hash    string
	nKnown  bool
	n       uint64
	// firstUnsealed locates the first record after the last checkpoint.
	firstUnsealed *VerifyError
	headFound     bool
	lastKeyID     string
	// recover skips key checks: Open reads its own log, whatever key
	// signed the past.
	recover bool
}

func newVerifier(opts VerifyOptions) *verifier {
	v := &verifier{opts: opts}
	if opts.PublicKey != nil {
		v.keyID = KeyID(opts.PublicKey)
		v.report.SignaturesChecked = true
		v.report.KeyID = v.keyID
	}
	return v
}

// file verifies one file. With allowPartial a last line without newline is
// not an error: file returns the size of the complete lines, so Open can cut
// the rest.
func (v *verifier) file(name string, allowPartial bool) (good int64, err error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, fmt.Errorf("verify: %w", err)
	}
	defer f.Close()
	fr := FileReport{Name: name}
	br := bufio.NewReaderSize(f, 64<<10)
	var off int64
	for lineNo := 1; ; lineNo++ {
		line, err := readLine(br)
		if err == io.EOF && len(line) == 0 {
			break
		}
		fail := func(seq uint64, e error) error {
			return &VerifyError{File: name, Line: lineNo, Offset: off, Seq: seq, Err: e}
		}
		if err == io.EOF { // bytes after the last newline
			if allowPartial {
				break
			}
			return off, fail(0, fmt.Errorf("%w: last line has no newline (%d bytes)", ErrTruncated, len(line)))
		}
		if err != nil {
			return off, fail(0, fmt.Errorf("%w: %w", ErrMalformed, err))
		}
		body := line[:len(line)-1]
		seq, isRecord, err := v.entry(body)
		if err != nil {
			return off, fail(seq, err)
		}
		if isRecord {
			if fr.Records == 0 {
				fr.FirstSeq = seq
			}
			fr.Records++
			fr.LastSeq = seq
			if v.firstUnsealed == nil {
				v.firstUnsealed = &VerifyError{File: name, Line: lineNo, Offset: off, Seq: seq}
			}
		} else {
			fr.Checkpoints++
			v.firstUnsealed = nil
		}
		off += int64(len(line))
	}
	fr.Bytes = uint64(off)
	v.report.Files = append(v.report.Files, fr)
	return off, nil
}

// readLine returns one line with its newline; at the end of the input, the
// bytes left without a newline and io.EOF.
func readLine(br *bufio.Reader) ([]byte, error) {
	var long []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long = append(long, chunk...)
			if len(long) > MaxLineSize {
				return nil, fmt.Errorf("line longer than %d bytes", MaxLineSize)
			}
			continue
		}
		if long != nil {
			chunk = append(long, chunk...)
		}
		if err != nil {
			return chunk, err
		}
		return chunk, nil
	}
}

// entry checks one line (without newline) against the state and advances
// it. It returns the line's seq and whether it is a record.
func (v *verifier) entry(line []byte) (uint64, bool, error) {
	typ, err := entryType(line)
	if err != nil {
		return 0, false, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if typ == TypeRecord {
		seq, err := v.record(line)
		return seq, true, err
	}
	seq, err := v.checkpoint(line)
	return seq, false, err
}

func (v *verifier) record(line []byte) (uint64, error) {
	canon, seal, err := splitSeal(line, "hash", 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	var rec struct {
		Seq  uint64 `json:"seq"`
		Prev string `json:"prev"`
	}
	if err := json.Unmarshal(canon, &rec); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	sum := sha256.Sum256(canon)
	if got := hex.EncodeToString(sum[:]); got != seal {
		return rec.Seq, fmt.Errorf("%w: contents hash to %s, seal says %s", ErrHash, got[:16], seal[:16])
	}
	if rec.Seq == 0 {
		return 0, fmt.Errorf("%w: seq 0", ErrMalformed)
	}
	switch {
	case v.started:
		if rec.Seq != v.seq+1 {
			return rec.Seq, fmt.Errorf("%w: seq %d follows seq %d, want %d", ErrSequence, rec.Seq, v.seq, v.seq+1)
		}
		if rec.Prev != v.hash {
			return rec.Seq, fmt.Errorf("%w: prev %.16s is not the hash of seq %d (%.16s)", ErrChain, rec.Prev, v.seq, v.hash)
		}
	case rec.Seq == 1 && rec.Prev != GenesisHash:
		return rec.Seq, fmt.Errorf("%w: first record's prev is %.16s, not the genesis hash", ErrChain, rec.Prev)
	}
	if !v.started {
		v.report.FirstSeq = rec.Seq
	}
	v.started = true
	v.seq, v.hash = rec.Seq, seal
	v.report.Records++
	v.report.LastSeq, v.report.LastHash = rec.Seq, seal
	v.report.Unsealed++
	return rec.Seq, nil
}

// parseCheckpoint splits and decodes a checkpoint line, returning it and
// its canonical bytes.
func parseCheckpoint(line []byte) (*Checkpoint, []byte, error) {
	canon, sig, err := splitSeal(line, "sig", 2*ed25519.SignatureSize)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	var cp Checkpoint
	if err := json.Unmarshal(canon, &cp); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if cp.Type != TypeCheckpoint {
		return nil, nil, fmt.Errorf("%w: type %q", ErrMalformed, cp.Type)
	}
	if _, err := time.Parse(TimeFormat, cp.Time); err != nil {
		return nil, nil, fmt.Errorf("%w: checkpoint time: %w", ErrMalformed, err)
	}
	if len(cp.Hash) != 64 || cp.N == 0 {
		return nil, nil, fmt.Errorf("%w: checkpoint without hash or number", ErrMalformed)
	}
	cp.Sig = sig
	cp.canon = canon
	return &cp, canon, nil
}

// checkSignature verifies cp against pub.
func checkSignature(cp *Checkpoint, canon []byte, pub ed25519.PublicKey) error {
	if cp.KeyID != KeyID(pub) {
		return fmt.Errorf("%w: key %s, want %s", ErrWrongKey, cp.KeyID, KeyID(pub))
	}
	sig, _ := hex.DecodeString(cp.Sig) // splitSeal checked it is hex
	if !ed25519.Verify(pub, signedBytes(canon), sig) {
		return fmt.Errorf("%w: checkpoint %d (key %s)", ErrSignature, cp.N, cp.KeyID)
	}
	return nil
}

func (v *verifier) checkpoint(line []byte) (uint64, error) {
	cp, canon, err := parseCheckpoint(line)
	if err != nil {
		return 0, err
	}
	if !v.recover {
		if v.opts.PublicKey != nil {
			if err := checkSignature(cp, canon, v.opts.PublicKey); err != nil {
				return cp.Seq, err
			}
		} else if v.keyID == "" {
			v.keyID = cp.KeyID
			v.report.KeyID = cp.KeyID
		} else if cp.KeyID != v.keyID {
			return cp.Seq, fmt.Errorf("%w: key %s after checkpoints signed by %s", ErrWrongKey, cp.KeyID, v.keyID)
		}
	}
	if v.nKnown && cp.N != v.n+1 {
		return cp.Seq, fmt.Errorf("%w: checkpoint %d follows checkpoint %d", ErrReplay, cp.N, v.n)
	}
	if v.started && (cp.Seq != v.seq || cp.Hash != v.hash) {
		return cp.Seq, fmt.Errorf("%w: checkpoint %d covers seq %d but the last record is seq %d", ErrReplay, cp.N, cp.Seq, v.seq)
	}
	if !v.started {
		// A log read from its middle may start with a checkpoint: it
		// anchors what follows.
		v.started = true
		v.seq, v.hash = cp.Seq, cp.Hash
		v.report.FirstSeq = cp.Seq + 1
		v.report.LastSeq, v.report.LastHash = cp.Seq, cp.Hash
	}
	if h := v.opts.Head; h != nil && cp.N == h.N {
		if cp.Seq != h.Seq || cp.Hash != h.Hash || cp.Sig != h.Sig {
			return cp.Seq, fmt.Errorf("%w: checkpoint %d differs from the head file's", ErrReplay, cp.N)
		}
		v.headFound = true
	}
	v.nKnown, v.n = true, cp.N
	v.lastKeyID = cp.KeyID
	v.report.Checkpoints++
	v.report.LastCheckpoint, v.report.LastCheckpointSeq = cp.N, cp.Seq
	v.report.Unsealed = 0
	return cp.Seq, nil
}

// finish runs the end-of-log checks.
func (v *verifier) finish(last string) (Report, error) {
	if v.firstUnsealed != nil && !v.opts.AllowUnsealed {
		e := v.firstUnsealed
		e.Err = fmt.Errorf("%w: %d records from seq %d on (log cut at a line boundary, or its writer is running or crashed)", ErrUnsealed, v.report.Unsealed, e.Seq)
		return v.report, e
	}
	if h := v.opts.Head; h != nil {
		if v.opts.PublicKey != nil {
			canon := h.canon
			if canon == nil {
				var err error
				if canon, err = json.Marshal(h); err != nil {
					return v.report, fmt.Errorf("verify head: %w", err)
				}
			}
			if err := checkSignature(h, canon, v.opts.PublicKey); err != nil {
				return v.report, fmt.Errorf("verify head: %w", err)
			}
		}
		if !v.headFound && (!v.nKnown || h.N > v.n) {
			return v.report, &VerifyError{File: last, Line: 0, Offset: 0, Seq: v.report.LastSeq,
				Err: fmt.Errorf("%w: the log ends at seq %d, the head checkpoint %d covers seq %d", ErrTruncated, v.report.LastSeq, h.N, h.Seq)}
		}
		v.report.HeadChecked = v.headFound
	}
	return v.report, nil
}

// String is a one-line summary of the report for people.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d files, %d records (seq %d..%d), %d checkpoints", len(r.Files), r.Records, r.FirstSeq, r.LastSeq, r.Checkpoints)
	if r.SignaturesChecked {
		fmt.Fprintf(&b, ", signatures by key %s verified", r.KeyID)
	} else {
		fmt.Fprintf(&b, ", signatures NOT checked (no public key)")
	}
	if r.HeadChecked {
		fmt.Fprintf(&b, ", head checkpoint %d found", r.LastCheckpoint)
	}
	if r.Unsealed > 0 {
		fmt.Fprintf(&b, ", %d records after the last checkpoint", r.Unsealed)
	}
	return b.String()
}

// Scan calls fn with every record of files, in order, without verifying
// them (run Verify for that). Checkpoint lines are skipped. It stops at the
// first line it cannot read, or when fn returns an error.
func Scan(files []string, fn func(Record) error) error {
	for _, name := range files {
		if err := scanFile(name, fn); err != nil {
			return err
		}
	}
	return nil
}

func scanFile(name string, fn func(Record) error) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("scan: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	for lineNo := 1; ; lineNo++ {
		line, err := readLine(br)
		if err == io.EOF {
			return nil // a partial last line is not a record yet
		}
		if err != nil {
			return fmt.Errorf("scan %s:%d: %w", name, lineNo, err)
		}
		body := line[:len(line)-1]
		typ, err := entryType(body)
		if err != nil {
			return fmt.Errorf("scan %s:%d: %w: %w", name, lineNo, ErrMalformed, err)
		}
		if typ != TypeRecord {
			continue
		}
		canon, _, err := splitSeal(body, "hash", 64)
		if err != nil {
			return fmt.Errorf("scan %s:%d: %w: %w", name, lineNo, ErrMalformed, err)
		}
		var rec Record
		if err := json.Unmarshal(canon, &rec); err != nil {
			return fmt.Errorf("scan %s:%d: %w: %w", name, lineNo, ErrMalformed, err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}
