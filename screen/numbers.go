package screen

import (
	"hash/maphash"
	"sync"

	"github.com/callscreen/callscreen/number"
)

// numberCache remembers parsed numbers that needed the numbering-plan
// library (tens of microseconds: international numbers, national forms
// with punctuation); dialed numbers are a handful of DIDs and callers
// repeat, so a bounded cache of raw text to Number removes most of it.
// What number.ParseFast answers (the usual +1 and NANP forms, text that is
// no number) costs less than a cache lookup and is never cached, so a new
// caller neither pays for an insertion nor evicts a number worth keeping.
// It is safe for concurrent use; when a shard is full an arbitrary entry
// makes room.
type numberCache struct {
	seed   maphash.Seed
	shards [16]numberShard
	per    int
}

type numberShard struct {
	mu sync.RWMutex
	m  map[numberKey]number.Number
}

type numberKey struct{ raw, region string }

// maxCachedRaw bounds the text cached: longer text is invalid anyway and
// parsed without the library.
const maxCachedRaw = number.MaxRawLen

func newNumberCache(size int) *numberCache {
	c := &numberCache{seed: maphash.MakeSeed(), per: max(size/16, 1)}
	for i := range c.shards {
		c.shards[i].m = make(map[numberKey]number.Number)
	}
	return c
}

// parse returns number.Parse(raw, region), from the cache when it can.
func (c *numberCache) parse(raw, region string) number.Number {
	if n, ok := number.ParseFast(raw, region); ok {
		return n
	}
	if c == nil || len(raw) > maxCachedRaw {
		return number.Parse(raw, region)
	}
	k := numberKey{raw, region}
	s := &c.shards[maphash.String(c.seed, raw)%uint64(len(c.shards))]
	s.mu.RLock()
	n, ok := s.m[k]
	s.mu.RUnlock()
	if ok {
		return n
	}
	n = number.Parse(raw, region)
	s.mu.Lock()
	if len(s.m) >= c.per {
		for old := range s.m {
			delete(s.m, old)
			break
		}
	}
	s.m[k] = n
	s.mu.Unlock()
	return n
}
