package audit

import (
	"bufio"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The ways a log fails verification. A *VerifyError wraps exactly one.
var (
	// ErrMalformed: a line is not an entry of the log at all.
	ErrMalformed = errors.New("malformed entry")
	// ErrTruncated: the log was cut: a last line without its newline, a
	// log ending before the head checkpoint or before a checkpoint the
	// witness holds.
	ErrTruncated = errors.New("log truncated")
	// ErrMissingStart: the log does not start at its first record: seq 1
	// (or right after the After checkpoint), or a file does not start at
	// the seq its name states. The head of the log, or of a file, was cut.
	ErrMissingStart = errors.New("log start missing")
	// ErrHash: an entry's bytes do not hash to its seal.
	ErrHash = errors.New("record hash mismatch")
	// ErrSequence: an entry's seq is not the previous seq plus one (an
	// entry deleted, duplicated or moved, a file removed or renamed).
	ErrSequence = errors.New("sequence broken")
	// ErrChain: an entry's prev is not the hash of the entry before it.
	ErrChain = errors.New("hash chain broken")
	// ErrSignature: a checkpoint's signature does not verify.
	ErrSignature = errors.New("bad checkpoint signature")
	// ErrWrongKey: a checkpoint names a key other than the expected one.
	ErrWrongKey = errors.New("checkpoint signed by another key")
	// ErrReplay: a checkpoint does not cover the entry right before it, is
	// not numbered next, or differs from the copy in the head file or at
	// the witness: an old checkpoint copied in, one removed, or the log
	// rewritten. A head file older than the log's last checkpoint (rolled
	// back) is one too.
	ErrReplay = errors.New("checkpoint out of place")
	// ErrUnsealed: entries after the last checkpoint, when the verifier
	// was not told to accept a live or crashed log.
	ErrUnsealed = errors.New("records not covered by a checkpoint")
	// ErrBreak: the writer found the log damaged, set the damaged files
	// aside and continued after a break entry. Verification goes on past
	// a break; the report lists every one.
	ErrBreak = errors.New("log broken")
)

// MaxLineSize is the longest line the verifier reads.
const MaxLineSize = 1 << 20

// VerifyError names the first bad entry of a log.
type VerifyError struct {
	File string
	// Line is 1-based; Offset is the byte offset of the line in File.
	// Line 0 stands for the file (or the log) as a whole.
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
	// AllowUnsealed accepts entries after the last checkpoint, and a head
	// file behind the log's last checkpoint: a log being written, or one
	// whose writer crashed and has not restarted. Off, such entries fail
	// with ErrUnsealed (a tail cut at a line boundary).
	AllowUnsealed bool
	// Head, when set, is the latest checkpoint the log is known to hold
	// (the head file): a log that ends before it was truncated, and a
	// sealed log whose last checkpoint is newer was given an old head.
	Head *Checkpoint
	// After is the checkpoint the files continue from when the files
	// before them were archived (or are verified separately): the first
	// entry must be seq After.Seq+1 linking to After.Hash, the first
	// checkpoint number After.N+1. Nil: the log must start at seq 1.
	After *Checkpoint
	// Witness holds the checkpoints an off-box witness received (see
	// ReadWitness): each must be in the log, byte for byte the same, and
	// the log must reach the newest.
	Witness []*Checkpoint
}

// FileReport summarises one verified file.
type FileReport struct {
	Name                     string
	Records, Checkpoints     uint64
	FirstSeq, LastSeq, Bytes uint64
	// SetAside marks a file a break set aside, read only up to the last
	// entry that verified.
	SetAside bool
}

// BreakReport is one break entry found in the log.
type BreakReport struct {
	File  string
	Line  int
	Break Break
	// Missing lists set-aside files that are no longer in the directory:
	// the entries before the break they held could not be verified.
	Missing []string
}

func (b BreakReport) String() string {
	s := fmt.Sprintf("%s:%d: break at seq %d after seq %d (%.16s): set aside %s: %s",
		b.File, b.Line, b.Break.Seq, b.Break.LastSeq, b.Break.LastHash, strings.Join(b.Break.Files, ", "), b.Break.Reason)
	if len(b.Break.Files) == 0 {
		s = fmt.Sprintf("%s:%d: break at seq %d after seq %d (%.16s): %s",
			b.File, b.Line, b.Break.Seq, b.Break.LastSeq, b.Break.LastHash, b.Break.Reason)
	}
	if len(b.Missing) > 0 {
		s += fmt.Sprintf(" (MISSING: %s)", strings.Join(b.Missing, ", "))
	}
	return s
}

// Report summarises a verified log.
type Report struct {
	Files []FileReport
	// Records counts decision records; gaps and breaks are counted apart.
	Records, Checkpoints uint64
	// FirstSeq is the first entry's seq: 1 for a complete log.
	FirstSeq, LastSeq uint64
	LastHash          string
	// LastCheckpoint is the number of the last checkpoint, which covers
	// LastCheckpointSeq.
	LastCheckpoint, LastCheckpointSeq uint64
	// KeyID is the key the checkpoints were signed with.
	KeyID string
	// Unsealed counts entries after the last checkpoint.
	Unsealed uint64
	// SignaturesChecked is true when a public key was given.
	SignaturesChecked bool
	// HeadChecked is true when a head checkpoint was given and found.
	HeadChecked bool
	// After is the seq of the After checkpoint the log continued from, 0
	// when it was checked from seq 1.
	After uint64
	// Gaps counts gap entries; Dropped sums the decisions they stand for.
	Gaps    int
	Dropped uint64
	// Breaks lists the break entries, in log order.
	Breaks []BreakReport
	// WitnessChecked counts the witness's checkpoints found in the log.
	WitnessChecked int
}

// Verify checks that files, in order, form one unbroken log from seq 1:
// every entry hashes to its seal, seqs follow each other, every prev is
// the hash of the entry before, every checkpoint is signed by pub,
// numbered next and covers the entry right before it, and nothing follows
// the last checkpoint. It returns a *VerifyError naming the first bad
// entry.
func Verify(files []string, pub ed25519.PublicKey) (Report, error) {
	return VerifyWith(files, VerifyOptions{PublicKey: pub})
}

// VerifyWith is Verify with options. A break entry does not stop it: it
// verifies the set-aside files up to the last entry that was good, then
// everything after the break, and returns a *VerifyError wrapping
// ErrBreak for the first break when nothing else is wrong.
func VerifyWith(files []string, opts VerifyOptions) (Report, error) {
	v := newVerifier(opts)
	if len(files) == 0 {
		return v.report, errors.New("verify: no files")
	}
	if err := v.anchor(); err != nil {
		return v.report, err
	}
	for _, name := range files {
		if _, err := v.file(name, false); err != nil {
			return v.report, err
		}
	}
	return v.finish(files[len(files)-1])
}

// VerifyDir verifies the log in dir: its files (Files) in order and, when
// opts.Head is nil, against its head file when there is one.
func VerifyDir(dir string, opts VerifyOptions) (Report, error) {
	files, err := Files(dir)
	if err != nil {
		return Report{}, err
	}
	if len(files) == 0 {
		return Report{}, fmt.Errorf("verify: no %s*%s files in %s", filePrefix, fileSuffix, dir)
	}
	if opts.Head == nil {
		if opts.Head, err = ReadHead(dir); err != nil {
			return Report{}, fmt.Errorf("verify: %w", err)
		}
	}
	return VerifyWith(files, opts)
}

type verifier struct {
	opts   VerifyOptions
	keyID  string // expected key id; "" until known when no key given
	report Report
	// started is true once an entry or the After checkpoint fixed seq
	// and hash.
	started bool
	seq     uint64
	hash    string
	nKnown  bool
	n       uint64
	// firstUnsealed locates the first entry after the last checkpoint.
	firstUnsealed *VerifyError
	headFound     bool
	lastKeyID     string
	lastCP        *Checkpoint // the last checkpoint read
	// recover reads a log the way Open does: no key checks, and the
	// first entry read anchors the chain wherever it starts.
	recover bool
	// stopAt, when not 0, ends the file being read once the entry with
	// that seq has verified (a set-aside file read up to its last good
	// entry); stopped says it did.
	stopAt  uint64
	stopped bool
	// firstBreak is the error returned for the first break when nothing
	// else is wrong.
	firstBreak *VerifyError
	witness    map[uint64]*Checkpoint
	// skipped are checkpoint number ranges (lo, hi] issued in set-aside
	// files: a witness copy of one is not looked for.
	skipped [][2]uint64
	afterN  uint64
}

func newVerifier(opts VerifyOptions) *verifier {
	v := &verifier{opts: opts, hash: GenesisHash, nKnown: true}
	if opts.PublicKey != nil {
		v.keyID = KeyID(opts.PublicKey)
		v.report.SignaturesChecked = true
		v.report.KeyID = v.keyID
	}
	if len(opts.Witness) > 0 {
		v.witness = make(map[uint64]*Checkpoint, len(opts.Witness))
	}
	return v
}

// newRecoverVerifier reads the newest files of a log as Open does.
func newRecoverVerifier(head *Checkpoint) *verifier {
	v := newVerifier(VerifyOptions{AllowUnsealed: true, Head: head})
	v.recover, v.nKnown = true, false
	return v
}

// anchor checks the After and witness checkpoints and sets the state the
// log must continue from.
func (v *verifier) anchor() error {
	for _, w := range v.opts.Witness {
		if v.opts.PublicKey != nil {
			if err := checkSignature(w, w.canon, v.opts.PublicKey); err != nil {
				return fmt.Errorf("verify witness checkpoint %d: %w", w.N, err)
			}
		}
		if old, ok := v.witness[w.N]; ok && (old.Seq != w.Seq || old.Hash != w.Hash || old.Sig != w.Sig) {
			return fmt.Errorf("verify witness: %w: the witness holds two different checkpoints %d (seq %d and %d)", ErrReplay, w.N, old.Seq, w.Seq)
		}
		v.witness[w.N] = w
	}
	a := v.opts.After
	if a == nil {
		return nil
	}
	// The After checkpoint's signature is checked when it is signed by
	// the given key; one signed by an older key (the log's key changed)
	// is taken as given, like the file it was read from.
	if v.opts.PublicKey != nil && a.KeyID == v.keyID {
		if err := checkSignature(a, a.canon, v.opts.PublicKey); err != nil {
			return fmt.Errorf("verify after: %w", err)
		}
	}
	v.started = true
	v.seq, v.hash, v.n, v.afterN = a.Seq, a.Hash, a.N, a.N
	v.report.After = a.Seq
	v.report.FirstSeq = a.Seq + 1
	v.report.LastSeq, v.report.LastHash = a.Seq, a.Hash
	return nil
}

// file verifies one file. With allowPartial a last line without newline is
// not an error: file returns the size of the complete lines, so Open can
// cut the rest.
func (v *verifier) file(name string, allowPartial bool) (good int64, err error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, fmt.Errorf("verify: %w", err)
	}
	defer f.Close()
	fr := FileReport{Name: name, SetAside: v.stopAt != 0}
	nameSeq, named := seqOfName(name)
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
		loc := &VerifyError{File: name, Line: lineNo, Offset: off}
		e, err := v.entry(body, loc, named && lineNo == 1, nameSeq)
		if err != nil {
			return off, fail(e.seq, err)
		}
		switch e.typ {
		case TypeCheckpoint:
			fr.Checkpoints++
			v.firstUnsealed = nil
		default:
			if fr.Records == 0 && fr.FirstSeq == 0 {
				fr.FirstSeq = e.seq
			}
			if e.typ == TypeRecord {
				fr.Records++
			}
			fr.LastSeq = e.seq
			if v.firstUnsealed == nil {
				v.firstUnsealed = &VerifyError{File: name, Line: lineNo, Offset: off, Seq: e.seq}
			}
		}
		off += int64(len(line))
		if v.stopAt != 0 && e.typ != TypeCheckpoint && e.seq == v.stopAt {
			v.stopped = true
			break
		}
	}
	fr.Bytes = uint64(off)
	v.report.Files = append(v.report.Files, fr)
	return off, nil
}

