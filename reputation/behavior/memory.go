package behavior

import (
	"context"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// MemoryCounter is a Counter in process memory, bounded: it remembers at
// most MaxCallers callers and MaxDialed dialed numbers, forgetting the
// least recently seen.
type MemoryCounter struct {
	mu      sync.Mutex
	callers *lru.Cache[key, *callerState]
	dialed  *lru.Cache[key, *floodState]
}

var _ Counter = (*MemoryCounter)(nil)

type key struct{ tenant, number string }

type callerState struct {
	calls   []int64 // unix ms, oldest first, at most the burst cap
	flags   []int64 // unix ms, oldest first, at most maxFlags
	hpUntil int64   // unix ms
}

type floodState struct {
	minute    int64 // unix minute of cur
	cur, prev int
}

// NewMemoryCounter returns a MemoryCounter; sizes < 1 are 100,000 callers
// and 10,000 dialed numbers.
func NewMemoryCounter(maxCallers, maxDialed int) *MemoryCounter {
	if maxCallers < 1 {
		maxCallers = 100_000
	}
	if maxDialed < 1 {
		maxDialed = 10_000
	}
	c, _ := lru.New[key, *callerState](maxCallers)
	d, _ := lru.New[key, *floodState](maxDialed)
	return &MemoryCounter{callers: c, dialed: d}
}

// Observe implements Counter.
func (m *MemoryCounter) Observe(ctx context.Context, o Observation) (Counts, error) {
	if err := ctx.Err(); err != nil {
		return Counts{}, err
	}
	now := o.Time.UnixMilli()
	var c Counts
	m.mu.Lock()
	defer m.mu.Unlock()
	if o.Caller != "" {
		k := key{o.Tenant, o.Caller}
		s, ok := m.callers.Get(k)
		if !ok {
			s = &callerState{}
			m.callers.Add(k, s)
		}
		if o.BurstCap > 0 {
			s.calls = append(s.calls, now)
			s.calls = dropBefore(s.calls, now-o.BurstWindow.Milliseconds())
			if len(s.calls) > o.BurstCap {
				s.calls = append(s.calls[:0], s.calls[len(s.calls)-o.BurstCap:]...)
			}
			c.Burst = len(s.calls)
		}
		for _, f := range s.flags {
			if f > now-o.RepeatWindow.Milliseconds() {
				c.Gray++
			}
		}
		if o.Honeypot {
			s.hpUntil = max(s.hpUntil, now+o.HoneypotFor.Milliseconds())
		}
		c.Honeypot = s.hpUntil > now
	}
	if o.Dialed != "" {
		k := key{o.Tenant, o.Dialed}
		s, ok := m.dialed.Get(k)
		if !ok {
			s = &floodState{}
			m.dialed.Add(k, s)
		}
		minute := o.Time.Unix() / 60
		switch {
		case minute == s.minute:
		case minute == s.minute+1:
			s.prev, s.cur = s.cur, 0
		default:
			s.prev, s.cur = 0, 0
		}
		s.minute = minute
		s.cur++
		c.Flood = floodEstimate(s.cur, s.prev, o.Time)
	}
	return c, nil
}

// Flag implements Counter.
func (m *MemoryCounter) Flag(ctx context.Context, tenant, caller, _ string, t time.Time, keep time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := key{tenant, caller}
	s, ok := m.callers.Get(k)
	if !ok {
		s = &callerState{}
		m.callers.Add(k, s)
	}
	now := t.UnixMilli()
	s.flags = append(dropBefore(s.flags, now-keep.Milliseconds()), now)
	if len(s.flags) > maxFlags {
		s.flags = append(s.flags[:0], s.flags[len(s.flags)-maxFlags:]...)
	}
	return nil
}

// dropBefore removes the leading times at or before cutoff.
func dropBefore(ts []int64, cutoff int64) []int64 {
	i := 0
	for i < len(ts) && ts[i] <= cutoff {
		i++
	}
	if i == 0 {
		return ts
	}
	return append(ts[:0], ts[i:]...)
}
