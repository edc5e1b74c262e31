package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/callscreen/callscreen/decision"
)

// The entry types: the value of the "type" key of every line.
const (
	TypeRecord     = "record"
	TypeCheckpoint = "checkpoint"
	// TypeGap says how many decisions the log dropped (memory bound
	// reached while the disk failed) where they would have been.
	TypeGap = "gap"
	// TypeBreak starts the file the log continued in after Open found
	// its newest files damaged and set them aside.
	TypeBreak = "break"
)

// GenesisHash is the prev of the first record of a log: 64 zeros.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// TimeFormat is how times are written: RFC 3339 in UTC with nanoseconds.
const TimeFormat = time.RFC3339Nano

// Record is one decision as the log stores it.
//
// Its fields are declared in the alphabetical order of their JSON keys, so
// encoding/json writes the keys sorted; TestRecordKeysSorted keeps it so.
// Durations are whole microseconds.
type Record struct {
	Action        string   `json:"action"`
	Attestation   string   `json:"attestation,omitempty"`
	Caller        string   `json:"caller"`
	CallerName    string   `json:"caller_name,omitempty"`
	CallerRaw     string   `json:"caller_raw,omitempty"`
	Challenge     string   `json:"challenge"`
	Channel       string   `json:"channel,omitempty"`
	ConfigVersion string   `json:"config_version"`
	Dialed        string   `json:"dialed"`
	DurationUS    int64    `json:"duration_us"`
	Error         string   `json:"error,omitempty"`
	Held          string   `json:"held,omitempty"`
	ID            string   `json:"id"`
	LatencyUS     int64    `json:"latency_us"`
	Mode          string   `json:"mode"`
	Prev          string   `json:"prev"`
	Profile       string   `json:"profile"`
	Reasons       []string `json:"reasons"`
	Result        string   `json:"result"`
	Score         *int     `json:"score,omitempty"`
	Seq           uint64   `json:"seq"`
	Sources       []Source `json:"sources"`
	Tenant        string   `json:"tenant"`
	Tier          string   `json:"tier"`
	Time          string   `json:"time"`
	Transport     string   `json:"transport,omitempty"`
	Type          string   `json:"type"`
	UniqueID      string   `json:"unique_id,omitempty"`
	VerifyResult  string   `json:"verify_result,omitempty"`
	WrongEntries  int      `json:"wrong_entries"`
}

// Source is one reputation source's part in a decision: what it said and
// the data it returned. Keys sorted, like Record.
type Source struct {
	Error         string            `json:"error,omitempty"`
	LatencyUS     int64             `json:"latency_us"`
	Raw           map[string]string `json:"raw,omitempty"`
	Reasons       []string          `json:"reasons,omitempty"`
	RecentReports int               `json:"recent_reports,omitempty"`
	Risk          string            `json:"risk,omitempty"`
	Score         *int              `json:"score,omitempty"`
	Source        string            `json:"source"`
	Tier          string            `json:"tier,omitempty"`
}

// Checkpoint is a signed statement that the log holds record Seq with hash
// Hash. N numbers checkpoints from 1 without gaps across the whole log.
// Keys sorted, like Record.
type Checkpoint struct {
	Hash  string `json:"hash"`
	KeyID string `json:"key"`
	N     uint64 `json:"n"`
	Seq   uint64 `json:"seq"`
	Time  string `json:"time"`
	Type  string `json:"type"`
	// Sig is the hex ed25519 signature; it is not part of the signed bytes.
	Sig string `json:"-"`
	// canon holds the signed bytes of a parsed checkpoint.
	canon []byte
}

// Gap is a chain entry standing for decisions that never reached the log:
// dropped while the disk was failing and memory was full, counted, and
// stated here when writing resumed. It has a seq and a prev like a record,
// so removing it breaks the chain. Keys sorted, like Record.
type Gap struct {
	// Dropped is how many decisions are missing here.
	Dropped uint64 `json:"dropped"`
	// First and Last are when the first and the last of them were made.
	First  string `json:"first"`
	Last   string `json:"last"`
	Prev   string `json:"prev"`
	Reason string `json:"reason"`
	Seq    uint64 `json:"seq"`
	Time   string `json:"time"`
	Type   string `json:"type"`
}

// Break is the first entry of the file a log continues in after Open found
// damage (a record that does not verify, two writers in one file, a log
// cut behind its head file). The damaged files are set aside under new
// names, never deleted. The break links to the last good entry (LastSeq,
// LastHash, which is also its Prev) and takes a seq above every seq the
// set-aside files hold; the next checkpoint is numbered N+1, above every
// checkpoint number issued before. Keys sorted, like Record.
type Break struct {
	// Files are the set-aside files, by base name, in log order; they
	// stay in the log directory.
	Files []string `json:"files"`
	// LastHash and LastSeq name the last entry that verified (GenesisHash
	// and 0 when none did).
	LastHash string `json:"last_hash"`
	LastSeq  uint64 `json:"last_seq"`
	// N is the highest checkpoint number issued before the break.
	N    uint64 `json:"n"`
	Prev string `json:"prev"`
	// Reason is what Open found, naming the first bad line.
	Reason string `json:"reason"`
	Seq    uint64 `json:"seq"`
	Time   string `json:"time"`
	Type   string `json:"type"`
}

// signContext prefixes the signed bytes, so a checkpoint signature can never
// be mistaken for a signature over anything else.
const signContext = "callscreen audit checkpoint v1\n"

