package lists

import (
	"slices"
	"time"
)

// table is one list (allow or block) of one scope, built once and then only
// read: a reload builds a new table and swaps it in.
type table struct {
	numbers    map[string]*Entry
	prefixes   map[string]*Entry
	prefixLens []int // distinct prefix lengths, longest first
	ranges     []*Entry
	names      []*Entry
}

func newTable() *table {
	return &table{numbers: map[string]*Entry{}, prefixes: map[string]*Entry{}}
}

// add puts e in the table; a later entry for the same number, prefix,
// range or pattern replaces an earlier one.
func (t *table) add(e *Entry) {
	switch e.Kind {
	case Number:
		t.numbers[e.Value] = e
	case Prefix:
		if _, ok := t.prefixes[e.Value]; !ok && !slices.Contains(t.prefixLens, len(e.Value)) {
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

// matchNumber returns the entry matching key (an E.164 number or short-code
// digits) that has not expired: exact first, then the longest prefix, then
// ranges. nil when none does.
func (t *table) matchNumber(key string, now time.Time) *Entry {
	if t == nil || key == "" {
		return nil
	}
	if e := t.numbers[key]; e != nil && !e.Expired(now) {
		return e
	}
	if key[0] != '+' {
		return nil
	}
	for _, l := range t.prefixLens {
		if l > len(key) {
			continue
		}
		if e := t.prefixes[key[:l]]; e != nil && !e.Expired(now) {
			return e
		}
	}
	for _, e := range t.ranges {
		if len(key) == len(e.Value) && key >= e.Value && key <= e.High && !e.Expired(now) {
			return e
		}
	}
	return nil
}

// matchName returns the first unexpired name pattern matching name (already
// upper-cased), nil when none does.
func (t *table) matchName(name string, now time.Time) *Entry {
	if t == nil || name == "" {
		return nil
	}
	for _, e := range t.names {
		if matchGlob(e.Value, name) && !e.Expired(now) {
			return e
		}
	}
	return nil
}

// counts returns the number of entries by kind.
func (t *table) counts() map[Kind]int {
	if t == nil {
		return map[Kind]int{}
	}
	return map[Kind]int{
		Number: len(t.numbers),
		Prefix: len(t.prefixes),
		Range:  len(t.ranges),
		Name:   len(t.names),
	}
}
