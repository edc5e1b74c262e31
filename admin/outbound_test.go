package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/callscreen/callscreen/cdr"
	"github.com/callscreen/callscreen/internal/citest"
	"github.com/callscreen/callscreen/outbound"
)

// outboundFunc adapts a function to Outbound.
type outboundFunc func(ctx context.Context) (outbound.Status, error)

func (f outboundFunc) Status(ctx context.Context) (outbound.Status, error) { return f(ctx) }

var _ Outbound = outboundFunc(nil)

// fixtureStatus is the status the fixture's calls give, judged with
// min_calls 4 so both numbers are flagged.
func fixtureStatus(t *testing.T) outbound.Status {
	t.Helper()
	th := outbound.DefaultThresholds()
	th.MinCalls = 4
	a := outbound.New(outbound.Options{Thresholds: th})
	if _, err := cdr.ReadCSVFile("../cdr/testdata/Master-outbound.csv", cdr.CSVOptions{Layout: cdr.DefaultLayout}, func(r *cdr.Record) error {
		a.Add(r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return outbound.Status{Source: "/var/log/asterisk/cdr-csv/Master.csv", Updated: t0, WindowDays: 7, Since: "2026-12-01", Report: a.Report()}
}

func outboundServer(t *testing.T, token string, ob Outbound) *httptest.Server {
	t.Helper()
	recent := NewRecent(RecentOptions{})
	srv, err := New(Options{Listen: "127.0.0.1:0", Token: token, Outbound: ob, Decisions: recent, Stream: recent,
		Lists: newMemLists(), Feedback: &memFeedback{}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
	})
	return ts
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestOutboundAPI(t *testing.T) {
	st := fixtureStatus(t)
	tests := []struct {
		name  string
		ob    Outbound
		token string
		code  int
		want  []string
	}{
		{"not configured", nil, testToken, 501, []string{"outbound health is not configured: set outbound.cdr_file or outbound.dsn"}},
		{"no token", outboundFunc(func(context.Context) (outbound.Status, error) { return st, nil }), "", 401, []string{"token"}},
		{"report", outboundFunc(func(context.Context) (outbound.Status, error) { return st, nil }), testToken, 200,
			[]string{`"source":"/var/log/asterisk/cdr-csv/Master.csv"`, `"window_days":7`, `"since":"2026-12-01"`,
				`"number":"+15551230002"`, `"calls":5`, `"short":3`, `"unreachable":2`, `"verdict":"likely_spam"`,
				`"summary":"likely to be labelled spam: 100% of answered calls under 6 s, 40% of calls to unreachable numbers"`,
				`"thresholds":{"short_call_seconds":6`}},
		{"source failing", outboundFunc(func(context.Context) (outbound.Status, error) {
			s := st
			s.Error = "cdr database callscreen@tcp(127.0.0.1:3306)/asteriskcdrdb table cdr: connection refused"
			return s, nil
		}), testToken, 200, []string{`"error":"cdr database callscreen@tcp(127.0.0.1:3306)/asteriskcdrdb table cdr: connection refused"`, `"number":"+15551230001"`}},
		{"no status", outboundFunc(func(context.Context) (outbound.Status, error) { return outbound.Status{}, errors.New("boom") }), testToken, 500,
			[]string{"outbound failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := outboundServer(t, testToken, tt.ob)
			code, body := get(t, ts.URL+"/api/v1/outbound", tt.token)
			if code != tt.code {
				t.Fatalf("status %d, want %d: %s", code, tt.code, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("%s lacks %s", body, w)
				}
			}
			_, sess := get(t, ts.URL+"/api/v1/session", "")
			var s map[string]bool
			if err := json.Unmarshal([]byte(sess), &s); err != nil || s["outbound"] != (tt.ob != nil) {
				t.Errorf("session %s", sess)
			}
		})
	}
}

// TestOutboundPanelInChromium: the panel shows one card per number with
// its verdict and a chart of its calls per day.
func TestOutboundPanelInChromium(t *testing.T) {
	citest.Short(t, "starts Chromium")
	const token = "panel-token"
	st := fixtureStatus(t)
	st.Numbers[1].Verdict, st.Numbers[1].Summary = outbound.VerdictOK, `healthy: <b>not html</b>`
	ts := outboundServer(t, token, outboundFunc(func(context.Context) (outbound.Status, error) { return st, nil }))
	ctx, problems := browser(t)
	var cards, bars, shortBars, unreachableBars, bolds int
	var first, firstVerdict, summary, status string
	err := chromedp.Run(ctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible("#login-form", chromedp.ByQuery),
		chromedp.SendKeys("#token", token, chromedp.ByQuery),
		chromedp.Click(`#login-form button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#outbound[data-loaded="true"]`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll('#outbound .ob-card').length`, &cards),
		chromedp.Evaluate(`document.querySelector('#outbound .ob-card').dataset.number`, &first),
		chromedp.Evaluate(`document.querySelector('#outbound .ob-card').dataset.verdict`, &firstVerdict),
		chromedp.Evaluate(`document.querySelectorAll('#outbound .ob-card svg.ob-chart rect[data-series]').length`, &bars),
		chromedp.Evaluate(`document.querySelectorAll('#outbound .ob-card:first-child rect[data-series="short"]').length`, &shortBars),
		chromedp.Evaluate(`document.querySelectorAll('#outbound .ob-card:first-child rect[data-series="unreachable"]').length`, &unreachableBars),
		chromedp.Text(`#outbound .ob-card:nth-child(2) .ob-summary`, &summary, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll('#outbound b').length`, &bolds),
		chromedp.Text(`#outbound-status`, &status, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("panel: %v; page problems %v", err, problems())
	}
	if cards != 2 || first != "+15551230002" || firstVerdict != "likely_spam" {
		t.Errorf("cards %d, first %s %s", cards, first, firstVerdict)
	}
	// +15551230002: short and unreachable on 2 December; +15551230001:
	// short, unreachable, busy and no answer.
	if shortBars != 1 || unreachableBars != 1 || bars != 6 {
		t.Errorf("bars: %d in all, %d short, %d unreachable", bars, shortBars, unreachableBars)
	}
	if summary != "healthy: <b>not html</b>" || bolds != 0 {
		t.Errorf("summary shown as %q (%d <b> elements)", summary, bolds)
	}
	if !strings.Contains(status, "Master.csv") || !strings.Contains(status, "7 days") {
		t.Errorf("status line %q", status)
	}
	if p := problems(); len(p) != 0 {
		t.Errorf("page logged errors:\n%s", strings.Join(p, "\n"))
	}
}
