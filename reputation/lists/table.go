package lists

import (
	"iter"
	"maps"
	"slices"
	"time"

	"github.com/callscreen/callscreen/reputation/lists/numset"
)

// meta is the metadata of an exact-number entry, shared between entries
// that have the same.
type meta struct {
	note, addedBy, origin string
	added, expires        int64 // unix seconds; 0 unknown / never
}

func metaOf(e *Entry) meta {
	m := meta{note: e.Note, addedBy: e.AddedBy, origin: e.Origin}
	if !e.Added.IsZero() {
		m.added = e.Added.Unix()
	}
	if !e.Expires.IsZero() {
		m.expires = e.Expires.Unix()
	}
	return m
}

// table is one list (allow or block) of one scope (the list files, or one
// tenant's stored entries). A table is never changed once published: a
// change makes a new table that shares what did not change.
//
// Exact numbers live in a compact numset (8–14 bytes a number) plus a small
// overlay of recent changes; prefixes, ranges and name patterns, which are
// few, in plain maps and slices.
type table struct {
	list   List
	tenant string

	base    *numset.Set       // value: index into metas + 1; 0 no metadata
	metas   []meta            // shared by the tables made from this one
	overlay map[uint64]*Entry // changes since base was built; nil = deleted

	prefixes   map[string]*Entry
	prefixLens []int // distinct prefix lengths, longest first
	ranges     []*Entry
	names      []*Entry
}

// minCompact is the overlay size below which changes are never compacted
// into the base.
const minCompact = 4096

// buildTable builds a table from entries (all of list; later entries win).
func buildTable(list List, tenant string, entries iter.Seq[*Entry]) *table {
	b := newTableBuilder(list, tenant)
	if entries != nil {
		for e := range entries {
			b.add(e)
		}
	}
	return b.build()
}

// tableBuilder collects entries for a new table without keeping them: an
// exact number costs its key and a metadata index, so loading millions of
// entries does not hold millions of Entry values.
type tableBuilder struct {
	t    *table
	keys []uint64
	vals []uint32
	ix   map[meta]uint32
}

func newTableBuilder(list List, tenant string) *tableBuilder {
	return &tableBuilder{t: &table{list: list, tenant: tenant, prefixes: map[string]*Entry{}}, ix: map[meta]uint32{}}
}

// add adds e; a rule (prefix, range, name) is copied, a number is not kept.
func (b *tableBuilder) add(e *Entry) {
	if e.Kind != Number {
		c := *e
		b.t.addRule(&c)
		return
	}
	k, ok := numset.Encode(e.Value)
	if !ok {
		return
	}
	b.keys = append(b.keys, k)
	b.vals = append(b.vals, b.t.intern(b.ix, metaOf(e)))
}

func (b *tableBuilder) build() *table {
	b.t.base = numset.Build(b.keys, b.vals)
	b.keys, b.vals, b.ix = nil, nil, nil
	return b.t
}

// intern returns the value that refers to m, adding m to t.metas if new.
func (t *table) intern(ix map[meta]uint32, m meta) uint32 {
	if m == (meta{}) {
		return 0
	}
	if v, ok := ix[m]; ok {
		return v
	}
	t.metas = append(t.metas, m)
	v := uint32(len(t.metas))
	ix[m] = v
	return v
}

// addRule adds a prefix, range or name entry; a later one for the same
// match replaces an earlier one.
func (t *table) addRule(e *Entry) {
	switch e.Kind {
	case Prefix:
		if !slices.Contains(t.prefixLens, len(e.Value)) {
			t.prefixLens = append(t.prefixLens, len(e.Value))
			slices.SortFunc(t.prefixLens, func(a, b int) int { return b - a })
		}
		t.prefixes[e.Value] = e
	case Range:
		if i := slices.IndexFunc(t.ranges, func(r *Entry) bool { return r.Value == e.Value && r.High == e.High }); i >= 0 {
			t.ranges[i] = e
			return
		}
		t.ranges = append(t.ranges, e)
	case Name:
		if i := slices.IndexFunc(t.names, func(r *Entry) bool { return r.Value == e.Value }); i >= 0 {
			t.names[i] = e
			return
		}
		t.names = append(t.names, e)
	}
}

// removeRule removes a prefix, range or name entry.
func (t *table) removeRule(e *Entry) {
	switch e.Kind {
	case Prefix:
		delete(t.prefixes, e.Value)
		if !slices.ContainsFunc(slices.Collect(maps.Keys(t.prefixes)), func(p string) bool { return len(p) == len(e.Value) }) {
			t.prefixLens = slices.DeleteFunc(t.prefixLens, func(l int) bool { return l == len(e.Value) })
		}
	case Range:
		t.ranges = slices.DeleteFunc(t.ranges, func(r *Entry) bool { return r.Value == e.Value && r.High == e.High })
	case Name:
		t.names = slices.DeleteFunc(t.names, func(r *Entry) bool { return r.Value == e.Value })
	}
}

// with returns a new table with the changes applied (all to t's list and
// tenant). t is not modified.
func (t *table) with(changes []*Change) *table {
	n := *t
	rulesCopied := false
	overlayCopied := false
	for _, c := range changes {
		e := &c.Entry
		if e.Kind != Number {
			if !rulesCopied {
				n.prefixes = maps.Clone(t.prefixes)
				n.prefixLens = slices.Clone(t.prefixLens)
				n.ranges = slices.Clone(t.ranges)
				n.names = slices.Clone(t.names)
				rulesCopied = true
			}
			if c.Delete {
				n.removeRule(e)
			} else {
				n.addRule(e)
			}
			continue
		}
		k, ok := numset.Encode(e.Value)
		if !ok {
			continue
		}
		if !overlayCopied {
			n.overlay = make(map[uint64]*Entry, len(t.overlay)+len(changes))
			maps.Copy(n.overlay, t.overlay)
			overlayCopied = true
		}
		if c.Delete {
			n.overlay[k] = nil
		} else {
			n.overlay[k] = e
		}
	}
	if len(n.overlay) > max(minCompact, n.base.Len()/16) {
		return n.compact()
	}
	return &n
}

