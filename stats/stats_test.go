package stats

import (
	"context"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/policy"
)

var (
	quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
	t0    = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// kind is a shorthand for what happened to a call.
type kind int

const (
	allowed kind = iota
	blocked
	blockedVoicemail
	passed
	failed
	failedVoicemail
	abandoned
	heldBlock
	heldChallenge
	monitorAllow
)

func result(id, profile, did string, at time.Time, k kind, reasons ...policy.Reason) *decision.Result {
	r := &decision.Result{
		ID: id, Time: at, Profile: profile, Dialed: did, Caller: "+12125550100",
		Decision:  policy.Decision{Action: policy.Allow, Mode: policy.ModeEnforce, Reasons: reasons},
		Result:    policy.ResultAllow,
		Challenge: policy.OutcomeNone,
	}
	d := &r.Decision
	switch k {
	case blocked:
		d.Action, r.Result = policy.Block, policy.ResultBlock
	case blockedVoicemail:
		d.Action, r.Result = policy.Block, policy.ResultVoicemail
	case passed:
		d.Action, r.Challenge = policy.Challenge, policy.OutcomePassed
	case failed:
		d.Action, r.Challenge, r.Result = policy.Challenge, policy.OutcomeFailed, policy.ResultBlock
	case failedVoicemail:
		d.Action, r.Challenge, r.Result = policy.Challenge, policy.OutcomeFailed, policy.ResultVoicemail
	case abandoned:
		d.Action, r.Challenge, r.Result = policy.Challenge, policy.OutcomeAbandoned, policy.ResultBlock
	case heldBlock:
		d.Mode, d.Held = policy.ModeMonitor, policy.Block
		d.Reasons = append(d.Reasons, policy.MonitorMode)
	case heldChallenge:
		d.Mode, d.Held = policy.ModeMonitor, policy.Challenge
		d.Reasons = append(d.Reasons, policy.MonitorMode)
	case monitorAllow:
		d.Mode, d.Held = policy.ModeMonitor, policy.Allow
		d.Reasons = append(d.Reasons, policy.MonitorMode)
	}
	return r
}

func TestCountsAdd(t *testing.T) {
	tests := []struct {
		name string
		k    kind
		want Counts
	}{
		{"allowed", allowed, Counts{Calls: 1, Allowed: 1}},
		{"blocked", blocked, Counts{Calls: 1, Blocked: 1, Intercepted: 1}},
		{"blocked to voicemail", blockedVoicemail, Counts{Calls: 1, Blocked: 1, Intercepted: 1, Voicemail: 1}},
		{"passed", passed, Counts{Calls: 1, Challenged: 1, Passed: 1}},
		{"failed", failed, Counts{Calls: 1, Challenged: 1, Failed: 1, Intercepted: 1}},
		{"failed to voicemail", failedVoicemail, Counts{Calls: 1, Challenged: 1, Failed: 1, Intercepted: 1, Voicemail: 1}},
		{"abandoned", abandoned, Counts{Calls: 1, Challenged: 1, Abandoned: 1, Intercepted: 1}},
		{"held block", heldBlock, Counts{Calls: 1, Allowed: 1, Monitored: 1, HeldBlock: 1, Reasons: map[policy.Reason]int64{policy.MonitorMode: 1}}},
		{"held challenge", heldChallenge, Counts{Calls: 1, Allowed: 1, Monitored: 1, HeldChallenge: 1, Reasons: map[policy.Reason]int64{policy.MonitorMode: 1}}},
		{"monitor allow", monitorAllow, Counts{Calls: 1, Allowed: 1, Monitored: 1, Reasons: map[policy.Reason]int64{policy.MonitorMode: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call := FromResult(result("1", "p", "+18005550100", t0, tt.k))
			var got Counts
			got.add(&call)
			if !equalCounts(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
	// Unknown reason codes (from a later version's log) are not counted.
	call := Call{Action: policy.Allow, Reasons: []policy.Reason{"made.up", policy.ListBlock}}
	var c Counts
	c.add(&call)
	if len(c.Reasons) != 1 || c.Reasons[policy.ListBlock] != 1 {
		t.Fatalf("reasons %v", c.Reasons)
	}
}

// TestCountsNames: add and each (the names written to Redis) count the
// same, and every counter of Counts has a name mergeCounters adds.
func TestCountsNames(t *testing.T) {
	for k := range monitorAllow + 1 {
		call := FromResult(result("1", "p", "+18005550100", t0, k, policy.CallerAnonymous))
		var direct, named Counts
		direct.add(&call)
		named.each(&call, func(name string, n int64) { named.addNamed(name, n) })
		if !equalCounts(direct, named) {
			t.Fatalf("kind %d: add %+v, each %+v", k, direct, named)
		}
	}
	var one, sum Counts
	for _, k := range counters {
		*k.get(&one) = 1
	}
	sum.mergeCounters(&one)
	for _, k := range counters {
		if *k.get(&sum) != 1 {
			t.Errorf("mergeCounters leaves out %s", k.name)
		}
	}
	if len(counters) != reflect.TypeFor[Counts]().NumField()-1 {
		t.Errorf("%d counters named for %d fields of Counts", len(counters), reflect.TypeFor[Counts]().NumField()-1)
	}
}

func equalCounts(a, b Counts) bool {
	for _, k := range counters {
		if *k.get(&a) != *k.get(&b) {
			return false
		}
	}
	if len(a.Reasons) != len(b.Reasons) {
		return false
	}
	for r, n := range a.Reasons {
		if b.Reasons[r] != n {
			return false
		}
	}
	return true
}

func TestDIDLabel(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+18005550100", "+18005550100"},
		{"5550100", "5550100"},
		{"*67", "*67"},
		{"", DIDUnknown},
		{"s", DIDUnknown},
		{"+1800\x1f555", DIDUnknown},
		{"+1800555010000000000000", DIDUnknown},
		{"sales|x", DIDUnknown},
	}
	for _, tt := range tests {
		if got := didLabel(tt.in); got != tt.want {
			t.Errorf("didLabel(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestPlan(t *testing.T) {
	at := func(h, m int) time.Time { return t0.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	m := func(tm time.Time) int64 { return tm.Unix() / 60 }
	h := func(tm time.Time) int64 { return tm.Unix() / 3600 }
	farFloor := m(at(-100, 0))
	tests := []struct {
		name     string
		from, to time.Time
		fine     bool
		floor    int64
		want     []segment
	}{
		{"within an hour", at(0, 10), at(0, 40), false, farFloor, []segment{{minute, m(at(0, 10)), m(at(0, 40))}}},
		{"ragged ends", at(0, 10), at(3, 20), false, farFloor, []segment{
			{hour, h(at(1, 0)), h(at(3, 0))}, {minute, m(at(0, 10)), m(at(1, 0))}, {minute, m(at(3, 0)), m(at(3, 20))}}},
		{"aligned", at(0, 0), at(2, 0), false, farFloor, []segment{{hour, h(at(0, 0)), h(at(2, 0))}}},
		{"fine", at(0, 10), at(3, 20), true, farFloor, []segment{{minute, m(at(0, 10)), m(at(3, 20))}}},
		{"seconds round up to the next minute", at(0, 10).Add(30 * time.Second), at(0, 12).Add(time.Second),
			false, farFloor, []segment{{minute, m(at(0, 11)), m(at(0, 13))}}},
		{"old part in hours", at(0, 10), at(3, 20), true, m(at(2, 0)), []segment{
			{hour, h(at(1, 0)), h(at(2, 0))}, {minute, m(at(2, 0)), m(at(3, 20))}}},
		{"all old: an hour counts when it starts in the range", at(0, 10), at(3, 20), false, m(at(9, 0)), []segment{
			{hour, h(at(1, 0)), h(at(3, 0))}, {hour, h(at(3, 0)), h(at(4, 0))}}},
		{"empty", at(1, 0), at(1, 0), false, farFloor, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := plan(tt.from, tt.to, tt.fine, tt.floor)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("plan = %v\nwant   %v", got, tt.want)
			}
		})
	}
}

func TestParseRange(t *testing.T) {
	ret := 8 * 24 * time.Hour
	tests := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"1h", time.Hour, ""},
		{"24h", 24 * time.Hour, ""},
		{"7d", 7 * 24 * time.Hour, ""},
		{"90m", 90 * time.Minute, ""},
		{"all", ret, ""},
		{"ALL", ret, ""},
		{"9d", 0, "statistics go back 8d"},
		{"forever", 0, "want a duration"},
		{"-1h", 0, "want a duration"},
		{"10s", 0, "at least 1m"},
		{"", 0, "want a duration"},
	}
	for _, tt := range tests {
		got, err := ParseRange(tt.in, ret)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseRange(%q) = %v, %v; want error %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseRange(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func newStats(t *testing.T, c *clock, o Options) *Stats {
	t.Helper()
	o.Now = c.now
	o.Logger = quiet
	return New(o)
}

func TestSummary(t *testing.T) {
	c := &clock{t: t0.Add(-3 * time.Hour)}
	s := newStats(t, c, Options{})
	const sales, support = "+18005550100", "+18005550200"
	rs := []*decision.Result{
		result("1", "sales", sales, t0.Add(-2*time.Hour-30*time.Minute), blocked, policy.ListBlock),
		result("2", "sales", sales, t0.Add(-90*time.Minute), passed, policy.CallerAnonymous),
		result("3", "sales", sales, t0.Add(-30*time.Minute), failed, policy.CallerAnonymous),
		result("4", "sales", sales, t0.Add(-20*time.Minute), allowed),
		result("5", "sales", sales, t0.Add(-10*time.Minute), failedVoicemail, policy.CallerInvalid),
		result("6", "pilot", support, t0.Add(-10*time.Minute), heldBlock, policy.FeedDailyReport),
		result("7", "pilot", support, t0.Add(-5*time.Minute), heldChallenge, policy.CallerAnonymous),
		result("8", "pilot", support, t0.Add(-5*time.Minute), monitorAllow),
		result("9", "pilot", support, t0.Add(-1*time.Minute), abandoned, policy.CallerAnonymous),
		result("old", "sales", sales, t0.Add(-30*time.Hour), blocked, policy.ListBlock),
	}
	for _, r := range rs {
		s.Record(r)
	}
	c.set(t0)
	sum, err := s.Summary(context.Background(), Query{From: t0.Add(-time.Hour), To: t0})
	if err != nil {
		t.Fatal(err)
	}
	if sum.StepSeconds != 60 || len(sum.Series.Time) != 60 || sum.Shared || sum.Warning != "" {
		t.Fatalf("step %d, %d points, shared %v, warning %q", sum.StepSeconds, len(sum.Series.Time), sum.Shared, sum.Warning)
	}
	if len(sum.Profiles) != 2 || sum.Profiles[0].Profile != "pilot" || sum.Profiles[1].Profile != "sales" {
		t.Fatalf("profiles %+v", sum.Profiles)
	}
	pilot, salesRow, total := sum.Profiles[0], sum.Profiles[1], sum.Total
	if salesRow.Calls != 3 || salesRow.Allowed != 1 || salesRow.Challenged != 2 || salesRow.Failed != 2 || salesRow.Voicemail != 1 ||
		salesRow.Intercepted != 2 || salesRow.JunkShare != 2.0/3 || salesRow.PassThrough != 0 {
		t.Errorf("sales %+v", salesRow.Figures)
	}
	if pilot.Calls != 4 || pilot.Monitored != 3 || pilot.Held != 2 || pilot.HeldBlock != 1 || pilot.WouldBlockRate != 1.0/3 ||
		pilot.WouldChallengeRate != 1.0/3 || pilot.Abandoned != 1 || pilot.JunkShare != 0.25 || pilot.InterceptionRate != 0.25 {
		t.Errorf("pilot %+v", pilot.Figures)
	}
	if total.Profile != "*" || total.Calls != 7 || total.Total != 7 || total.Intercepted != 3 {
		t.Errorf("total %+v", total.Figures)
	}
	wantTop := []string{"caller.anonymous", "caller.invalid", "feed.daily_report"}
	var top []string
	for _, r := range total.TopReasons {
		top = append(top, r.Code)
	}
	if !slices.Equal(top, wantTop) || total.TopReasons[0].Count != 3 || total.TopReasons[0].Description == "" {
		t.Errorf("top reasons %+v", total.TopReasons)
	}
	// The series: one point a minute, calls where they were made.
	var calls, allow, block, vm int64
	for i := range sum.Series.Time {
		calls += sum.Series.Calls[i]
		allow += sum.Series.ResultAllow[i]
		block += sum.Series.ResultBlock[i]
		vm += sum.Series.ResultVoicemail[i]
	}
	if calls != 7 || allow != 4 || block != 2 || vm != 1 {
		t.Errorf("series sums calls %d allow %d block %d voicemail %d", calls, allow, block, vm)
	}
	i := slices.Index(sum.Series.Time, t0.Add(-5*time.Minute).Unix())
	if i < 0 || sum.Series.Calls[i] != 2 || sum.Series.WouldBlockRate[i] == nil || *sum.Series.WouldBlockRate[i] != 0 ||
		*sum.Series.WouldChallengeRate[i] != 0.5 || sum.Series.InterceptionRate[0] != nil {
		t.Errorf("point at -5m: %d", i)
	}

	// Filters.
	sum, err = s.Summary(context.Background(), Query{From: t0.Add(-time.Hour), To: t0, Profile: "sales"})
	if err != nil || sum.Total.Calls != 3 || len(sum.Profiles) != 1 {
		t.Fatalf("profile filter: %+v %v", sum.Total, err)
	}
	sum, err = s.Summary(context.Background(), Query{From: t0.Add(-time.Hour), To: t0, DID: support})
	if err != nil || sum.Total.Calls != 4 {
		t.Fatalf("DID filter: %+v %v", sum.Total, err)
	}

	// 24 h: a 15-minute step; 7 d: two hours, the old block included.
	sum, err = s.Summary(context.Background(), Query{From: t0.Add(-24 * time.Hour), To: t0})
	if err != nil || sum.StepSeconds != 900 || len(sum.Series.Time) != 96 || sum.Total.Calls != 9 || sum.Total.Blocked != 1 {
		t.Fatalf("24h: step %d, %d points, %+v, %v", sum.StepSeconds, len(sum.Series.Time), sum.Total, err)
	}
	sum, err = s.Summary(context.Background(), Query{From: t0.Add(-7 * 24 * time.Hour), To: t0})
	if err != nil || sum.StepSeconds != 7200 || sum.Total.Calls != 10 || sum.Total.Blocked != 2 {
		t.Fatalf("7d: step %d, %+v, %v", sum.StepSeconds, sum.Total, err)
	}

	// Bad queries.
	for _, q := range []Query{
		{From: t0, To: t0},
		{From: t0.Add(-time.Hour), To: t0, Step: 30 * time.Second},
		{From: t0.Add(-7 * 24 * time.Hour), To: t0, Step: time.Minute},
	} {
		if _, err := s.Summary(context.Background(), q); err == nil {
			t.Errorf("query %+v: no error", q)
		}
	}
}

// TestHourResolution: beyond MinuteKeep, the figures come from hour
// buckets; the minutes are gone.
func TestHourResolution(t *testing.T) {
	c := &clock{t: t0}
	s := newStats(t, c, Options{MinuteKeep: 2 * time.Hour, Retention: 24 * time.Hour})
	s.Record(result("1", "p", "+18005550100", t0.Add(10*time.Minute), blocked))
	s.Record(result("2", "p", "+18005550100", t0.Add(50*time.Minute), allowed))
	// An hour later both are in minute buckets.
	c.set(t0.Add(time.Hour))
	sum, err := s.Summary(context.Background(), Query{From: t0.Add(30 * time.Minute), To: t0.Add(time.Hour)})
	if err != nil || sum.Total.Calls != 1 || sum.Total.Allowed != 1 {
		t.Fatalf("minutes: %+v %v", sum.Total, err)
	}
	// Five hours later only hours are left: the hour that starts within
	// the range counts whole, the one before it does not.
	c.set(t0.Add(5 * time.Hour))
	s.Record(result("3", "p", "+18005550100", t0.Add(5*time.Hour), allowed)) // prunes
	sum, err = s.Summary(context.Background(), Query{From: t0.Add(30 * time.Minute), To: t0.Add(5 * time.Hour)})
	if err != nil || sum.Total.Calls != 0 {
		t.Fatalf("hour starting before the range: %+v %v", sum.Total, err)
	}
	sum, err = s.Summary(context.Background(), Query{From: t0, To: t0.Add(5 * time.Hour)})
	if err != nil || sum.Total.Calls != 2 {
		t.Fatalf("hour starting within the range: %+v %v", sum.Total, err)
	}
	// After the retention, nothing.
	c.set(t0.Add(30 * time.Hour))
	s.Record(result("4", "p", "+18005550100", t0.Add(30*time.Hour), allowed))
	sum, err = s.Summary(context.Background(), Query{From: t0.Add(6 * time.Hour), To: t0.Add(30 * time.Hour)})
	if err != nil || sum.Total.Calls != 0 {
		t.Fatalf("after the retention: %+v %v", sum.Total, err)
	}
	s.local.mu.RLock()
	nm, nh := len(s.local.t.slots[minute]), len(s.local.t.slots[hour])
	s.local.mu.RUnlock()
	if nm != 1 || nh != 1 {
		t.Fatalf("%d minute and %d hour slots kept after pruning; want 1 and 1", nm, nh)
	}
}

func TestMaxDIDs(t *testing.T) {
	c := &clock{t: t0}
	s := newStats(t, c, Options{MaxDIDs: 2})
	for i, did := range []string{"+18005550001", "+18005550002", "+18005550003", "+18005550001", "s", ""} {
		s.Record(result(string(rune('a'+i)), "p", did, t0, allowed))
	}
	rows, _, err := s.DIDs(context.Background(), Query{From: t0.Add(-time.Hour), To: t0.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, r := range rows {
		got[r.DID] = r.Calls
	}
	want := map[string]int64{"+18005550001": 2, "+18005550002": 1, DIDOther: 1, DIDUnknown: 2}
	if len(got) != len(want) {
		t.Fatalf("rows %v; want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("rows %v; want %v", got, want)
		}
	}
}

func TestDIDs(t *testing.T) {
	c := &clock{t: t0}
	s := newStats(t, c, Options{Release: Release{JunkShare: 0.5, Days: 2, MinCalls: 4}})
	const junky, clean, young = "+18005550100", "+18005550200", "+18005550300"
	n := 0
	rec := func(did string, at time.Time, k kind, reasons ...policy.Reason) {
		n++
		s.Record(result(string(rune(n)), "sales", did, at, k, reasons...))
	}
	// junky: three days of 3 blocks in 4 calls; clean: all allowed; young:
	// junk only today.
	for day := range 3 {
		base := t0.Add(-time.Duration(day)*24*time.Hour - 2*time.Hour)
		for i := range 3 {
			rec(junky, base.Add(time.Duration(i)*time.Minute), blocked, policy.FeedDailyReport, policy.FeedRobocall)
		}
		rec(junky, base.Add(5*time.Minute), passed, policy.CallerAnonymous)
		for i := range 4 {
			rec(clean, base.Add(time.Duration(i)*time.Minute), allowed)
		}
	}
	for i := range 4 {
		rec(young, t0.Add(-time.Hour+time.Duration(i)*time.Minute), failed, policy.CallerAnonymous)
	}
	// Two days ago junky also had clean calls: that day is not above the
	// threshold, and the period before the range has a lower junk share.
	for i := range 4 {
		rec(junky, t0.Add(-47*time.Hour-30*time.Minute+time.Duration(i)*time.Minute), allowed)
	}

	rows, src, err := s.DIDs(context.Background(), Query{From: t0.Add(-24 * time.Hour), To: t0})
	if err != nil || src.Shared || src.Warning != "" {
		t.Fatalf("DIDs: %v %+v", err, src)
	}
	var order []string
	for _, r := range rows {
		order = append(order, r.DID)
	}
	if !slices.Equal(order, []string{young, junky, clean}) {
		t.Fatalf("order %v", order)
	}
	y, j, cl := rows[0], rows[1], rows[2]
	if j.Calls != 4 || j.Blocked != 3 || j.Passed != 1 || j.JunkShare != 0.75 || !slices.Equal(j.Profiles, []string{"sales"}) {
		t.Errorf("junky %+v", j)
	}
	if len(j.TopReasons) != 3 || j.TopReasons[0].Code != "feed.daily_report" || j.TopReasons[0].Count != 3 {
		t.Errorf("junky top reasons %+v", j.TopReasons)
	}
	if j.DaysAbove != 2 || !strings.Contains(j.ReleaseHint, "consider releasing") || !strings.Contains(j.ReleaseHint, "above 50% on each of the last 2 days") {
		t.Errorf("junky release: %d %q", j.DaysAbove, j.ReleaseHint)
	}
	if j.PreviousJunkShare == nil || *j.PreviousJunkShare != 0.375 || j.TrendDirection != "up" {
		t.Errorf("junky previous %v %q", j.PreviousJunkShare, j.TrendDirection)
	}
	if len(j.Trend) != 12 {
		t.Errorf("junky trend has %d points", len(j.Trend))
	}
	var trendCalls int64
	for _, p := range j.Trend {
		trendCalls += p.Calls
	}
	if trendCalls != 4 {
		t.Errorf("junky trend calls %d", trendCalls)
	}
	if y.JunkShare != 1 || y.Failed != 4 || y.DaysAbove != 1 || y.ReleaseHint != "" || y.PreviousJunkShare != nil || y.TrendDirection != "" {
		t.Errorf("young %+v", y)
	}
	if cl.JunkShare != 0 || cl.Calls != 4 || cl.DaysAbove != 0 || cl.TrendDirection != "flat" {
		t.Errorf("clean %+v", cl)
	}
	// Profile filter.
	rows, _, err = s.DIDs(context.Background(), Query{From: t0.Add(-24 * time.Hour), To: t0, Profile: "nobody"})
	if err != nil || len(rows) != 0 {
		t.Fatalf("filtered: %v %v", rows, err)
	}
}

func TestPerDIDMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	c := &clock{t: t0}
	s := newStats(t, c, Options{MetricDIDs: []string{"+18005550100"}, Metrics: NewMetrics(reg)})
	s.Record(result("1", "p", "+18005550100", t0, blocked))
	s.Record(result("2", "p", "+18005550100", t0, failed))
	s.Record(result("3", "p", "+18005550100", t0, passed))
	s.Record(result("4", "p", "+18005550999", t0, blocked)) // not named: no series
	want := `
# HELP callscreen_stats_did_calls_total Calls screened for each DID named in stats.dids, by result (allow, block, voicemail).
# TYPE callscreen_stats_did_calls_total counter
callscreen_stats_did_calls_total{did="+18005550100",result="allow"} 1
callscreen_stats_did_calls_total{did="+18005550100",result="block"} 2
# HELP callscreen_stats_did_challenges_total Challenges that ended for each DID named in stats.dids, by outcome (passed, failed, abandoned).
# TYPE callscreen_stats_did_challenges_total counter
callscreen_stats_did_challenges_total{did="+18005550100",outcome="failed"} 1
callscreen_stats_did_challenges_total{did="+18005550100",outcome="passed"} 1
# HELP callscreen_stats_did_junk_total Junk calls (blocked, failed challenges, blocks held by monitor mode) for each DID named in stats.dids.
# TYPE callscreen_stats_did_junk_total counter
callscreen_stats_did_junk_total{did="+18005550100"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"callscreen_stats_did_calls_total", "callscreen_stats_did_challenges_total", "callscreen_stats_did_junk_total"); err != nil {
		t.Fatal(err)
	}
}
