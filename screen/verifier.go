package screen

import (
	"context"
	"sync"
	"time"
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

// MemoryVerifier is an in-process Verifier: bounded, expiring, safe for
// concurrent use. When full it forgets the entry remembered first.
type MemoryVerifier struct {
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[verifierKey]time.Time // expiry
	order   []verifierKey             // insertion order, a ring
	head    int
}

type verifierKey struct{ tenant, caller string }

var _ Verifier = (*MemoryVerifier)(nil)

// NewMemoryVerifier returns a MemoryVerifier holding at most max callers
// (max < 1 means 100000). now is the clock; nil means time.Now.
func NewMemoryVerifier(max int, now func() time.Time) *MemoryVerifier {
	if max < 1 {
		max = 100000
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryVerifier{max: max, now: now, entries: make(map[verifierKey]time.Time)}
}

// Verified reports whether caller passed a challenge within its ttl.
func (m *MemoryVerifier) Verified(_ context.Context, tenant, caller string) (bool, error) {
	k := verifierKey{tenant, caller}
	m.mu.Lock()
	defer m.mu.Unlock()
	exp, ok := m.entries[k]
	if !ok {
		return false, nil
	}
	// An expired entry stays until evicted, so a caller marked again keeps
	// one place in the eviction order.
	return m.now().Before(exp), nil
}

// MarkVerified remembers caller for ttl. A ttl of zero or less forgets it.
func (m *MemoryVerifier) MarkVerified(_ context.Context, tenant, caller string, ttl time.Duration) error {
	k := verifierKey{tenant, caller}
	m.mu.Lock()
	defer m.mu.Unlock()
	if ttl <= 0 {
		delete(m.entries, k)
		return nil
	}
	if _, ok := m.entries[k]; !ok {
		m.makeRoom()
		m.order = append(m.order, k)
	}
	m.entries[k] = m.now().Add(ttl)
	return nil
}

// makeRoom evicts, oldest insertion first, until one more entry fits. Keys
// in order that were already deleted (expired) are skipped; the order slice
// is compacted when it grows past twice the capacity.
func (m *MemoryVerifier) makeRoom() {
	for len(m.entries) >= m.max && m.head < len(m.order) {
		k := m.order[m.head]
		m.order[m.head] = verifierKey{}
		m.head++
		delete(m.entries, k)
	}
	if m.head > m.max || len(m.order) > 2*m.max {
		live := m.order[:0]
		for _, k := range m.order[m.head:] {
			if _, ok := m.entries[k]; ok {
				live = append(live, k)
			}
		}
		clear(m.order[len(live):])
		m.order = live
		m.head = 0
	}
}

// Len returns how many callers are remembered, expired ones not yet
// forgotten included.
func (m *MemoryVerifier) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}
