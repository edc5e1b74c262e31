package stats

import (
	"context"
	"sync"
	"time"
)

// resolution is the length of a bucket: a minute or an hour.
type resolution int

const (
	minute resolution = iota
	hour
)

func (r resolution) seconds() int64 {
	if r == hour {
		return 3600
	}
	return 60
}

func (r resolution) String() string {
	if r == hour {
		return "h"
	}
	return "m"
}

// Dim is what a bucket is kept by besides its time.
type Dim struct {
	Profile string
	DID     string
}

// slot holds the buckets of one minute or one hour.
type slot map[Dim]*Counts

// table keeps buckets by resolution and index (Unix time divided by the
// resolution's seconds).
type table struct {
	slots [2]map[int64]slot
}

func newTable() *table {
	return &table{slots: [2]map[int64]slot{{}, {}}}
}

func (t *table) bucket(res resolution, idx int64, d Dim) *Counts {
	s := t.slots[res][idx]
	if s == nil {
		s = slot{}
		t.slots[res][idx] = s
	}
	c := s[d]
	if c == nil {
		c = &Counts{}
		s[d] = c
	}
	return c
}

// prune forgets the slots of res before index before.
func (t *table) prune(res resolution, before int64) {
	for idx := range t.slots[res] {
		if idx < before {
			delete(t.slots[res], idx)
		}
	}
}

// each calls fn for every bucket of res with index in [lo, hi).
func (t *table) each(res resolution, lo, hi int64, fn func(idx int64, d Dim, c *Counts)) {
	m := t.slots[res]
	if hi-lo < int64(len(m)) {
		for idx := lo; idx < hi; idx++ {
			for d, c := range m[idx] {
				fn(idx, d, c)
			}
		}
		return
	}
	for idx, s := range m {
		if idx < lo || idx >= hi {
			continue
		}
		for d, c := range s {
			fn(idx, d, c)
		}
	}
}

// reader is a store of buckets the queries read: this instance's memory or
// the shared counters in Redis.
//
// read calls fn for every bucket of res with index in [lo, hi), in no
// particular order; fn must not keep c. It fails only when the store does.
type reader interface {
	read(ctx context.Context, res resolution, lo, hi int64, fn func(idx int64, d Dim, c *Counts)) error
}

// memory is the statistics of this instance: minute buckets for
// minuteKeep, hour buckets for the retention. It bounds the DIDs it keeps
// apart to maxDIDs; calls to more are counted under DIDOther.
type memory struct {
	minuteKeep, retention time.Duration
	maxDIDs               int

	mu        sync.RWMutex
	t         *table
	dids      map[string]int64 // DID → last hour index it was seen in
	lastPrune int64            // hour index of the last prune
}

var _ reader = (*memory)(nil)

func newMemory(minuteKeep, retention time.Duration, maxDIDs int) *memory {
	return &memory{minuteKeep: minuteKeep, retention: retention, maxDIDs: maxDIDs, t: newTable(), dids: map[string]int64{}}
}

// add counts call and returns the Dim it was counted under.
func (m *memory) add(call *Call, now time.Time) Dim {
	mi := floorDiv(call.Time.Unix(), 60)
	hi := floorDiv(mi, 60)
	d := Dim{Profile: call.Profile, DID: didLabel(call.DID)}
	m.mu.Lock()
	defer m.mu.Unlock()
	if nh := floorDiv(now.Unix(), 3600); nh > m.lastPrune {
		m.prune(now)
		m.lastPrune = nh
	}
	if d.DID != DIDUnknown {
		last, ok := m.dids[d.DID]
		switch {
		case ok:
			m.dids[d.DID] = max(last, hi)
		case len(m.dids) >= m.maxDIDs:
			d.DID = DIDOther
		default:
			m.dids[d.DID] = hi
		}
	}
	if mi >= floorDiv(now.Add(-m.minuteKeep).Unix(), 60) {
		m.t.bucket(minute, mi, d).add(call)
	}
	m.t.bucket(hour, hi, d).add(call)
	return d
}

// prune forgets what is older than the retention; the caller holds mu.
func (m *memory) prune(now time.Time) {
	m.t.prune(minute, floorDiv(now.Add(-m.minuteKeep).Unix(), 60))
	oldest := floorDiv(now.Add(-m.retention).Unix(), 3600)
	m.t.prune(hour, oldest)
	for did, last := range m.dids {
		if last < oldest {
			delete(m.dids, did)
		}
	}
}

func (m *memory) read(_ context.Context, res resolution, lo, hi int64, fn func(idx int64, d Dim, c *Counts)) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	m.t.each(res, lo, hi, fn)
	return nil
}

// floorDiv divides rounding towards minus infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// ceilDiv divides rounding towards plus infinity.
func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }
