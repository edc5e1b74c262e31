package lists

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
)

func mustEntry(t testing.TB, s string, list List, tenant string) Entry {
	t.Helper()
	e, err := ParseEntry(s, "US")
	if err != nil {
		t.Fatal(err)
	}
	e.List, e.Tenant = list, tenant
	return e
}

func tenantQuery(tenant, caller string) reputation.Query {
	q := query(caller, "")
	q.Tenant = tenant
	return q
}

func TestTenants(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	l, err := New(Options{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Apply(ctx, []Change{
		{Entry: mustEntry(t, "+12125550001", Block, "acme")},
		{Entry: mustEntry(t, "+1646*", Block, "acme")},
		{Entry: mustEntry(t, "name:*ROBOT*", Block, "acme")},
		{Entry: mustEntry(t, "+12125550002", Allow, "")},
	}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tenant, caller string
		reason         policy.Reason
	}{
		{"acme", "+12125550001", policy.ListBlock},
		{"", "+12125550001", ""},
		{"other", "+12125550001", ""},
		{"acme", "+16465550000", policy.ListBlock},
		{"", "+16465550000", ""},
		{"", "+12125550002", policy.ListAllow},
		{"acme", "+12125550002", ""},
	}
	check := func(l *Lists) {
		t.Helper()
		for _, tt := range tests {
			v, _ := l.Lookup(ctx, tenantQuery(tt.tenant, tt.caller))
			got := policy.Reason("")
			if len(v.Reasons) > 0 {
				got = v.Reasons[0]
			}
			if got != tt.reason {
				t.Errorf("tenant %q caller %s: reason %q, want %q", tt.tenant, tt.caller, got, tt.reason)
			}
		}
	}
	check(l)
	// A second Lists on the same store loads the same.
	l2, err := New(Options{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	check(l2)
	q := tenantQuery("acme", "+13135550000")
	q.Name = "Robot Caller"
	if v, _ := l2.Lookup(ctx, q); !slices.Equal(v.Reasons, []policy.Reason{policy.ListBlockName}) {
		t.Fatalf("tenant name pattern: got %v", v.Reasons)
	}
	if !l2.Allowed("", number.Parse("+12125550002", "US")) || l2.Allowed("acme", number.Parse("+12125550002", "US")) {
		t.Fatal("Allowed does not respect tenants")
	}
	// Removing works from the loaded base and from the overlay.
	if err := l2.Remove(ctx, mustEntry(t, "+12125550001", Block, "acme")); err != nil {
		t.Fatal(err)
	}
	if err := l2.Remove(ctx, mustEntry(t, "+1646*", Block, "acme")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"+12125550001", "+16465550000"} {
		if v, _ := l2.Lookup(ctx, tenantQuery("acme", c)); v.Final {
			t.Fatalf("%s still blocked after removal", c)
		}
	}
	l3, _ := New(Options{Store: store})
	if v, _ := l3.Lookup(ctx, tenantQuery("acme", "+12125550001")); v.Final {
		t.Fatal("removal not stored")
	}
}

func TestCompaction(t *testing.T) {
	ctx := context.Background()
	l, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 3*minCompact + 17
	var changes []Change
	for i := range n {
		e := mustEntry(t, fmt.Sprintf("+1212%07d", 5000000+i), Block, "t")
		e.Note = fmt.Sprintf("note %d", i%7)
		if i%3 == 0 {
			e.Expires = time.Now().Add(time.Hour)
		}
		changes = append(changes, Change{Entry: e})
	}
	// In batches, so some land in the overlay and some compact.
	for i := 0; i < len(changes); i += 1000 {
		if err := l.Apply(ctx, changes[i:min(i+1000, len(changes))]); err != nil {
			t.Fatal(err)
		}
	}
	// Delete every fifth.
	var dels []Change
	for i := 0; i < n; i += 5 {
		dels = append(dels, Change{Delete: true, Entry: changes[i].Entry})
	}
	if err := l.Apply(ctx, dels); err != nil {
		t.Fatal(err)
	}
	tbl := l.snap.Load().tenants["t"][Block.index()]
	if tbl.base.Len() == 0 {
		t.Fatal("never compacted")
	}
	for i, c := range changes {
		v, _ := l.Lookup(ctx, reputation.Query{Tenant: "t", Caller: number.Number{E164: c.Entry.Value, Kind: number.Valid, CountryCode: 1}})
		if want := i%5 != 0; v.Final != want {
			t.Fatalf("entry %d (%s): hit %v, want %v", i, c.Entry.Value, v.Final, want)
		}
		if v.Final && v.Raw["note"] != c.Entry.Note {
			t.Fatalf("entry %d: note %q, want %q", i, v.Raw["note"], c.Entry.Note)
		}
		if v.Final && (i%3 == 0) != (v.Raw["expires"] != "") {
			t.Fatalf("entry %d: expiry lost or invented: %v", i, v.Raw)
		}
	}
	if got, want := tbl.counts()[Number], n-len(dels); got != want {
		t.Fatalf("count = %d, want %d", got, want)
	}
	seen := 0
	for range l.Entries("t") {
		seen++
	}
	if seen != n-len(dels) {
		t.Fatalf("Entries yields %d, want %d", seen, n-len(dels))
	}
}

func TestApplyRejects(t *testing.T) {
	l, _ := New(Options{})
	bad := []Change{
		{Entry: Entry{List: "grey", Kind: Number, Value: "+12125550000"}},
		{Entry: Entry{List: Block, Kind: Number, Value: "12ab"}},
		{Entry: Entry{List: Block, Kind: "wild", Value: "x"}},
		{Entry: Entry{List: Block, Kind: Prefix, Value: "+"}},
	}
	for _, c := range bad {
		if err := l.Apply(context.Background(), []Change{c}); err == nil {
			t.Errorf("Apply(%+v) accepted", c.Entry)
		}
	}
}

// TestStores runs the same changes through every Store and checks what
// each loads back.
func TestStores(t *testing.T) {
	_, rdb := newRedis(t)
	stores := map[string]Store{
		"memory": NewMemStore(),
		"bolt":   NewBoltStore(t.TempDir()),
		"redis":  NewRedisStore(rdb, RedisOptions{SmallBatch: 3}),
	}
	added := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	e1 := mustEntry(t, "+12125550001", Block, "")
	e1.Note, e1.AddedBy, e1.Added, e1.Expires, e1.Origin = "scammer, \"urgent\"", "alice", added, added.Add(time.Hour), "csv"
	changes := []Change{
		{Entry: e1},
		{Entry: mustEntry(t, "+1900*", Block, "")},
		{Entry: mustEntry(t, "name:*WARRANTY*", Block, "")},
		{Entry: mustEntry(t, "+12125550100..+12125550199", Allow, "")},
		{Entry: mustEntry(t, "911", Allow, "")},
		{Entry: mustEntry(t, "+12125550002", Block, "acme")},
		{Entry: mustEntry(t, "+12125550003", Block, "")},
		{Delete: true, Entry: mustEntry(t, "+12125550003", Block, "")},
		{Entry: mustEntry(t, "+442079460000", Block, "a:b c")},
	}
	want := map[string][]string{
		"":      {"allow|+12125550100..+12125550199", "allow|911", "block|+12125550001", "block|+1900*", "block|name:*WARRANTY*"},
		"acme":  {"block|+12125550002"},
		"a:b c": {"block|+442079460000"},
	}
	for name, s := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			if err := s.Apply(ctx, changes[:4]); err != nil {
				t.Fatal(err)
			}
			if err := s.Apply(ctx, changes[4:]); err != nil {
				t.Fatal(err)
			}
			tenants, err := s.Tenants(ctx)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(tenants)
			if !slices.Equal(tenants, []string{"", "a:b c", "acme"}) {
				t.Fatalf("tenants = %q", tenants)
			}
			for tenant, fields := range want {
				var got []string
				err := s.Load(ctx, tenant, func(e Entry) error {
					if e.Tenant != tenant {
						t.Errorf("entry %s has tenant %q, want %q", e.String(), e.Tenant, tenant)
					}
					got = append(got, field(&e))
					if e.Value == "+12125550001" {
						if e.Note != e1.Note || e.AddedBy != "alice" || !e.Added.Equal(added) || !e.Expires.Equal(e1.Expires) || e.Origin != "csv" {
							t.Errorf("metadata not kept: %+v", e)
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				slices.Sort(got)
				if !slices.Equal(got, fields) {
					t.Errorf("tenant %q: loaded %q, want %q", tenant, got, fields)
				}
			}
		})
	}
}

func TestBoltMissingFile(t *testing.T) {
	s := NewBoltStore(filepath.Join(t.TempDir(), "not-yet"))
	ts, err := s.Tenants(context.Background())
	if err != nil || len(ts) != 0 {
		t.Fatalf("Tenants on a missing file = %v, %v; want none", ts, err)
	}
	l, err := New(Options{Store: s})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Add(context.Background(), mustEntry(t, "+12125550001", Block, "")); err != nil {
		t.Fatal(err)
	}
	// serve running (holding nothing open) and another process importing.
	l2, _ := New(Options{Store: s})
	if !blockedFor(l2, "", "+12125550001") {
		t.Fatal("a second process does not see the stored entry")
	}
}
