package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
)

// Version is the encoding version byte every stored value starts with.
// Bump it (and the "v1" in the key) when the wire struct changes meaning;
// old values then read as misses and age out.
const Version byte = 1

// Decode errors. Both read as a cache miss.
var (
	// ErrVersion: the value has another version byte.
	ErrVersion = errors.New("cache value of unknown version")
	// ErrCorrupt: the value does not decode or does not validate.
	ErrCorrupt = errors.New("corrupt cache value")
)

// wire is the stored form of one verdict: short names, empty fields left
// out. Only fields a provider sets are kept; the chain's bookkeeping
// (Final, Sources) and Age (computed on read) are not.
type wire struct {
	Tier    policy.Tier       `json:"t,omitempty"`
	Score   int               `json:"s,omitempty"`
	Scored  bool              `json:"sc,omitempty"`
	Reasons []policy.Reason   `json:"r,omitempty"`
	Risk    reputation.Risk   `json:"k,omitempty"`
	Recent  int               `json:"n,omitempty"`
	Source  string            `json:"src,omitempty"`
	Raw     map[string]string `json:"raw,omitempty"`
	// At is when the data was produced (stored time minus the age the
	// source reported), Exp when the entry expires; unix milliseconds.
	At  int64 `json:"at"`
	Exp int64 `json:"exp"`
}

// entry is a decoded value: the verdict, when its data was produced, and
// when the entry expires.
type entry struct {
	v   reputation.Verdict
	at  time.Time
	exp time.Time
}

// encode returns the stored form of e.
func encode(e entry) ([]byte, error) {
	w := wire{
		Tier:    e.v.Tier,
		Score:   e.v.Score,
		Scored:  e.v.Scored,
		Reasons: e.v.Reasons,
		Risk:    e.v.Risk,
		Recent:  e.v.RecentReports,
		Source:  e.v.Source,
		Raw:     e.v.Raw,
		At:      e.at.UnixMilli(),
		Exp:     e.exp.UnixMilli(),
	}
	b := make([]byte, 1, 128)
	b[0] = Version
	return appendJSON(b, w)
}

func appendJSON(b []byte, w wire) ([]byte, error) {
	j, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode cache value: %w", err)
	}
	return append(b, j...), nil
}

// decode reads a stored value and checks every field, so that nothing a
// broken or hostile writer put in Redis reaches the policy.
func decode(b []byte) (entry, error) {
	if len(b) == 0 {
		return entry{}, fmt.Errorf("decode cache value: empty: %w", ErrCorrupt)
	}
	if b[0] != Version {
		return entry{}, fmt.Errorf("decode cache value: version %d, want %d: %w", b[0], Version, ErrVersion)
	}
	var w wire
	if err := json.Unmarshal(b[1:], &w); err != nil {
		return entry{}, fmt.Errorf("decode cache value: %v: %w", err, ErrCorrupt)
	}
	switch w.Tier {
	case "", policy.TierSpam, policy.TierBusiness, policy.TierUnknown:
	default:
		return entry{}, fmt.Errorf("decode cache value: tier %q: %w", w.Tier, ErrCorrupt)
	}
	switch w.Risk {
	case "", reputation.RiskLow, reputation.RiskMedium, reputation.RiskHigh:
	default:
		return entry{}, fmt.Errorf("decode cache value: risk %q: %w", w.Risk, ErrCorrupt)
	}
	if w.Score < 0 || w.Score > 100 || w.Recent < 0 || w.At <= 0 || w.Exp <= 0 {
		return entry{}, fmt.Errorf("decode cache value: score %d, recent %d, at %d, exp %d out of range: %w", w.Score, w.Recent, w.At, w.Exp, ErrCorrupt)
	}
	for _, r := range w.Reasons {
		if !r.Known() {
			return entry{}, fmt.Errorf("decode cache value: reason %q: %w", r, ErrCorrupt)
		}
	}
	return entry{
		v: reputation.Verdict{
			Verdict:       policy.Verdict{Tier: w.Tier, Score: w.Score, Scored: w.Scored, Reasons: w.Reasons},
			Risk:          w.Risk,
			RecentReports: w.Recent,
			Source:        w.Source,
			Raw:           w.Raw,
		},
		at:  time.UnixMilli(w.At),
		exp: time.UnixMilli(w.Exp),
	}, nil
}
