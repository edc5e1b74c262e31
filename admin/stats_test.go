package admin

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/stats"
)

// newStatsHarness is newHarness with statistics, at t0 + 1h.
func newStatsHarness(t *testing.T) (*harness, *stats.Stats) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg)
	now := func() time.Time { return t0.Add(time.Hour) }
	st := stats.New(stats.Options{Now: now, Logger: quiet, Release: stats.Release{JunkShare: 0.5, Days: 1, MinCalls: 2}})
	h := &harness{recent: NewRecent(RecentOptions{Metrics: m}), lists: newMemLists(), feedback: &memFeedback{}, m: m, reg: reg}
	srv, err := New(Options{
		Listen: "127.0.0.1:0", Token: testToken, Gatherer: reg, Lists: h.lists, Feedback: h.feedback,
		Decisions: h.recent, Stream: h.recent, Stats: st, Logger: quiet, Metrics: m, Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	h.ts = httptest.NewServer(srv.Handler())
	t.Cleanup(h.ts.Close)
	return h, st
}

func recordAll(rec decision.Recorder, rs ...*decision.Result) {
	for _, r := range rs {
		rec.Record(r)
	}
}

func TestStatsAPI(t *testing.T) {
	h, st := newStatsHarness(t)
	at := t0.Add(30 * time.Minute)
	monitor := newDecision("6", "+12125550105", "pilot", at, policy.Allow, policy.ResultAllow, policy.OutcomeNone, policy.FeedDailyReport, policy.MonitorMode)
	monitor.Decision.Mode, monitor.Decision.Held = policy.ModeMonitor, policy.Block
	monitor.Dialed = "+18005550200"
	recordAll(st,
		newDecision("1", "+12125550100", "sales", at, policy.Block, policy.ResultBlock, policy.OutcomeNone, policy.ListBlock),
		newDecision("2", "+12125550101", "sales", at, policy.Challenge, policy.ResultAllow, policy.OutcomePassed, policy.CallerAnonymous),
		newDecision("3", "+12125550102", "sales", at, policy.Challenge, policy.ResultBlock, policy.OutcomeFailed, policy.CallerAnonymous),
		newDecision("4", "+12125550103", "sales", at, policy.Challenge, policy.ResultBlock, policy.OutcomeAbandoned, policy.CallerAnonymous),
		newDecision("5", "+12125550104", "sales", at, policy.Allow, policy.ResultAllow, policy.OutcomeNone),
		monitor,
		newDecision("old", "+12125550106", "sales", at.Add(-3*time.Hour), policy.Block, policy.ResultBlock, policy.OutcomeNone, policy.ListBlock),
	)

	code, body := h.do(t, "GET", "/api/v1/stats?range=1h", testToken, nil)
	var sum stats.Summary
	if code != 200 || json.Unmarshal([]byte(body), &sum) != nil {
		t.Fatalf("stats: %d %s", code, body)
	}
	for _, key := range []string{`"step_seconds":60`, `"held":1`, `"would_block_rate":1`, `"challenge_pass_through"`, `"junk_share"`,
		`"top_reasons":[{"code":"caller.anonymous"`, `"series":{"time":[`, `"result_block":[`, `"retention_seconds":691200`, `"shared":false`} {
		if !strings.Contains(body, key) {
			t.Errorf("stats body lacks %s: %s", key, body)
		}
	}
	if len(sum.Profiles) != 2 || sum.Total.Calls != 6 || sum.Total.Intercepted != 3 || sum.Total.InterceptionRate != 0.5 {
		t.Fatalf("summary %+v", sum.Total)
	}
	sales := sum.Profiles[1]
	if sales.Profile != "sales" || sales.Calls != 5 || sales.Blocked != 1 || sales.Challenged != 3 || sales.Passed != 1 ||
		sales.Failed != 1 || sales.Abandoned != 1 || sales.PassThrough != 1.0/3 || sales.JunkShare != 0.4 {
		t.Errorf("sales %+v", sales.Figures)
	}
	if code, body := h.do(t, "GET", "/api/v1/stats?range=all", testToken, nil); code != 200 || !strings.Contains(body, `"total":7`) {
		t.Errorf("all: %d %s", code, body)
	}
	if code, body := h.do(t, "GET", "/api/v1/stats?range=1h&did=%2B18005550200", testToken, nil); code != 200 || !strings.Contains(body, `"calls":1,`) {
		t.Errorf("did filter: %d %s", code, body)
	}

	code, body = h.do(t, "GET", "/api/v1/stats/dids?range=24h", testToken, nil)
	var rows []map[string]any
	if code != 200 || json.Unmarshal([]byte(body), &rows) != nil || len(rows) != 2 {
		t.Fatalf("dids: %d %s", code, body)
	}
	for _, row := range rows {
		for _, k := range []string{"did", "calls", "allowed", "blocked", "challenged", "passed", "failed", "abandoned", "junk_share",
			"top_reasons", "trend", "release_hint", "previous_junk_share", "trend_direction", "profiles", "held"} {
			if _, ok := row[k]; !ok {
				t.Errorf("row %v lacks %s", row["did"], k)
			}
		}
		if js := row["junk_share"].(float64); js < 0 || js > 1 {
			t.Errorf("junk share %v", js)
		}
	}
	// Most junk first: the monitor DID (a held block: junk 1/1), then the
	// sales line (3 junk of 6).
	if rows[0]["did"] != "+18005550200" || rows[0]["junk_share"] != 1.0 || rows[1]["did"] != "+18005550100" || rows[1]["junk_share"] != 0.5 ||
		rows[1]["calls"] != 6.0 || rows[1]["blocked"] != 2.0 {
		t.Errorf("rows %v", rows)
	}
	if hint, _ := rows[0]["release_hint"].(string); hint != "" {
		t.Errorf("a DID with one call got a release hint %q", hint)
	}
	if hint, _ := rows[1]["release_hint"].(string); hint != "" {
		t.Errorf("a DID at the threshold (not above) got a release hint %q", hint)
	}

	code, body = h.do(t, "GET", "/api/v1/stats/dids.csv?range=24h", testToken, nil)
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if code != 200 || err != nil || len(recs) != 3 || recs[0][0] != "did" || recs[1][0] != "+18005550200" || recs[2][11] != "0.5000" {
		t.Errorf("dids.csv: %d %v %q", code, err, body)
	}

	for _, tt := range []struct{ path, err string }{
		{"/api/v1/stats?range=9d", "statistics go back 8d"},
		{"/api/v1/stats?range=soon", "want a duration"},
		{"/api/v1/stats?range=1h&step=30s", "step 30s: want whole minutes"},
		{"/api/v1/stats?range=7d&step=1m", "at most 2000"},
		{"/api/v1/stats?from=2020-01-01T00:00:00Z", "longer than the statistics keep"},
		{"/api/v1/stats/dids?did=sales", `sales\" is not a phone number`},
		{"/api/v1/stats/dids?profile=%07", "profile contains a control character"},
	} {
		code, body := h.do(t, "GET", tt.path, testToken, nil)
		if code != http.StatusBadRequest || !strings.Contains(body, tt.err) {
			t.Errorf("%s: %d %s; want 400 with %q", tt.path, code, body, tt.err)
		}
	}
	if code, _ := h.do(t, "GET", "/api/v1/stats/dids", "", nil); code != http.StatusUnauthorized {
		t.Errorf("dids without the token: %d", code)
	}
}

func TestStatsAPIUnavailable(t *testing.T) {
	h := newHarness(t, testToken)
	if code, body := h.do(t, "GET", "/api/v1/stats/dids", testToken, nil); code != http.StatusNotImplemented || !strings.Contains(body, "statistics are not available") {
		t.Fatalf("dids without statistics: %d %s", code, body)
	}
}
