package outbound

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/cdr"
)

func fixtureAggregator(t *testing.T, opts Options) *Aggregator {
	t.Helper()
	a := New(opts)
	if _, err := cdr.ReadCSVFile("../cdr/testdata/Master-outbound.csv", cdr.CSVOptions{Layout: cdr.DefaultLayout}, func(r *cdr.Record) error {
		a.Add(r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return a
}

type counts struct{ calls, answered, short, unreachable, busy, noAnswer, dests int }

func countsOf(h Health) counts {
	return counts{h.Calls, h.Answered, h.Short, h.Unreachable, h.Busy, h.NoAnswer, h.Destinations}
}

// TestFixtureCalls: the nine calls of the fixture, counted once each from
// the 17 rows, classified as its README says.
func TestFixtureCalls(t *testing.T) {
	a := fixtureAggregator(t, Options{})
	rep := a.Report()
	want := []struct {
		number string
		c      counts
	}{
		// 12125550003 and 0009 answered 1 s and 4 s, 0001 4 s; 0005
		// congestion (FAILED) and 0007 unallocated (NO ANSWER, 0 s).
		{"+15551230002", counts{calls: 5, answered: 3, short: 3, unreachable: 2, dests: 5}},
		// 0002 answered 1 s, 0004 busy, 0006 unallocated, 0008 rang 3 s.
		{"+15551230001", counts{calls: 4, answered: 1, short: 1, unreachable: 1, busy: 1, noAnswer: 1, dests: 4}},
	}
	if len(rep.Numbers) != len(want) {
		t.Fatalf("numbers: %+v", rep.Numbers)
	}
	for i, w := range want {
		h := rep.Numbers[i]
		if h.Number != w.number || countsOf(h) != w.c {
			t.Errorf("number %d: %s %+v, want %s %+v", i, h.Number, countsOf(h), w.number, w.c)
		}
		if len(h.Days) != 1 || h.Days[0].Date != "2026-12-02" || h.Days[0].Calls != w.c.calls || h.ActiveDays != 1 {
			t.Errorf("%s days: %+v", h.Number, h.Days)
		}
		if h.Verdict != VerdictTooFewCalls {
			t.Errorf("%s: verdict %s with %d calls", h.Number, h.Verdict, h.Calls)
		}
	}
	c := a.Counts()
	if c.Rows != 17 || c.Calls != 9 || c.OtherRows != 8 || c.MergedRows != 0 {
		t.Errorf("counts %+v", c)
	}
}

func TestOwnNumbersAndContexts(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		calls map[string]int
		c     Counts
	}{
		{"own, national form", Options{Own: []string{"(555) 123-0001"}}, map[string]int{"+15551230001": 4},
			Counts{Rows: 17, Calls: 4, OtherRows: 8, NotOwn: 5}},
		{"context outbound", Options{Contexts: []string{"outbound"}}, map[string]int{"+15551230001": 4, "+15551230002": 5},
			// The Local ;1 halves are in context outbound but have no src.
			Counts{Rows: 17, Calls: 9, OtherRows: 8}},
		{"context far-end", Options{Contexts: []string{"far-end"}}, map[string]int{"+15551230002": 3, "+15551230001": 1},
			Counts{Rows: 17, Calls: 4, OtherRows: 13}},
		{"cap of one number", Options{MaxNumbers: 1}, map[string]int{"+15551230001": 4},
			Counts{Rows: 17, Calls: 4, OtherRows: 8, OverCap: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := fixtureAggregator(t, tt.opts)
			got := map[string]int{}
			for _, h := range a.Report().Numbers {
				got[h.Number] = h.Calls
			}
			if len(got) != len(tt.calls) {
				t.Fatalf("calls %v, want %v", got, tt.calls)
			}
			for n, c := range tt.calls {
				if got[n] != c {
					t.Errorf("calls %v, want %v", got, tt.calls)
				}
			}
			if a.Counts() != tt.c {
				t.Errorf("counts %+v, want %+v", a.Counts(), tt.c)
			}
		})
	}
}

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// dial is a row that placed a call.
func dial(src, dst, key string, at time.Time, d cdr.Disposition, duration, billsec int) *cdr.Record {
	return &cdr.Record{Src: src, Dst: dst, LastApp: "Dial", DContext: "from-internal", UniqueID: key, Start: at,
		Disposition: d, Duration: duration, BillSec: billsec}
}

// TestOneCallManyRows: the Dial attempts of one call (same linkedid) are
// one call, judged by the attempt that got furthest, in any order.
func TestOneCallManyRows(t *testing.T) {
	tests := []struct {
		name string
		rows []*cdr.Record
		want counts
	}{
		{"failover then answer", []*cdr.Record{
			dial("+15551230001", "12125550001", "a", t0, cdr.Congestion, 0, 0),
			dial("+15551230001", "12125550001", "a", t0, cdr.Answered, 30, 25),
		}, counts{calls: 1, answered: 1, dests: 1}},
		{"answer then failover row", []*cdr.Record{
			dial("+15551230001", "12125550001", "a", t0, cdr.Answered, 30, 2),
			dial("+15551230001", "12125550001", "a", t0, cdr.Failed, 0, 0),
		}, counts{calls: 1, answered: 1, short: 1, dests: 1}},
		{"busy beats no answer", []*cdr.Record{
			dial("+15551230001", "12125550001", "a", t0, cdr.NoAnswer, 0, 0),
			dial("+15551230001", "12125550001", "a", t0, cdr.Busy, 0, 0),
		}, counts{calls: 1, busy: 1, dests: 1}},
		{"no uniqueid: every row a call", []*cdr.Record{
			dial("+15551230001", "12125550001", "", t0, cdr.NoAnswer, 0, 0),
			dial("+15551230001", "12125550001", "", t0, cdr.NoAnswer, 20, 0),
		}, counts{calls: 2, unreachable: 1, noAnswer: 1, dests: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New(Options{})
			for _, r := range tt.rows {
				r.LinkedID = r.UniqueID
				a.Add(r)
			}
			rep := a.Report()
			if len(rep.Numbers) != 1 || countsOf(rep.Numbers[0]) != tt.want {
				t.Fatalf("%+v, want %+v", rep.Numbers, tt.want)
			}
		})
	}
}

// TestMergeWindow: calls leave the merge window in order and are counted
// once, whether the report comes before or after.
func TestMergeWindow(t *testing.T) {
	a := New(Options{MergeWindow: 2})
	for i, k := range []string{"a", "b", "c", "d", "e"} {
		a.Add(dial("+15551230001", "1212555000"+string(rune('0'+i)), k, t0, cdr.Answered, 10, 10))
		if got := a.Report().Numbers[0].Calls; got != i+1 {
			t.Fatalf("after %d calls the report says %d", i+1, got)
		}
	}
	// A late row of the open call "e" merges; one of the closed call "a" is
	// a new call (the documented limit of the window).
	a.Add(dial("+15551230001", "12125550009", "e", t0, cdr.Answered, 10, 10))
	a.Add(dial("+15551230001", "12125550009", "a", t0, cdr.Answered, 10, 10))
	h := a.Report().Numbers[0]
	if h.Calls != 6 || h.Destinations != 6 || a.Counts().MergedRows != 1 {
		t.Fatalf("calls %d dests %d merged %d", h.Calls, h.Destinations, a.Counts().MergedRows)
	}
}

// TestFreePBXOutboundCNum: from a table with outbound_cnum, a Dial row
// without it is an inbound call to an extension, not ours.
func TestFreePBXOutboundCNum(t *testing.T) {
	a := New(Options{Own: []string{"+15551230001"}})
	in := dial("+15551230001", "1001", "in", t0, cdr.Answered, 5, 5) // spoofed caller, inbound
	in.HasOutboundCNum = true
	out := dial("1001", "12125550001", "out", t0, cdr.Answered, 5, 5) // extension 1001, out through the trunk
	out.HasOutboundCNum, out.OutboundCNum = true, "5551230001"
	a.Add(in)
	a.Add(out)
	rep := a.Report()
	if len(rep.Numbers) != 1 || rep.Numbers[0].Number != "+15551230001" || rep.Numbers[0].Calls != 1 || rep.Numbers[0].Days[0].Destinations != 1 {
		t.Fatalf("%+v", rep.Numbers)
	}
}

// TestWindowSlides: Since drops whole days and skips calls before them.
func TestWindowSlides(t *testing.T) {
	a := New(Options{MergeWindow: 1})
	for d := range 10 {
		a.Add(dial("+15551230001", "12125550001", string(rune('a'+d)), t0.AddDate(0, 0, d), cdr.Answered, 10, 10))
	}
	a.Add(dial("+15551230002", "12125550001", "z", t0, cdr.Answered, 10, 10))
	a.Since(t0.AddDate(0, 0, 7).Add(5 * time.Hour)) // keeps days 7, 8, 9
	rep := a.Report()
	if len(rep.Numbers) != 1 || rep.Numbers[0].Calls != 3 || len(rep.Numbers[0].Days) != 3 || rep.Numbers[0].Days[0].Date != "2026-12-08" {
		t.Fatalf("%+v", rep.Numbers)
	}
	a.Add(dial("+15551230001", "12125550001", "old", t0, cdr.Answered, 10, 10))
	if c := a.Counts(); c.BeforeWindow != 1 || c.DroppedByDays != 8 {
		t.Fatalf("counts %+v", c)
	}
	// Days are drawn in the configured zone: 23:30 UTC is the next day in
	// Tokyo.
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	b := New(Options{Location: tokyo})
	b.Add(dial("+15551230001", "12125550001", "x", time.Date(2026, 12, 1, 23, 30, 0, 0, time.UTC), cdr.Answered, 10, 10))
	if got := b.Report().Numbers[0].Days[0].Date; got != "2026-12-02" {
		t.Fatalf("day in Tokyo: %s", got)
	}
}

// TestVerdicts: the shares, the flags and the words.
func TestVerdicts(t *testing.T) {
	th := DefaultThresholds()
	th.MinCalls = 10
	mk := func(answeredShort, answeredLong, unreachable, other int, days int) Health {
		a := New(Options{Thresholds: th})
		n := 0
		add := func(k int, d cdr.Disposition, dur, bill int) {
			for range k {
				a.Add(dial("+15551230001", "1212555"+string(rune('a'+n%26))+string(rune('a'+n/26)), "", t0.AddDate(0, 0, n%days), d, dur, bill))
				n++
			}
		}
		add(answeredShort, cdr.Answered, 3, 3)
		add(answeredLong, cdr.Answered, 60, 60)
		add(unreachable, cdr.NoAnswer, 0, 0)
		add(other, cdr.NoAnswer, 20, 0)
		return a.Report().Numbers[0]
	}
	tests := []struct {
		name    string
		h       Health
		verdict Verdict
		summary string
		metrics []string
	}{
		{"healthy", mk(2, 18, 1, 9, 3), VerdictOK, "healthy: 10% of answered calls under 6 s, 3% of calls to unreachable numbers", nil},
		{"short calls", mk(9, 13, 0, 0, 1), VerdictLikelySpam, "likely to be labelled spam: 41% of answered calls under 6 s", []string{"short_share"}},
		{"autodialer", mk(6, 4, 10, 0, 1), VerdictLikelySpam,
			"likely to be labelled spam: 60% of answered calls under 6 s, 50% of calls to unreachable numbers", []string{"short_share", "unreachable_share"}},
		{"too few", mk(3, 0, 2, 0, 1), VerdictTooFewCalls,
			"too few calls to judge: 5, at least 10 needed; so far 100% of answered calls under 6 s, 40% of calls to unreachable numbers", []string{"short_share", "unreachable_share"}},
		{"volume", mk(0, 450, 0, 0, 2), VerdictLikelySpam, "likely to be labelled spam: 225 calls a day", []string{"calls_per_day"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.h.Verdict != tt.verdict || tt.h.Summary != tt.summary {
				t.Errorf("got %s %q\nwant %s %q", tt.h.Verdict, tt.h.Summary, tt.verdict, tt.summary)
			}
			var ms []string
			for _, f := range tt.h.Flags {
				ms = append(ms, f.Metric)
			}
			if strings.Join(ms, ",") != strings.Join(tt.metrics, ",") {
				t.Errorf("flags %v, want %v", ms, tt.metrics)
			}
		})
	}
}

// TestJSON: the field names the CLI and the admin API promise.
func TestJSON(t *testing.T) {
	rep := fixtureAggregator(t, Options{}).Report()
	b, err := json.Marshal(rep.Numbers[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"number":"+15551230001"`, `"calls":4`, `"answered":1`, `"short":1`, `"unreachable":1`, `"busy":1`,
		`"no_answer":1`, `"distinct_destinations":4`, `"short_share":1`, `"unreachable_share":0.25`, `"verdict":"too_few_calls"`,
		`"days":[{"date":"2026-12-02"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	b, _ = json.Marshal(rep.Thresholds)
	if string(b) != `{"short_call_seconds":6,"short_share":0.3,"unreachable_share":0.1,"calls_per_day":200,"min_calls":20}` {
		t.Errorf("thresholds %s", b)
	}
}
