package lists

import "github.com/callscreen/callscreen/reputation/lists/numset"

// Find returns tenant's entry on list with e's value (same kind, value and,
// for a range, high end), expired or not: from tenant's stored entries or,
// for tenant "", also from the list files, whose entries apply to every
// tenant. ok is false when there is none. It reads the lists in force,
// without a scan: an exact number is one lookup, a rule one map or short
// slice lookup.
func (l *Lists) Find(tenant string, list List, e Entry) (found *Entry, ok bool) {
	s := l.snap.Load()
	i := list.index()
	var tables []*table
	if tenant == "" {
		tables = append(tables, s.files[i])
	}
	if m, ok := s.tenants[tenant]; ok {
		tables = append(tables, m[i])
	}
	for _, t := range tables {
		if f := t.find(&e); f != nil {
			return f, true
		}
	}
	return nil, false
}

// find returns the table's entry with e's kind and value, nil when none.
func (t *table) find(e *Entry) *Entry {
	if t == nil {
		return nil
	}
	switch e.Kind {
	case Number:
		if k, ok := numset.Encode(e.Value); ok {
			return t.lookupNumber(k)
		}
	case Prefix:
		return t.prefixes[e.Value]
	case Range:
		for _, r := range t.ranges {
			if r.Value == e.Value && r.High == e.High {
				return r
			}
		}
	case Name:
		for _, r := range t.names {
			if r.Value == e.Value {
				return r
			}
		}
	}
	return nil
}
