package feed

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Record is one stored number: its key (numset.Encode of the E.164 form)
// and packed value (last report day, robocall flag, report count).
type Record struct {
	Key   uint64
	Value uint32
}

// Store keeps the feed so that it outlives the process and, when shared,
// one instance's import serves them all.
type Store interface {
	// Version identifies the stored data; it changes with every Write.
	Version(ctx context.Context) (string, error)
	// Load calls fn with every record of every tenant, and returns the
	// version it loaded.
	Load(ctx context.Context, fn func(tenant string, r Record) error) (string, error)
	// Replace makes recs the whole of tenant's feed, atomically: a reader
	// sees all of the old or all of the new. It changes the version and
	// returns it.
	Replace(ctx context.Context, tenant string, recs []Record) (string, error)
}

// Locker is a Store several instances share.
type Locker interface {
	// Lock makes one import at a time; it returns ErrLocked when another
	// holds the lock.
	Lock(ctx context.Context, ttl time.Duration) (unlock func(), err error)
	// Pulled reports whether the scheduled pull of day (YYYY-MM-DD) is
	// done; MarkPulled records it.
	Pulled(ctx context.Context, day string) (bool, error)
	MarkPulled(ctx context.Context, day string) error
}

// ErrLocked reports that another instance is importing.
var ErrLocked = errors.New("feed import already running elsewhere")

// MemStore is a Store in memory, for tests and for running without Redis
// or a data directory.
type MemStore struct {
	mu      sync.Mutex
	version int
	m       map[string]map[uint64]uint32
	// Fail, when set, makes every call fail with it.
	Fail error
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{m: map[string]map[uint64]uint32{}} }

// Version implements Store.
func (s *MemStore) Version(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Fail != nil {
		return "", s.Fail
	}
	return strconv.Itoa(s.version), nil
}

// Load implements Store.
func (s *MemStore) Load(ctx context.Context, fn func(string, Record) error) (string, error) {
	s.mu.Lock()
	if s.Fail != nil {
		s.mu.Unlock()
		return "", s.Fail
	}
	v := strconv.Itoa(s.version)
	snap := map[string]map[uint64]uint32{}
	for t, m := range s.m {
		snap[t] = maps.Clone(m)
	}
	s.mu.Unlock()
	for _, t := range slices.Sorted(maps.Keys(snap)) {
		for k, val := range snap[t] {
			if err := ctx.Err(); err != nil {
				return "", err
			}
			if err := fn(t, Record{k, val}); err != nil {
				return "", err
			}
		}
	}
	return v, nil
}

// Replace implements Store.
func (s *MemStore) Replace(_ context.Context, tenant string, recs []Record) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Fail != nil {
		return "", s.Fail
	}
	m := make(map[uint64]uint32, len(recs))
	for _, r := range recs {
		m[r.Key] = r.Value
	}
	s.m[tenant] = m
	s.version++
	return strconv.Itoa(s.version), nil
}