// seqOfName reads the first seq from a log file name
// (audit-SEQ-DAY.jsonl); ok is false for a file named otherwise.
func seqOfName(name string) (uint64, bool) {
	base := filepath.Base(name)
	if !strings.HasPrefix(base, filePrefix) || !strings.HasSuffix(base, fileSuffix) {
		return 0, false
	}
	digits, _, _ := strings.Cut(strings.TrimPrefix(base, filePrefix), "-")
	if len(digits) != 12 {
		return 0, false
	}
	var seq uint64
	for _, c := range []byte(digits) {
		if c < '0' || c > '9' {
			return 0, false
		}
		seq = seq*10 + uint64(c-'0')
	}
	return seq, seq > 0
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

// seen is what one verified line was.
type seen struct {
	typ string
	seq uint64
}

// entry checks one line (without newline) against the state and advances
// it. first is true for the first line of a file whose name states its
// first seq, nameSeq.
func (v *verifier) entry(line []byte, loc *VerifyError, first bool, nameSeq uint64) (seen, error) {
	typ, err := entryType(line)
	if err != nil {
		return seen{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if typ == TypeCheckpoint {
		cp, err := v.checkpoint(line, first, nameSeq)
		return seen{typ, cp}, err
	}
	c, err := splitChain(line)
	if err != nil {
		return seen{typ, c.seq}, err
	}
	s := seen{typ, c.seq}
	// A file's name states its first seq. Checked before the chain at the
	// start of a log (a cut head shows as such), after it in the middle
	// (a reordered or missing entry shows as a sequence error first).
	named := first && c.seq != nameSeq
	if named && (!v.started || typ == TypeBreak) {
		return s, misnamed(nameSeq, c.seq)
	}
	if typ == TypeBreak {
		return s, v.brk(line, c, loc)
	}
	if err := v.link(c); err != nil {
		return s, err
	}
	if named {
		return s, misnamed(nameSeq, c.seq)
	}
	if typ == TypeRecord {
		v.report.Records++
	} else {
		var g Gap
		if err := json.Unmarshal(c.canon, &g); err != nil {
			return s, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		v.report.Gaps++
		v.report.Dropped += g.Dropped
	}
	return s, nil
}

func misnamed(nameSeq, seq uint64) error {
	if seq > nameSeq {
		return fmt.Errorf("%w: the file's name says it starts at seq %d, its first entry is seq %d: seq %d..%d are gone from its head", ErrMissingStart, nameSeq, seq, nameSeq, seq-1)
	}
	return fmt.Errorf("%w: the file's name says it starts at seq %d, its first entry is seq %d (renamed?)", ErrSequence, nameSeq, seq)
}

// chainEntry is a record, gap or break line split into its parts.
type chainEntry struct {
	canon []byte
	seal  string
	seq   uint64
	prev  string
}

func splitChain(line []byte) (chainEntry, error) {
	canon, seal, err := splitSeal(line, "hash", 64)
	if err != nil {
		return chainEntry{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	var e struct {
		Seq  uint64 `json:"seq"`
		Prev string `json:"prev"`
	}
	if err := json.Unmarshal(canon, &e); err != nil {
		return chainEntry{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	c := chainEntry{canon: canon, seal: seal, seq: e.Seq, prev: e.Prev}
	sum := sha256.Sum256(canon)
	if got := hex.EncodeToString(sum[:]); got != seal {
		return c, fmt.Errorf("%w: contents hash to %s, seal says %s", ErrHash, got[:16], seal[:16])
	}
	if e.Seq == 0 {
		return c, fmt.Errorf("%w: seq 0", ErrMalformed)
	}
	return c, nil
}

// link checks that a record or gap follows the state, and advances it.
func (v *verifier) link(c chainEntry) error {
	switch {
	case v.started:
		if c.seq != v.seq+1 {
			return fmt.Errorf("%w: seq %d follows seq %d, want %d", ErrSequence, c.seq, v.seq, v.seq+1)
		}
		if c.prev != v.hash {
			return fmt.Errorf("%w: prev %.16s is not the hash of seq %d (%.16s)", ErrChain, c.prev, v.seq, v.hash)
		}
	case c.seq == 1 && c.prev != GenesisHash:
		return fmt.Errorf("%w: first record's prev is %.16s, not the genesis hash", ErrChain, c.prev)
	case c.seq != 1 && !v.recover:
		return fmt.Errorf("%w: the log starts at seq %d, not 1: the entries before it are missing (verify with the files before it, or say where it continues from with After / --after)", ErrMissingStart, c.seq)
	}
	if !v.started {
		v.report.FirstSeq = c.seq
	}
	v.started = true
	v.seq, v.hash = c.seq, c.seal
	v.report.LastSeq, v.report.LastHash = c.seq, c.seal
	v.report.Unsealed++
	return nil
}

// brk handles a break entry: the entries before it that verified are in
// the set-aside files (read up to the break's last good entry), and the
// chain goes on from the break itself.
func (v *verifier) brk(line []byte, c chainEntry, loc *VerifyError) error {
	var b Break
	if err := json.Unmarshal(c.canon, &b); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if b.Prev != b.LastHash || b.Seq <= b.LastSeq || (b.LastSeq == 0) != (b.LastHash == GenesisHash) {
		return fmt.Errorf("%w: break entry whose prev, last_seq and last_hash disagree", ErrMalformed)
	}
	br := BreakReport{File: loc.File, Line: loc.Line, Break: b}
	if !v.recover {
		missing, err := v.setAside(filepath.Dir(loc.File), b)
		if err != nil {
			return err
		}
		br.Missing = missing
	}
	// The break links to the last good entry.
	switch {
	case v.recover && !v.started:
	case !v.started && b.LastSeq == 0:
	case v.started && v.seq == b.LastSeq && v.hash == b.LastHash:
	default:
		return fmt.Errorf("%w: the break follows seq %d (%.16s), the log before it ends at seq %d (%.16s)", ErrChain, b.LastSeq, b.LastHash, v.seq, v.hash)
	}
	if b.N < v.n {
		return fmt.Errorf("%w: the break says checkpoints went up to %d, the log before it has %d", ErrReplay, b.N, v.n)
	}
	if !v.started {
		v.report.FirstSeq = b.Seq
	}
	v.skipped = append(v.skipped, [2]uint64{v.n, b.N})
	v.started, v.nKnown = true, true
	v.seq, v.hash, v.n = b.Seq, c.seal, b.N
	v.report.LastSeq, v.report.LastHash = b.Seq, c.seal
	v.report.Unsealed++
	v.report.Breaks = append(v.report.Breaks, br)
	if v.firstBreak == nil {
		e := *loc
		e.Seq = b.Seq
		e.Err = fmt.Errorf("%w: %s", ErrBreak, br)
		v.firstBreak = &e
	}
	return nil
}

// setAside verifies the set-aside files of break b from the current
// state up to the break's last good entry. Files no longer there are
// returned: what they held cannot be verified, and the chain goes on
// from the break as it states.
func (v *verifier) setAside(dir string, b Break) (missing []string, err error) {
	if (v.started && v.seq >= b.LastSeq) || (!v.started && b.LastSeq == 0) {
		return nil, nil
	}
	saved := v.stopAt
	v.stopAt, v.stopped = b.LastSeq, false
	defer func() { v.stopAt = saved }()
	for _, name := range b.Files {
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); err != nil {
			missing = append(missing, name)
			continue
		}
		if len(missing) > 0 {
			continue // cannot follow the chain past a missing file
		}
		if _, err := v.file(path, true); err != nil {
			return nil, err
		}
		if v.stopped {
			break
		}
	}
	if len(missing) == 0 && !v.stopped {
		return nil, &VerifyError{File: filepath.Join(dir, b.Files[len(b.Files)-1]), Seq: v.seq,
			Err: fmt.Errorf("%w: the set-aside files end at seq %d, the break says seq %d verified", ErrTruncated, v.seq, b.LastSeq)}
	}
	if len(missing) > 0 {
		// Take the break's word for where the chain stood.
		v.started = true
		v.seq, v.hash = b.LastSeq, b.LastHash
	}
	return missing, nil
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
	if canon == nil {
		var err error
		if canon, err = json.Marshal(cp); err != nil {
			return fmt.Errorf("%w: %w", ErrMalformed, err)
		}
	}
	sig, _ := hex.DecodeString(cp.Sig) // splitSeal checked it is hex
	if !ed25519.Verify(pub, signedBytes(canon), sig) {
		return fmt.Errorf("%w: checkpoint %d (key %s)", ErrSignature, cp.N, cp.KeyID)
	}
	return nil
}

func (v *verifier) checkpoint(line []byte, first bool, nameSeq uint64) (uint64, error) {
	cp, canon, err := parseCheckpoint(line)
	if err != nil {
		return 0, err
	}
	if first && cp.Seq+1 != nameSeq {
		return cp.Seq, misnamed(nameSeq, cp.Seq+1)
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
	switch {
	case v.started && (cp.Seq != v.seq || cp.Hash != v.hash):
		return cp.Seq, fmt.Errorf("%w: checkpoint %d covers seq %d but the last entry is seq %d", ErrReplay, cp.N, cp.Seq, v.seq)
	case !v.started && !v.recover:
		return cp.Seq, fmt.Errorf("%w: the log starts with checkpoint %d (seq %d): the entries it covers are missing", ErrMissingStart, cp.N, cp.Seq)
	case !v.started:
		// Open reading its newest files: a checkpoint anchors what
		// follows.
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
	if w, ok := v.witness[cp.N]; ok {
		if cp.Seq != w.Seq || cp.Hash != w.Hash || cp.Sig != w.Sig {
			return cp.Seq, fmt.Errorf("%w: checkpoint %d (seq %d, %.16s) differs from the witness's copy (seq %d, %.16s): the log was rewritten", ErrReplay, cp.N, cp.Seq, cp.Hash, w.Seq, w.Hash)
		}
		v.report.WitnessChecked++
		delete(v.witness, cp.N)
	}
	v.nKnown, v.n = true, cp.N
	v.lastKeyID = cp.KeyID
	v.lastCP = cp
	v.report.Checkpoints++
	v.report.LastCheckpoint, v.report.LastCheckpointSeq = cp.N, cp.Seq
	v.report.Unsealed = 0
	return cp.Seq, nil
}

// finish runs the end-of-log checks.
func (v *verifier) finish(last string) (Report, error) {
	if v.firstUnsealed != nil && !v.opts.AllowUnsealed {
		e := v.firstUnsealed
		e.Err = fmt.Errorf("%w: %d entries from seq %d on (log cut at a line boundary, or its writer is running or crashed)", ErrUnsealed, v.report.Unsealed, e.Seq)
		return v.report, e
	}
	atEnd := func(err error) error {
		return &VerifyError{File: last, Seq: v.report.LastSeq, Err: err}
	}
	if h := v.opts.Head; h != nil {
		if v.opts.PublicKey != nil {
			if err := checkSignature(h, h.canon, v.opts.PublicKey); err != nil {
				return v.report, fmt.Errorf("verify head: %w", err)
			}
		}
		switch {
		case !v.headFound && (!v.nKnown || h.N > v.n):
			return v.report, atEnd(fmt.Errorf("%w: the log ends at seq %d, the head checkpoint %d covers seq %d", ErrTruncated, v.report.LastSeq, h.N, h.Seq))
		case h.N < v.n && !v.opts.AllowUnsealed && !v.skippedN(h.N):
			return v.report, atEnd(fmt.Errorf("%w: the head file holds checkpoint %d, the log goes on to checkpoint %d: an old head file (rolled back)", ErrReplay, h.N, v.n))
		}
		v.report.HeadChecked = v.headFound
	}
	for _, w := range v.opts.Witness {
		if _, left := v.witness[w.N]; !left || w.N <= v.afterN || v.skippedN(w.N) {
			continue
		}
		if w.N > v.n {
			return v.report, atEnd(fmt.Errorf("%w: the witness holds checkpoint %d (seq %d), the log ends at checkpoint %d (seq %d)", ErrTruncated, w.N, w.Seq, v.n, v.report.LastSeq))
		}
	}
	if v.firstBreak != nil {
		return v.report, v.firstBreak
	}
	return v.report, nil
}

// skippedN reports whether checkpoint n was issued in a part of the log a
// break set aside.
func (v *verifier) skippedN(n uint64) bool {
	for _, r := range v.skipped {
		if n > r[0] && n <= r[1] {
			return true
		}
	}
	return false
}

// String is a one-line summary of the report for people.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d files, %d records (seq %d..%d), %d checkpoints", len(r.Files), r.Records, r.FirstSeq, r.LastSeq, r.Checkpoints)
	if r.After > 0 {
		fmt.Fprintf(&b, ", continuing from seq %d", r.After)
	}
	if r.SignaturesChecked {
		fmt.Fprintf(&b, ", signatures by key %s verified", r.KeyID)
	} else {
		fmt.Fprintf(&b, ", signatures NOT checked (no public key)")
	}
	if r.HeadChecked {
		fmt.Fprintf(&b, ", head checkpoint %d found", r.LastCheckpoint)
	}
	if r.WitnessChecked > 0 {
		fmt.Fprintf(&b, ", %d witness checkpoints found", r.WitnessChecked)
	}
	if r.Unsealed > 0 {
		fmt.Fprintf(&b, ", %d records after the last checkpoint", r.Unsealed)
	}
	if r.Gaps > 0 {
		fmt.Fprintf(&b, ", %d gaps (%d decisions not logged)", r.Gaps, r.Dropped)
	}
	if len(r.Breaks) > 0 {
		fmt.Fprintf(&b, ", %d breaks", len(r.Breaks))
	}
	return b.String()
}
