package feedback

import (
	"context"
	"slices"
	"sync"
)

// MemoryStore keeps reports in memory: the store of a process without
// Redis or data_dir, and the index FileStore keeps.
type MemoryStore struct {
	mu sync.RWMutex
	m  map[string]Report // tenant "\x00" number → report
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore { return &MemoryStore{m: map[string]Report{}} }

func memKey(tenant, number string) string { return tenant + "\x00" + number }

// Put implements Store.
func (s *MemoryStore) Put(_ context.Context, r Report) error {
	if err := r.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	s.m[memKey(r.Tenant, r.Number)] = r
	s.mu.Unlock()
	return nil
}

// Get implements Store.
func (s *MemoryStore) Get(_ context.Context, tenant, number string) (Report, bool, error) {
	s.mu.RLock()
	r, ok := s.m[memKey(tenant, number)]
	s.mu.RUnlock()
	return r, ok, nil
}

// Delete implements Store.
func (s *MemoryStore) Delete(_ context.Context, tenant, number string) error {
	s.mu.Lock()
	delete(s.m, memKey(tenant, number))
	s.mu.Unlock()
	return nil
}

// List implements Store.
func (s *MemoryStore) List(_ context.Context, tenant string) ([]Report, error) {
	s.mu.RLock()
	var out []Report
	for _, r := range s.m {
		if r.Tenant == tenant {
			out = append(out, r)
		}
	}
	s.mu.RUnlock()
	sortReports(out)
	return out, nil
}

// replace swaps the whole content (FileStore reloads).
func (s *MemoryStore) replace(m map[string]Report) {
	s.mu.Lock()
	s.m = m
	s.mu.Unlock()
}

func sortReports(rs []Report) {
	slices.SortStableFunc(rs, func(a, b Report) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		switch {
		case a.Number < b.Number:
			return -1
		case a.Number > b.Number:
			return 1
		}
		return 0
	})
}