// FromResult turns a decision into a record without seq, prev and type,
// which the log assigns. configVersion fills ConfigVersion when the result
// has none.
func FromResult(r *decision.Result, configVersion string) Record {
	rec := Record{
		Action:        string(r.Decision.Action),
		Attestation:   r.Attestation,
		Caller:        r.Caller,
		CallerName:    r.CallerName,
		Challenge:     string(r.Challenge),
		Channel:       r.Channel,
		ConfigVersion: r.ConfigVersion,
		Dialed:        r.Dialed,
		DurationUS:    r.Duration.Microseconds(),
		Error:         r.Error,
		Held:          string(r.Decision.Held),
		ID:            r.ID,
		LatencyUS:     r.DecisionLatency.Microseconds(),
		Mode:          string(r.Decision.Mode),
		Profile:       r.Profile,
		Reasons:       make([]string, 0, len(r.Decision.Reasons)),
		Result:        string(r.Result),
		Sources:       make([]Source, 0, len(r.Verdict.Sources)),
		Tenant:        r.Tenant,
		Tier:          string(r.Decision.Tier),
		Time:          r.Time.UTC().Format(TimeFormat),
		Transport:     r.Transport,
		UniqueID:      r.UniqueID,
		VerifyResult:  r.VerifyResult,
		WrongEntries:  r.WrongEntries,
	}
	if r.CallerRaw != r.Caller {
		rec.CallerRaw = r.CallerRaw
	}
	if rec.ConfigVersion == "" {
		rec.ConfigVersion = configVersion
	}
	if rec.Challenge == "" {
		rec.Challenge = "none"
	}
	if r.Decision.Scored {
		s := r.Decision.Score
		rec.Score = &s
	}
	for _, reason := range r.Decision.Reasons {
		rec.Reasons = append(rec.Reasons, string(reason))
	}
	for _, rep := range r.Verdict.Sources {
		s := Source{
			LatencyUS:     rep.Latency.Microseconds(),
			Raw:           rep.Verdict.Raw,
			RecentReports: rep.Verdict.RecentReports,
			Risk:          string(rep.Verdict.Risk),
			Source:        rep.Source,
			Tier:          string(rep.Verdict.Tier),
		}
		if rep.Err != nil {
			s.Error = rep.Err.Error()
		}
		if rep.Verdict.Scored {
			sc := rep.Verdict.Score
			s.Score = &sc
		}
		for _, reason := range rep.Verdict.Reasons {
			s.Reasons = append(s.Reasons, string(reason))
		}
		rec.Sources = append(rec.Sources, s)
	}
	return rec
}

// sealRecord encodes rec as one log line: the canonical bytes (rec marshalled
// by encoding/json) with a last member "hash" appended, the hex SHA-256 of
// the canonical bytes. It returns the line, newline included, and the hash.
func sealRecord(rec *Record) (line []byte, hash string, err error) {
	canon, err := json.Marshal(rec)
	if err != nil {
		return nil, "", fmt.Errorf("encode record %d: %w", rec.Seq, err)
	}
	sum := sha256.Sum256(canon)
	hash = hex.EncodeToString(sum[:])
	return appendSeal(canon, `,"hash":"`, hash), hash, nil
}

// sealCheckpoint encodes cp as one log line with a last member "sig", the hex
// ed25519 signature of signContext followed by the canonical bytes.
func sealCheckpoint(cp *Checkpoint, sign func(msg []byte) []byte) ([]byte, error) {
	canon, err := json.Marshal(cp)
	if err != nil {
		return nil, fmt.Errorf("encode checkpoint %d: %w", cp.N, err)
	}
	sig := sign(signedBytes(canon))
	cp.Sig = hex.EncodeToString(sig)
	cp.canon = canon
	return appendSeal(canon, `,"sig":"`, cp.Sig), nil
}

func signedBytes(canon []byte) []byte {
	msg := make([]byte, 0, len(signContext)+len(canon))
	msg = append(msg, signContext...)
	return append(msg, canon...)
}

func appendSeal(canon []byte, key, value string) []byte {
	line := make([]byte, 0, len(canon)+len(key)+len(value)+3)
	line = append(line, canon[:len(canon)-1]...)
	line = append(line, key...)
	line = append(line, value...)
	return append(line, '"', '}', '\n')
}

// Errors splitting a line; the verifier wraps them in ErrMalformed.
var (
	errNoSeal   = errors.New("line does not end with its seal member")
	errBadSeal  = errors.New("seal is not lower-case hex of the right length")
	errNotJSON  = errors.New("not a JSON object")
	errBadType  = errors.New("unknown entry type")
	errEmptyKey = errors.New("empty line")
)

// splitSeal splits a line (without its newline) into the canonical bytes and
// the seal value, for a seal member named key holding n hex digits.
func splitSeal(line []byte, key string, n int) (canon []byte, seal string, err error) {
	prefix := `,"` + key + `":"`
	if len(line) < len(prefix)+n+2 || !bytes.HasSuffix(line, []byte(`"}`)) {
		return nil, "", errNoSeal
	}
	start := len(line) - 2 - n - len(prefix)
	if string(line[start:start+len(prefix)]) != prefix {
		return nil, "", errNoSeal
	}
	seal = string(line[start+len(prefix) : len(line)-2])
	for _, c := range []byte(seal) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return nil, "", errBadSeal
		}
	}
	canon = make([]byte, 0, start+1)
	canon = append(canon, line[:start]...)
	canon = append(canon, '}')
	return canon, seal, nil
}

// entryType reads the "type" of a line without trusting anything else in it.
func entryType(line []byte) (string, error) {
	if len(line) == 0 {
		return "", errEmptyKey
	}
	var t struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(line, &t); err != nil {
		return "", errNotJSON
	}
	switch t.Type {
	case TypeRecord, TypeCheckpoint, TypeGap, TypeBreak:
		return t.Type, nil
	}
	return "", fmt.Errorf("%w %q", errBadType, t.Type)
}