// compact folds the overlay into a new base.
func (t *table) compact() *table {
	n := &table{
		list: t.list, tenant: t.tenant,
		prefixes: t.prefixes, prefixLens: t.prefixLens, ranges: t.ranges, names: t.names,
	}
	keys := make([]uint64, 0, t.base.Len()+len(t.overlay))
	vals := make([]uint32, 0, cap(keys))
	ix := map[meta]uint32{}
	for k, v := range t.base.All() {
		if _, changed := t.overlay[k]; changed {
			continue
		}
		var m meta
		if v != 0 {
			m = t.metas[v-1]
		}
		keys = append(keys, k)
		vals = append(vals, n.intern(ix, m))
	}
	for k, e := range t.overlay {
		if e == nil {
			continue
		}
		keys = append(keys, k)
		vals = append(vals, n.intern(ix, metaOf(e)))
	}
	n.base = numset.Build(keys, vals)
	return n
}

// entryOf rebuilds the entry of a base number.
func (t *table) entryOf(k uint64, v uint32) *Entry {
	e := &Entry{Tenant: t.tenant, List: t.list, Kind: Number, Value: numset.Decode(k)}
	if v != 0 {
		m := t.metas[v-1]
		e.Note, e.AddedBy, e.Origin = m.note, m.addedBy, m.origin
		if m.added != 0 {
			e.Added = time.Unix(m.added, 0).UTC()
		}
		if m.expires != 0 {
			e.Expires = time.Unix(m.expires, 0).UTC()
		}
	}
	return e
}

// lookupNumber returns the exact entry for encoded key k, expired or not.
func (t *table) lookupNumber(k uint64) *Entry {
	if len(t.overlay) > 0 {
		if e, changed := t.overlay[k]; changed {
			return e
		}
	}
	if v, ok := t.base.Get(k); ok {
		return t.entryOf(k, v)
	}
	return nil
}

// clock reads the time once, when first needed: most lookups match
// nothing and never need it.
type clock struct {
	now func() time.Time
	t   time.Time
	set bool
}

func (c *clock) get() time.Time {
	if !c.set {
		c.t, c.set = c.now(), true
	}
	return c.t
}

// numberKey is a caller key ready for matching.
type numberKey struct {
	s   string // E.164 or short-code digits
	k   uint64 // numset.Encode(s)
	enc bool   // k is valid
}

func newNumberKey(s string) numberKey {
	k, ok := numset.Encode(s)
	return numberKey{s: s, k: k, enc: ok}
}

// matchNumber returns the unexpired entry matching key: exact first, then
// the longest prefix, then ranges. nil when none does.
func (t *table) matchNumber(key numberKey, c *clock) *Entry {
	if t == nil || key.s == "" {
		return nil
	}
	if key.enc {
		if e := t.lookupNumber(key.k); e != nil && !e.Expired(c.get()) {
			return e
		}
	}
	if key.s[0] != '+' {
		return nil
	}
	for _, l := range t.prefixLens {
		if l > len(key.s) {
			continue
		}
		if e := t.prefixes[key.s[:l]]; e != nil && !e.Expired(c.get()) {
			return e
		}
	}
	for _, e := range t.ranges {
		if len(key.s) == len(e.Value) && key.s >= e.Value && key.s <= e.High && !e.Expired(c.get()) {
			return e
		}
	}
	return nil
}

// matchName returns the first unexpired name pattern matching name (already
// upper-cased), nil when none does.
func (t *table) matchName(name string, c *clock) *Entry {
	if t == nil || name == "" {
		return nil
	}
	for _, e := range t.names {
		if matchGlob(e.Value, name) && !e.Expired(c.get()) {
			return e
		}
	}
	return nil
}

// all yields every entry of the table, expired ones included.
func (t *table) all() iter.Seq[*Entry] {
	return func(yield func(*Entry) bool) {
		if t == nil {
			return
		}
		for k, v := range t.base.All() {
			if _, changed := t.overlay[k]; changed {
				continue
			}
			if !yield(t.entryOf(k, v)) {
				return
			}
		}
		for _, e := range t.overlay {
			if e != nil && !yield(e) {
				return
			}
		}
		for _, e := range t.prefixes {
			if !yield(e) {
				return
			}
		}
		for _, e := range slices.Concat(t.ranges, t.names) {
			if !yield(e) {
				return
			}
		}
	}
}

// counts returns the number of entries by kind.
func (t *table) counts() map[Kind]int {
	c := map[Kind]int{Number: 0, Prefix: 0, Range: 0, Name: 0}
	if t == nil {
		return c
	}
	n := t.base.Len()
	for k, e := range t.overlay {
		_, inBase := t.base.Get(k)
		switch {
		case e == nil && inBase:
			n--
		case e != nil && !inBase:
			n++
		}
	}
	c[Number] = n
	c[Prefix] = len(t.prefixes)
	c[Range] = len(t.ranges)
	c[Name] = len(t.names)
	return c
}

// bytes estimates the memory the exact numbers take.
func (t *table) bytes() int {
	if t == nil {
		return 0
	}
	return t.base.Bytes() + len(t.overlay)*48
}
