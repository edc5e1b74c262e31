package feed

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callscreen/callscreen/internal/redistest"
	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
)

// clock is a clock the test moves.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

var day0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func lookup(t *testing.T, f *Feed, tenant, caller string) reputation.Verdict {
	t.Helper()
	q := reputation.Query{Tenant: tenant, Caller: number.Parse(caller, "US"), Profile: policy.Default()}
	v, err := f.Lookup(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func importJSON(t *testing.T, f *Feed, tenant, in string) Stats {
	t.Helper()
	st, err := f.Import(context.Background(), strings.NewReader(in), ImportOptions{Tenant: tenant})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func rowsJSON(rows ...string) string { return "[" + strings.Join(rows, ",\n") + "]" }

func row1(num, date, robo string) string {
	return fmt.Sprintf(`{"number":%q,"created_date":%q,"robocall":%q}`, num, date, robo)
}

func TestImportAndLookup(t *testing.T) {
	c := &clock{day0}
	f := New(context.Background(), Options{Now: c.Now})
	st := importJSON(t, f, "", rowsJSON(
		row1("2125550001", "2026-03-01", "no"),
		row1("2125550001", "2026-02-20", "yes"),
		row1("2125550002", "2026-03-01", "no"),
		row1("2125550003", "2026-01-15", "no"), // older than 30 days
		row1("bogus", "2026-03-01", "no"),
	))
	if st.Rows != 5 || st.Accepted != 4 || st.Rejected != 1 || st.Numbers != 3 {
		t.Fatalf("stats = %+v", st)
	}
	tests := []struct {
		caller  string
		reasons []policy.Reason
		reports int
	}{
		{"+12125550001", []policy.Reason{policy.FeedDailyReport, policy.FeedRobocall}, 2},
		{"+12125550002", []policy.Reason{policy.FeedDailyReport}, 1},
		{"+12125550003", nil, 0},
		{"+12125550009", nil, 0},
		{"anonymous", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.caller, func(t *testing.T) {
			v := lookup(t, f, "", tt.caller)
			if !slices.Equal(v.Reasons, tt.reasons) || v.RecentReports != tt.reports || v.Final != (tt.reasons != nil) {
				t.Fatalf("verdict = %v reports %d final %v, want %v %d", v.Reasons, v.RecentReports, v.Final, tt.reasons, tt.reports)
			}
			// In the report is SPAM, as on the must-block list.
			if wantSpam := tt.reasons != nil; (v.Tier == policy.TierSpam) != wantSpam {
				t.Fatalf("tier %q for reasons %v", v.Tier, v.Reasons)
			}
		})
	}
	if v := lookup(t, f, "", "+12125550001"); v.Raw["feed_last_report"] != "2026-03-01" || v.Raw["feed_robocall"] != "yes" {
		t.Fatalf("raw = %v", v.Raw)
	}
	if f.Len("") != 2 {
		t.Fatalf("Len = %d, want 2 (the old report is not kept)", f.Len(""))
	}
	// The policy blocks on the default profile.
	v := lookup(t, f, "", "+12125550002")
	if d := policy.Decide(policy.Call{Caller: number.Parse("+12125550002", "US")}, v.Verdict, policy.Default()); d.Action != policy.Block {
		t.Fatalf("default profile action = %s, want block", d.Action)
	}

	// 29 days later the report still counts; 31 days later it does not.
	c.t = day0.Add(29 * 24 * time.Hour)
	if v := lookup(t, f, "", "+12125550002"); !v.Final {
		t.Fatal("report within the window ignored")
	}
	c.t = day0.Add(31 * 24 * time.Hour)
	if v := lookup(t, f, "", "+12125550002"); v.Final {
		t.Fatal("report older than the retention window still counts")
	}
	// A shorter profile report_window applies.
	c.t = day0
	p := policy.Default()
	p.Thresholds.ReportWindow = 6 * time.Hour
	q := reputation.Query{Caller: number.Parse("+12125550002", "US"), Profile: p}
	if v, _ := f.Lookup(context.Background(), q); v.Final {
		t.Fatal("profile report_window ignored")
	}
	// A later import merges counts and prunes what fell out of the window.
	c.t = day0.Add(20 * 24 * time.Hour)
	importJSON(t, f, "", rowsJSON(row1("2125550002", "2026-03-21", "yes")))
	if v := lookup(t, f, "", "+12125550002"); v.RecentReports != 2 || !slices.Contains(v.Reasons, policy.FeedRobocall) {
		t.Fatalf("merged verdict = %+v", v)
	}
	c.t = day0.Add(40 * 24 * time.Hour)
	importJSON(t, f, "", "[]")
	if f.Len("") != 1 {
		t.Fatalf("Len after pruning = %d, want 1", f.Len(""))
	}
}

func TestImportTenants(t *testing.T) {
	c := &clock{day0}
	f := New(context.Background(), Options{Now: c.Now})
	importJSON(t, f, "", rowsJSON(row1("2125550001", "2026-03-01", "no")))
	importJSON(t, f, "acme", rowsJSON(row1("2125550002", "2026-03-01", "yes")))
	for _, tt := range []struct {
		tenant, caller string
		hit            bool
	}{
		{"", "+12125550001", true},
		{"acme", "+12125550001", true}, // the shared feed applies to every tenant
		{"acme", "+12125550002", true},
		{"", "+12125550002", false},
		{"other", "+12125550002", false},
	} {
		if v := lookup(t, f, tt.tenant, tt.caller); v.Final != tt.hit {
			t.Errorf("tenant %q caller %s: hit %v, want %v", tt.tenant, tt.caller, v.Final, tt.hit)
		}
	}
}

func TestImportSyntaxErrorChangesNothing(t *testing.T) {
	f := New(context.Background(), Options{Now: (&clock{day0}).Now})
	importJSON(t, f, "", rowsJSON(row1("2125550001", "2026-03-01", "no")))
	_, err := f.Import(context.Background(), strings.NewReader(`[{"number":"2125550002","created_date":"2026-03-01"},{"num`), ImportOptions{})
	if !errors.Is(err, ErrSyntax) {
		t.Fatalf("err = %v, want ErrSyntax", err)
	}
	if !lookup(t, f, "", "+12125550001").Final || lookup(t, f, "", "+12125550002").Final {
		t.Fatal("a broken import changed the feed")
	}
}

func newRedis(t *testing.T) (*redistest.Server, redis.UniversalClient) {
	t.Helper()
	srv := redistest.Start(t)
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{srv.Addr()}, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	return srv, rdb
}

// TestStores: an import through one Feed is seen by another Feed on the
// same store (another instance, or serve after `feed import`).
func TestStores(t *testing.T) {
	_, rdb := newRedis(t)
	dir := t.TempDir()
	stores := map[string]func() Store{
		"memory": func() Store { m := NewMemStore(); return m },
		"bolt":   func() Store { return NewBoltStore(dir) },
		"redis":  func() Store { return NewRedisStore(rdb, "") },
	}
	for name, mk := range stores {
		t.Run(name, func(t *testing.T) {
			c := &clock{day0}
			s := mk()
			a := New(context.Background(), Options{Store: s, Now: c.Now})
			b := New(context.Background(), Options{Store: s, Now: c.Now})
			importJSON(t, a, "", rowsJSON(row1("2125550001", "2026-03-01", "yes"), row1("2125550002", "2026-02-01", "no")))
			importJSON(t, a, "t:1", rowsJSON(row1("2125550003", "2026-03-01", "no")))
			if err := b.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			if v := lookup(t, b, "", "+12125550001"); !slices.Equal(v.Reasons, []policy.Reason{policy.FeedDailyReport, policy.FeedRobocall}) {
				t.Fatalf("other instance: %v", v.Reasons)
			}
			if !lookup(t, b, "t:1", "+12125550003").Final || lookup(t, b, "", "+12125550003").Final {
				t.Fatal("tenant data not kept apart")
			}
			// A restart loads the same.
			r := New(context.Background(), Options{Store: s, Now: c.Now})
			if r.Len("") != 2 || r.Len("t:1") != 1 {
				t.Fatalf("restart loads %d and %d numbers, want 2 and 1", r.Len(""), r.Len("t:1"))
			}
			// Pruning reaches the store.
			c.t = day0.Add(15 * 24 * time.Hour)
			importJSON(t, b, "", "[]")
			r2 := New(context.Background(), Options{Store: s, Now: c.Now})
			if r2.Len("") != 1 {
				t.Fatalf("after pruning the store holds %d numbers, want 1", r2.Len(""))
			}
		})
	}
}

func TestRedisDown(t *testing.T) {
	srv, rdb := newRedis(t)
	c := &clock{day0}
	f := New(context.Background(), Options{Store: NewRedisStore(rdb, ""), Now: c.Now})
	importJSON(t, f, "", rowsJSON(row1("2125550001", "2026-03-01", "no")))
	srv.Kill()
	if !lookup(t, f, "", "+12125550001").Final {
		t.Fatal("lookups need Redis")
	}
	if _, err := f.Import(context.Background(), strings.NewReader(rowsJSON(row1("2125550002", "2026-03-01", "no"))), ImportOptions{}); err == nil {
		t.Fatal("import with Redis down: want an error")
	}
	if err := f.Refresh(context.Background()); err == nil {
		t.Fatal("refresh with Redis down: want an error")
	}
	if !lookup(t, f, "", "+12125550001").Final || lookup(t, f, "", "+12125550002").Final {
		t.Fatal("a failed import or refresh changed the feed")
	}
	// Starting while Redis is down: empty feed, no error, loads later.
	g := New(context.Background(), Options{Store: NewRedisStore(rdb, ""), Now: c.Now})
	if g.Loaded() || g.Len("") != 0 {
		t.Fatal("feed claims to be loaded with Redis down")
	}
	srv.Restart()
	if err := g.Refresh(context.Background()); err != nil || !g.Loaded() {
		t.Fatalf("refresh after Redis came back: %v", err)
	}
}

func TestValuePacking(t *testing.T) {
	v := pack(dayOf(day0), true, 200)
	if v.count() != maxCount || !v.robocall() || v.day() != dayOf(day0) || !v.valid() {
		t.Fatalf("pack = %v", v)
	}
	m := merge(pack(10, false, 3), pack(12, true, 4))
	if m.day() != 12 || !m.robocall() || m.count() != 7 {
		t.Fatalf("merge = %v", m)
	}
}

func TestCombine(t *testing.T) {
	for _, n := range []int{0, 1, 10, 5000} {
		r := make([]Record, 0, 2*n)
		want := map[uint64]value{}
		for i := range n {
			k := uint64(i*7919%1000) + 1<<54 + 11<<50 // repeats once n > 1000
			v := pack(day(100+i%5), i%3 == 0, 1)
			r = append(r, Record{k, uint32(v)})
			want[k] = merge(want[k], v)
		}
		got := combine(r)
		if len(got) != len(want) {
			t.Fatalf("n=%d: %d records, want %d", n, len(got), len(want))
		}
		for i, rec := range got {
			if i > 0 && got[i-1].Key >= rec.Key {
				t.Fatalf("n=%d: not sorted at %d", n, i)
			}
			if value(rec.Value) != want[rec.Key] {
				t.Fatalf("n=%d: key %d = %v, want %v", n, rec.Key, value(rec.Value), want[rec.Key])
			}
		}
	}
}
