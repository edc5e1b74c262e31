package lists

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/callscreen/callscreen/reputation/lists/numset"
)

// Change is one change to the stored lists: an entry put (added or
// replaced) or deleted.
type Change struct {
	Delete bool
	Entry  Entry
}

// Store keeps the entries added at run time (imports, additions,
// removals), per tenant, so they outlive the process and, when the store is
// shared, reach every instance. List-file entries are never stored.
type Store interface {
	// Tenants returns every tenant that has entries.
	Tenants(ctx context.Context) ([]string, error)
	// Load calls fn with every entry of tenant. An error from fn stops it.
	Load(ctx context.Context, tenant string, fn func(Entry) error) error
	// Apply stores the changes in order.
	Apply(ctx context.Context, changes []Change) error
}

// Follower is a Store shared between instances that reports the changes
// other instances make.
type Follower interface {
	// Position returns the current end of the change log, to follow from
	// after a load.
	Position(ctx context.Context) (string, error)
	// Follow calls fn with every batch of changes after pos, in order,
	// until ctx ends (then it returns ctx.Err()). It returns ErrLost when
	// changes after pos can no longer be read (the log was trimmed or the
	// store restarted empty): reload everything and follow from a new
	// Position. Any other error is the store failing.
	Follow(ctx context.Context, pos string, fn func(Batch) error) error
}

// Batch is one batch of changes from a Follower.
type Batch struct {
	Changes []Change
	// Resync names tenants whose entries changed too much to list: load
	// them again.
	Resync []string
	// Pos is the log position after the batch.
	Pos string
}

// ErrLost reports that a change log position is gone; see Follower.
var ErrLost = errors.New("change log position lost")

// field is how an entry is keyed within its tenant in a store:
// "<list>|<entry in file syntax>".
func field(e *Entry) string { return string(e.List) + "|" + e.String() }

// storedMeta is an entry's metadata as a store keeps it.
type storedMeta struct {
	Note    string `json:"n,omitempty"`
	AddedBy string `json:"b,omitempty"`
	Added   int64  `json:"a,omitempty"`
	Expires int64  `json:"x,omitempty"`
	Origin  string `json:"o,omitempty"`
}

func encodeMeta(e *Entry) string {
	m := storedMeta{Note: e.Note, AddedBy: e.AddedBy, Origin: e.Origin}
	if !e.Added.IsZero() {
		m.Added = e.Added.Unix()
	}
	if !e.Expires.IsZero() {
		m.Expires = e.Expires.Unix()
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// decodeStored rebuilds an entry from its store field and metadata.
func decodeStored(tenant, f, value string) (Entry, error) {
	list, s, ok := strings.Cut(f, "|")
	if !ok || !List(list).Valid() {
		return Entry{}, fmt.Errorf("stored entry %q: no list", f)
	}
	var e Entry
	if _, isNum := numset.Encode(s); isNum {
		// Stored numbers are already normalised: skip the numbering plan.
		e = Entry{Kind: Number, Value: s}
	} else {
		var err error
		if e, err = ParseEntry(s, "US"); err != nil {
			return Entry{}, fmt.Errorf("stored entry %q: %w", f, err)
		}
	}
	e.Tenant, e.List = tenant, List(list)
	if value != "" && value != "{}" {
		var m storedMeta
		if err := json.Unmarshal([]byte(value), &m); err != nil {
			return Entry{}, fmt.Errorf("stored entry %q: metadata: %w", f, err)
		}
		e.Note, e.AddedBy, e.Origin = m.Note, m.AddedBy, m.Origin
		if m.Added != 0 {
			e.Added = time.Unix(m.Added, 0).UTC()
		}
		if m.Expires != 0 {
			e.Expires = time.Unix(m.Expires, 0).UTC()
		}
	}
	return e, nil
}

// checkChange rejects a change no store should hold.
func checkChange(c *Change) error {
	e := &c.Entry
	if !e.List.Valid() {
		return fmt.Errorf("entry %s: list %q: want allow or block", e.String(), e.List)
	}
	switch e.Kind {
	case Number:
		if _, ok := numset.Encode(e.Value); !ok {
			return fmt.Errorf("entry %q: %w", e.Value, ErrBadNumber)
		}
	case Prefix, Range, Name:
		if _, err := ParseEntry(e.String(), "US"); err != nil {
			return fmt.Errorf("entry %q: %w", e.String(), err)
		}
	default:
		return fmt.Errorf("entry %q: kind %q: want number, prefix, range or name", e.Value, e.Kind)
	}
	return nil
}

// MemStore is a Store in memory: for tests, and for running without Redis
// or a data directory.
type MemStore struct {
	mu sync.Mutex
	m  map[string]map[string]Entry // tenant → field → entry
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{m: map[string]map[string]Entry{}} }

// Tenants implements Store.
func (s *MemStore) Tenants(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.m)), nil
}

// Load implements Store.
func (s *MemStore) Load(ctx context.Context, tenant string, fn func(Entry) error) error {
	s.mu.Lock()
	entries := slices.Collect(maps.Values(s.m[tenant]))
	s.mu.Unlock()
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// Apply implements Store.
func (s *MemStore) Apply(_ context.Context, changes []Change) error {
	for i := range changes {
		if err := checkChange(&changes[i]); err != nil {
			return fmt.Errorf("apply: %w", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range changes {
		t := s.m[c.Entry.Tenant]
		if t == nil {
			t = map[string]Entry{}
			s.m[c.Entry.Tenant] = t
		}
		if c.Delete {
			delete(t, field(&c.Entry))
			continue
		}
		t[field(&c.Entry)] = c.Entry
	}
	return nil
}
