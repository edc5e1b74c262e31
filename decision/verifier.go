package decision

import (
	"context"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
)

// Verifier remembers callers who passed a challenge, so they are not
// challenged again for a while (caller.verified_human).
//
// Outcomes:
//   - Verified: (true, nil) the caller passed within its ttl; (false, nil)
//     not known or expired; (_, err) the store failed: the flow then treats
//     the caller as not verified (the challenge is played) and logs it.
//   - MarkVerified: nil when remembered; an error when the store failed:
//     the flow logs it and the call goes on unchanged.
//
// Both honour ctx's deadline. tenant namespaces the memory ("" is the
// default tenant); caller is the E.164 number.
type Verifier interface {
	Verified(ctx context.Context, tenant, caller string) (bool, error)
	MarkVerified(ctx context.Context, tenant, caller string, ttl time.Duration) error
}

// MaxVerifiedTTL bounds how long a MemoryVerifier keeps anyone, whatever
// ttl MarkVerified asked for: the store forgets an entry after it even if
// nobody asked about the caller since.
const MaxVerifiedTTL = 30 * 24 * time.Hour

// MemoryVerifier is an in-process Verifier: bounded, expiring, safe for
// concurrent use. When full it forgets the caller used least recently.
// Each entry carries the expiry MarkVerified gave it; the LRU underneath
// (golang-lru's expirable) also drops every entry MaxVerifiedTTL after it
// was written, so expired callers do not hold memory until evicted.
type MemoryVerifier struct {
	now func() time.Time
	lru *expirable.LRU[verifierKey, time.Time] // value: the entry's expiry
}

type verifierKey struct{ tenant, caller string }

var _ Verifier = (*MemoryVerifier)(nil)

// NewMemoryVerifier returns a MemoryVerifier holding at most max callers
// (max < 1 means 100000). now is the clock the per-entry expiry is read
// with; nil means time.Now.
func NewMemoryVerifier(max int, now func() time.Time) *MemoryVerifier {
	return newMemoryVerifier(max, now, MaxVerifiedTTL)
}

func newMemoryVerifier(max int, now func() time.Time, bound time.Duration) *MemoryVerifier {
	if max < 1 {
		max = 100000
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryVerifier{now: now, lru: expirable.NewLRU[verifierKey, time.Time](max, nil, bound)}
}

// Verified reports whether caller passed a challenge within its ttl. An
// expired entry is forgotten when it is read.
func (m *MemoryVerifier) Verified(_ context.Context, tenant, caller string) (bool, error) {
	k := verifierKey{tenant, caller}
	exp, ok := m.lru.Get(k)
	if !ok {
		return false, nil
	}
	if !m.now().Before(exp) {
		m.lru.Remove(k)
		return false, nil
	}
	return true, nil
}

// MarkVerified remembers caller for ttl (at most MaxVerifiedTTL). A ttl of
// zero or less forgets it.
func (m *MemoryVerifier) MarkVerified(_ context.Context, tenant, caller string, ttl time.Duration) error {
	k := verifierKey{tenant, caller}
	if ttl <= 0 {
		m.lru.Remove(k)
		return nil
	}
	m.lru.Add(k, m.now().Add(min(ttl, MaxVerifiedTTL)))
	return nil
}

// Len returns how many callers are remembered, including expired ones not
// yet read or swept.
func (m *MemoryVerifier) Len() int { return m.lru.Len() }
