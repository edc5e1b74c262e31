package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/callscreen/callscreen/agi"
	"github.com/callscreen/callscreen/agi/agitest"
	"github.com/callscreen/callscreen/audit"
	"github.com/callscreen/callscreen/bridge"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/internal/citest"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/screen"
	"github.com/callscreen/callscreen/stats"
)

// stack is callscreen assembled in process: a FastAGI server screening
// with a real screen.Flow whose list source is the admin's list store, the
// decision log, the recent-decisions store, the statistics and the admin
// server.
type stack struct {
	adminURL string
	agiAddr  string
	token    string
	lists    *memLists
	feedback *memFeedback
	reg      *prometheus.Registry
	log      *audit.Log
	stats    *stats.Stats
}

func newStack(t *testing.T, token string) *stack {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	st := &stack{lists: newMemLists(), feedback: &memFeedback{}, reg: reg, token: token}
	alog, err := audit.Open(audit.Options{Dir: t.TempDir(), Logger: quiet, Metrics: audit.NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	st.log = alog
	recent := NewRecent(RecentOptions{Metrics: m})
	st.stats = stats.New(stats.Options{Logger: quiet, Metrics: stats.NewMetrics(reg), Release: stats.Release{JunkShare: 0.5, Days: 2, MinCalls: 3}})
	flow := &screen.Flow{
		Source:   reputation.Chain{{Name: "lists", Source: st.lists}},
		Recorder: decision.Recorders{alog, recent, st.stats},
		Logger:   quiet,
		Metrics:  screen.NewMetrics(reg),
	}
	ctx, cancel := context.WithCancel(context.Background())
	agiSrv := &agi.Server{Handler: bridge.AGIHandler(func() *screen.Flow { return flow }), Logger: quiet, Metrics: agi.NewMetrics(reg)}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = agiSrv.Serve(ctx, l) }()
	st.agiAddr = l.Addr().String()

	srv, err := New(Options{
		Listen: "127.0.0.1:0", Token: token, Gatherer: reg, Checker: flow, Lists: st.lists, Feedback: st.feedback,
		Decisions: recent, Stream: recent, Stats: st.stats, Logger: quiet, Metrics: m,
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	st.adminURL = ts.URL
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
		cancel()
		_ = agiSrv.Shutdown(context.Background())
		<-done
		_ = alog.Close(context.Background())
	})
	return st
}

// call places one call through FastAGI as Asterisk would and returns the
// routing variables it ended with.
func (st *stack) call(t *testing.T, caller, name string) map[string]string {
	t.Helper()
	return st.callTo(t, agitest.Call{
		CallerID: caller, CallerIDName: name, DNID: "+18885550100", Args: []string{"attest=A", "verify=success"},
		Caller: agitest.Caller{Auto: true},
	})
}

func (st *stack) callTo(t *testing.T, c agitest.Call) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c.UniqueID = fmt.Sprintf("%d.1", time.Now().UnixNano())
	tr, err := agitest.Dial(ctx, st.agiAddr, c)
	if err != nil {
		t.Fatalf("call from %s: %v", c.CallerID, err)
	}
	return tr.Vars
}

// get reads an API path with the token.
func (st *stack) get(t *testing.T, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", st.adminURL+path, nil)
	req.Header.Set("Authorization", "Bearer "+st.token)
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || json.Unmarshal(b, v) != nil {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
}

// artifacts is where screenshots go: $CALLSCREEN_ARTIFACTS/<test> when set
// (kept), else the test's temporary directory (logged, removed after).
func artifacts(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if base := os.Getenv("CALLSCREEN_ARTIFACTS"); base != "" {
		dir = filepath.Join(base, t.Name())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// screenshot saves the whole page as name.png.
func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	var buf []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&buf, 100)); err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		t.Error(err)
	}
}

// browser starts headless Chromium with a fresh profile and collects every
// console error, uncaught exception and error log entry of the page.
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if path, err = exec.LookPath("chromium-browser"); err != nil {
			citest.Unavailable(t, "chromium is not installed: run scripts/install-test-deps (make test does)")
		}
	}
	profile, err := os.MkdirTemp("", "callscreen-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithErrorf(func(format string, args ...any) {
		// chromedp does not know the events a <dialog> raises; the rest
		// is worth seeing.
		if msg := fmt.Sprintf(format, args...); !strings.Contains(msg, "unhandled node event *dom.EventTopLayerElementsUpdated") {
			log.Print(msg)
		}
	}))
	ctx, cancelTimeout := context.WithTimeout(bctx, 120*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
		// Chromium's helpers may still be writing the profile for a moment.
		for i := 0; i < 50 && os.RemoveAll(profile) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	})

	var mu sync.Mutex
	var problems []string
	chromedp.ListenTarget(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.APITypeError || e.Type == runtime.APITypeAssert {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				problems = append(problems, "console."+string(e.Type)+": "+strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Error())
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.LevelError {
				problems = append(problems, "log: "+e.Entry.Text+" "+e.Entry.URL)
			}
		}
	})
	if err := chromedp.Run(ctx, cdplog.Enable(), runtime.Enable()); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}

// TestDashboardRefusesWrongToken: a wrong token brings the sign-in form
// back with a message, and nothing is shown.
func TestDashboardRefusesWrongToken(t *testing.T) {
	citest.Short(t, "starts Chromium")
	st := newStack(t, "right")
	ctx, problems := browser(t)
	var msg string
	var appHidden bool
	err := chromedp.Run(ctx,
		chromedp.Navigate(st.adminURL+"/"),
		chromedp.WaitVisible("#login-form", chromedp.ByQuery),
		chromedp.SendKeys("#token", "wrong", chromedp.ByQuery),
		chromedp.Click(`#login-form button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`//p[@id="login-error"][contains(., "refused")]`),
		chromedp.Text("#login-error", &msg, chromedp.ByQuery),
		chromedp.Evaluate(`document.getElementById('app').hidden`, &appHidden),
	)
	if err != nil || !appHidden {
		t.Fatalf("wrong token: %v, message %q, app hidden %v", err, msg, appHidden)
	}
	// The refused request is logged by the browser: the error collector
	// the other test relies on does see errors.
	if p := strings.Join(problems(), "\n"); !strings.Contains(p, "401") {
		t.Errorf("the 401 was not seen by the error collector: %q", p)
	}
}

// signIn opens the page and signs in with token.
func signIn(t *testing.T, ctx context.Context, st *stack, problems func() []string) {
	t.Helper()
	var loginShown bool
	err := chromedp.Run(ctx,
		chromedp.Navigate(st.adminURL+"/"),
		chromedp.WaitVisible("#login-form", chromedp.ByQuery),
		chromedp.Evaluate(`!document.getElementById('login').hidden`, &loginShown),
		chromedp.SendKeys("#token", st.token, chromedp.ByQuery),
		chromedp.Click(`#login-form button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`body[data-ready="true"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#conn.live", chromedp.ByQuery),
	)
	if err != nil || !loginShown {
		t.Fatalf("sign in: %v (login shown %v); page problems %v", err, loginShown, problems())
	}
}

// poll waits until the JavaScript expression is true.
func poll(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	if err := chromedp.Run(ctx, chromedp.Poll(expr, nil, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// text returns the visible text of the first element sel matches, once
// there is one. It is read in one script, so a table the page redraws
// meanwhile (its rows replaced) cannot make it fail half-way.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e ? {text: e.innerText} : null; })()`, sel)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got *struct {
			Text string `json:"text"`
		}
		if err := chromedp.Run(ctx, chromedp.Evaluate(js, &got)); err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		if got != nil {
			return got.Text
		}
		if time.Now().After(deadline) {
			t.Fatalf("text of %s: no such element after 30s", sel)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func click(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	if err := chromedp.Run(ctx, chromedp.Click(sel, chromedp.ByQuery)); err != nil {
		t.Fatalf("click %s: %v", sel, err)
	}
}

// choose sets a select's value as a person would, firing change.
func choose(t *testing.T, ctx context.Context, id, value string) {
	t.Helper()
	js := fmt.Sprintf(`(() => { const s = document.getElementById(%q); s.value = %q; s.dispatchEvent(new Event('change')); return s.value; })()`, id, value)
	var got string
	if err := chromedp.Run(ctx, chromedp.Evaluate(js, &got)); err != nil || got != value {
		t.Fatalf("choose %s = %s: %v (got %q)", id, value, err, got)
	}
}

var dateTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})?$`)

// TestDashboardInChromium: the page signs in, shows a decision made
// through FastAGI in the live tail with its date and reasons, shows a
// hostile caller name as text, offers no buttons for an emergency caller;
// "Block this caller" asks for how long (30 days by default), blocks only
// once confirmed, blocks the next call and expires; "Not spam" on a
// list-blocked caller says why the caller stays blocked; "Report spam"
// reports.
func TestDashboardInChromium(t *testing.T) {
	citest.Short(t, "starts Chromium")
	st := newStack(t, "dashboard-token")
	ctx, problems := browser(t)
	shots := artifacts(t)
	signIn(t, ctx, st, problems)

	hostile := `<script>window.__xss=1</script><img src=x onerror="window.__xss=2">`
	const caller = "+14155552671"
	if vars := st.call(t, caller, hostile); vars[decision.VarResult] != "allow" {
		t.Fatalf("first call: %v", vars)
	}
	row := `#tail-table tr[data-caller="` + caller + `"]`
	var name string
	var xss any
	var imgs int
	err := chromedp.Run(ctx,
		chromedp.WaitVisible(row, chromedp.ByQuery),
		chromedp.Text(row+" td.name", &name, chromedp.ByQuery),
		chromedp.Evaluate(`window.__xss`, &xss),
		chromedp.Evaluate(`document.querySelectorAll('#tail-table td.name img, #tail-table td.name script').length`, &imgs),
	)
	if err != nil {
		t.Fatalf("live tail: %v; page problems %v", err, problems())
	}
	if name != hostile || xss != nil || imgs != 0 {
		t.Errorf("caller name shown as %q (window.__xss %v, %d elements made from it)", name, xss, imgs)
	}
	if r := text(t, ctx, row+" td.result"); r != "allow" {
		t.Errorf("result cell %q", r)
	}
	if stir := text(t, ctx, row+" td.stir"); stir != "A" {
		t.Errorf("STIR cell %q; want A (attested, verified)", stir)
	}
	if tm := text(t, ctx, row+" td.time"); !dateTime.MatchString(tm) || !strings.HasPrefix(tm, time.Now().Format("2006-")) {
		t.Errorf("time cell %q: want a date and a time", tm)
	}

	// An emergency caller: no button to block or report it.
	st.callTo(t, agitest.Call{CallerID: "911", DNID: "+18885550100"})
	poll(t, ctx, "emergency row", `!!document.querySelector('#tail-table tr[data-caller="911"]')`)
	var buttons int
	chromedp.Run(ctx, chromedp.Evaluate(`document.querySelectorAll('#tail-table tr[data-caller="911"] button').length`, &buttons))
	if buttons != 0 || !strings.Contains(text(t, ctx, `#tail-table tr[data-caller="911"] td.actions`), "critical") {
		t.Errorf("emergency row has %d buttons", buttons)
	}

	// "Block this caller" asks for how long, 30 days by default; Cancel
	// blocks nothing.
	click(t, ctx, row+` button[data-action="block"]`)
	poll(t, ctx, "block dialog", `document.getElementById('block-dialog').open`)
	var expiry string
	chromedp.Run(ctx, chromedp.Value("#block-expiry", &expiry, chromedp.ByQuery))
	in30 := time.Now().Add(30 * 24 * time.Hour)
	if until := text(t, ctx, "#block-until"); expiry != "30" || !strings.Contains(until, in30.Format("2006-01-")) {
		t.Errorf("default expiry %q, %q; want 30 days, until about %s", expiry, until, in30.Format("2006-01-02"))
	}
	if n := text(t, ctx, "#block-number"); n != caller {
		t.Errorf("dialog names %q", n)
	}
	screenshot(t, ctx, shots, "1-block-dialog")
	click(t, ctx, "#block-cancel")
	poll(t, ctx, "dialog closed", `!document.getElementById('block-dialog').open`)
	if es, _ := st.lists.Entries(context.Background(), "", "block"); len(es) != 0 {
		t.Fatalf("cancel blocked: %+v", es)
	}
	// Again, for one day, confirmed.
	click(t, ctx, row+` button[data-action="block"]`)
	poll(t, ctx, "block dialog", `document.getElementById('block-dialog').open`)
	choose(t, ctx, "block-expiry", "1")
	in1 := time.Now().Add(24 * time.Hour)
	if until := text(t, ctx, "#block-until"); !strings.Contains(until, in1.Format("2006-01-02")) {
		t.Errorf("one day: %q", until)
	}
	click(t, ctx, "#block-confirm")
	poll(t, ctx, "entry in the list view", `!!document.querySelector('#list-table tr[data-value="`+caller+`"]')`)
	if toast := text(t, ctx, "#toast"); !strings.Contains(toast, "Blocked "+caller+" until "+in1.Format("2006-01-02")) {
		t.Errorf("toast %q", toast)
	}
	es, _ := st.lists.Entries(context.Background(), "", "block")
	if len(es) != 1 || es[0].Expires.Before(time.Now().Add(23*time.Hour)) || es[0].Expires.After(time.Now().Add(25*time.Hour)) {
		t.Fatalf("block entry %+v; want one expiring in a day", es)
	}
	if exp := text(t, ctx, `#list-table tr[data-value="`+caller+`"] td.expires`); !strings.HasPrefix(exp, in1.Format("2006-01-02")) {
		t.Errorf("expires cell %q", exp)
	}

	// The next call is blocked.
	vars := st.call(t, caller, hostile)
	if vars[decision.VarResult] != "block" || !strings.Contains(vars[decision.VarReasons], "list.block") {
		t.Fatalf("call after block: %v", vars)
	}
	blocked := `#tail-table tr[data-id="` + vars[decision.VarID] + `"]`
	poll(t, ctx, "blocked decision in the tail", `!!document.querySelector('`+blocked+` td.result-block')`)
	if reasons := text(t, ctx, blocked); !strings.Contains(reasons, "list.block") || !strings.Contains(reasons, "must-block list") {
		t.Errorf("reason strings in the tail: %q", reasons)
	}

	// "Not spam" on the list-blocked caller: reported, and the page says
	// why the caller stays blocked.
	click(t, ctx, blocked+` button[data-action="not-spam"]`)
	poll(t, ctx, "notice", `!document.getElementById('notice').hidden`)
	if n := text(t, ctx, "#notice"); !strings.Contains(n, "stays blocked") || !strings.Contains(n, "on the block list ("+caller+")") ||
		!strings.Contains(n, "remove the entry from the block list") {
		t.Errorf("notice %q", n)
	}
	screenshot(t, ctx, shots, "2-not-spam-on-blocked")
	if fb := st.feedback.all(); len(fb) != 1 || fb[0].Caller != caller || fb[0].Spam {
		t.Errorf("feedback %+v", fb)
	}
	// "Report spam" beside it.
	click(t, ctx, blocked+` button[data-action="spam"]`)
	poll(t, ctx, "spam toast", `document.getElementById('toast').textContent.includes('as spam')`)
	if fb := st.feedback.all(); len(fb) != 2 || !fb[1].Spam {
		t.Errorf("feedback %+v", fb)
	}

	// Search by number shows the explanation with the list entry.
	err = chromedp.Run(ctx,
		chromedp.SendKeys("#search-number", caller, chromedp.ByQuery),
		chromedp.Click(`#search-form button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`//div[@id="explain"]//code[text()="list.block"]`),
	)
	if explain := text(t, ctx, "#explain"); err != nil || !strings.Contains(explain, "action block") || !strings.Contains(explain, "origin") {
		t.Errorf("search: %v %q", err, explain)
	}
	screenshot(t, ctx, shots, "3-tail-and-search")

	// A day and an hour later the block has expired.
	st.lists.advance(25 * time.Hour)
	if vars := st.call(t, caller, ""); vars[decision.VarResult] != "allow" {
		t.Fatalf("call after the block expired: %v", vars)
	}

	// Remove the entry from the list view.
	var left int
	err = chromedp.Run(ctx,
		chromedp.Click(`#list-table tr[data-value="`+caller+`"] button`, chromedp.ByQuery),
		chromedp.WaitNotPresent(`#list-table tr[data-value="`+caller+`"]`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll('#list-table tbody tr').length`, &left),
	)
	if err != nil || left != 0 {
		t.Errorf("remove from list: %v (%d left)", err, left)
	}
	if p := problems(); len(p) != 0 {
		t.Errorf("page logged errors:\n%s", strings.Join(p, "\n"))
	}
}

// chartState is what the page says of one chart: its step and, per series,
// its points and their sum (legend data attributes), and how many pixels
// of its canvas are painted.
type chartState struct {
	Range  string
	Step   string
	Series []struct {
		Series string
		Points int
		Sum    string
	}
	Painted int
}

const chartStateJS = `(() => {
  const out = {};
  for (const id of ['chart-results', 'chart-rates']) {
    const fig = document.getElementById(id);
    const c = fig.querySelector('canvas');
    let painted = 0;
    if (c) {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) painted++;
    }
    out[id] = {
      Range: fig.dataset.range || '', Step: fig.dataset.step || '', Painted: painted,
      Series: [...fig.querySelectorAll('.u-legend .u-series[data-series]')].map((r) => ({Series: r.dataset.series, Points: Number(r.dataset.points), Sum: r.dataset.sum})),
    };
  }
  return out;
})()`

func charts(t *testing.T, ctx context.Context) map[string]chartState {
	t.Helper()
	var out map[string]chartState
	if err := chromedp.Run(ctx, chromedp.Evaluate(chartStateJS, &out)); err != nil {
		t.Fatal(err)
	}
	return out
}

func (c chartState) series(name string) (points int, sum string) {
	for _, s := range c.Series {
		if s.Series == name {
			return s.Points, s.Sum
		}
	}
	return -1, ""
}

// shown waits until the page shows the figures of query (as the page
// asks for them: range=24h&profile=pilot) and loads nothing more.
func shown(t *testing.T, ctx context.Context, query string) {
	t.Helper()
	poll(t, ctx, "figures for "+query, fmt.Sprintf(`document.body.dataset.statsBusy === 'false' && document.getElementById('chart-results').dataset.query === %q && document.getElementById('chart-rates').dataset.query === %q`, query, query))
}

// TestDashboardCharts: with a week of calls in the statistics, the charts
// render a series per result and per rate with points, the range picker
// and the profile and DID choices change them, the profile table shows the
// pilot week's held decisions, the DID table matches the API, and the
// decisions export as CSV from the page.
func TestDashboardCharts(t *testing.T) {
	citest.Short(t, "starts Chromium")
	st := newStack(t, "charts-token")
	now := time.Now()
	const sales, pilot = "+18885550100", "+18885550200"
	n := 0
	rec := func(did, profile string, at time.Time, action policy.Action, res policy.Result, ch policy.Outcome, held policy.Action, reasons ...policy.Reason) {
		n++
		r := newDecision(fmt.Sprintf("seed-%d", n), "+12125550100", profile, at, action, res, ch, reasons...)
		r.Dialed = did
		if held != "" {
			r.Decision.Mode, r.Decision.Held = policy.ModeMonitor, held
			r.Decision.Reasons = append(r.Decision.Reasons, policy.MonitorMode)
		}
		st.stats.Record(r)
	}
	// A day's calls span five minutes from base: keep them inside one of
	// the 24h range's two-hour trend slots (epoch-aligned), whatever the
	// time of day the test runs at.
	base := now.Add(-30 * time.Minute)
	const slot = int64(2 * time.Hour / time.Second)
	if end := base.Add(5 * time.Minute).Unix(); base.Unix()/slot != end/slot {
		base = time.Unix(end/slot*slot, 0)
	}
	for day := range 7 {
		at := base.Add(-time.Duration(day) * 24 * time.Hour)
		for i := range 3 {
			rec(sales, "sales", at.Add(time.Duration(i)*time.Minute), policy.Block, policy.ResultBlock, policy.OutcomeNone, "", policy.FeedDailyReport)
		}
		rec(sales, "sales", at, policy.Challenge, policy.ResultAllow, policy.OutcomePassed, "", policy.CallerAnonymous)
		rec(sales, "sales", at.Add(5*time.Minute), policy.Challenge, policy.ResultVoicemail, policy.OutcomeFailed, "", policy.CallerAnonymous)
		rec(pilot, "pilot", at, policy.Allow, policy.ResultAllow, policy.OutcomeNone, policy.Block, policy.ListBlock)
		rec(pilot, "pilot", at, policy.Allow, policy.ResultAllow, policy.OutcomeNone, policy.Challenge, policy.CallerAnonymous)
		rec(pilot, "pilot", at, policy.Allow, policy.ResultAllow, policy.OutcomeNone, policy.Allow)
	}

	ctx, problems := browser(t)
	shots := artifacts(t)
	signIn(t, ctx, st, problems)
	shown(t, ctx, "range=24h")

	// 24 hours: a point every 15 minutes, a series per result and rate.
	c := charts(t, ctx)
	res, rates := c["chart-results"], c["chart-rates"]
	if res.Range != "24h" || res.Step != "900" || len(res.Series) != 3 || res.Painted == 0 {
		t.Fatalf("results chart %+v", res)
	}
	if pts, sum := res.series("result_block"); pts < 96 || sum != "3" {
		t.Errorf("blocked series: %d points, sum %s; want 3 calls over 96+ points", pts, sum)
	}
	if _, sum := res.series("result_voicemail"); sum != "1" {
		t.Errorf("voicemail series sum %s", sum)
	}
	if _, sum := res.series("result_allow"); sum != "4" {
		t.Errorf("allowed series sum %s", sum)
	}
	if len(rates.Series) != 4 || rates.Painted == 0 {
		t.Fatalf("rates chart %+v", rates)
	}
	for _, s := range []string{"interception_rate", "challenge_pass_through", "would_block_rate", "would_challenge_rate"} {
		if pts, _ := rates.series(s); pts < 1 {
			t.Errorf("rate %s has no points: %+v", s, rates)
		}
	}
	screenshot(t, ctx, shots, "1-charts-24h")

	// The range picker: 7 days, two-hour points, seven times the calls;
	// one hour, one-minute points.
	choose(t, ctx, "range", "7d")
	shown(t, ctx, "range=7d")
	c = charts(t, ctx)
	if res := c["chart-results"]; res.Range != "7d" || res.Step != "7200" {
		t.Fatalf("7d: %+v", res)
	} else if _, sum := res.series("result_block"); sum != "21" {
		t.Errorf("7d blocked sum %s; want 21", sum)
	}
	screenshot(t, ctx, shots, "2-charts-7d")
	choose(t, ctx, "range", "1h")
	shown(t, ctx, "range=1h")
	if res := charts(t, ctx)["chart-results"]; res.Step != "60" {
		t.Fatalf("1h: %+v", res)
	}

	// Per profile: the pilot profile blocks nothing, but would have.
	choose(t, ctx, "range", "24h")
	shown(t, ctx, "range=24h")
	choose(t, ctx, "chart-profile", "pilot")
	shown(t, ctx, "range=24h&profile=pilot")
	c = charts(t, ctx)
	if _, sum := c["chart-results"].series("result_block"); sum != "0" {
		t.Errorf("pilot blocked sum %s", sum)
	}
	if pts, _ := c["chart-rates"].series("would_block_rate"); pts < 1 {
		t.Errorf("pilot would-block rate has no points")
	}
	pilotRow := `#stats-table tr[data-profile="pilot"]`
	if held, wb := text(t, ctx, pilotRow+" td.held"), text(t, ctx, pilotRow+" td.would-block"); held != "2" || wb != "33.3%" {
		t.Errorf("pilot held %q, would block %q", held, wb)
	}
	// Per DID.
	choose(t, ctx, "chart-profile", "")
	shown(t, ctx, "range=24h")
	choose(t, ctx, "chart-did", sales)
	shown(t, ctx, "range=24h&did=%2B18885550100")
	if _, sum := charts(t, ctx)["chart-results"].series("result_allow"); sum != "1" {
		t.Errorf("sales DID allowed sum %s; want 1", sum)
	}
	choose(t, ctx, "chart-did", "")
	shown(t, ctx, "range=24h")

	// The DID table matches the API.
	var api []stats.DIDRow
	st.get(t, "/api/v1/stats/dids?range=24h", &api)
	var table []map[string]any
	err := chromedp.Run(ctx, chromedp.Evaluate(`[...document.querySelectorAll('#did-table tbody tr[data-did]')].map((tr) => ({
		did: tr.dataset.did, calls: tr.querySelector('td.calls').textContent, failed: tr.querySelector('td.failed').textContent,
		abandoned: tr.querySelector('td.abandoned').textContent, junk: tr.querySelector('td.junk').textContent,
		hint: ((document.querySelector('#did-table tr.hint-row[data-hint-for="' + tr.dataset.did + '"] td.hint') || {}).textContent || '').replace(tr.dataset.did + ': ', ''),
		points: tr.querySelectorAll('svg.spark circle').length}))`, &table))
	if err != nil || len(table) != len(api) || len(api) != 2 {
		t.Fatalf("DID table %v (%v); API %+v", table, err, api)
	}
	for i, a := range api {
		want := map[string]string{"did": a.DID, "calls": fmt.Sprint(a.Calls), "failed": fmt.Sprint(a.Failed), "abandoned": fmt.Sprint(a.Abandoned),
			"junk": fmt.Sprintf("%.1f%%", a.JunkShare*100), "hint": a.ReleaseHint}
		for k, v := range want {
			if fmt.Sprint(table[i][k]) != v {
				t.Errorf("DID row %d %s = %v; the API says %q", i, k, table[i][k], v)
			}
		}
	}
	if table[0]["points"] != 1.0 {
		t.Errorf("trend of %s: %v points drawn; want the one point with calls", sales, table[0]["points"])
	}
	if api[0].DID != sales || api[0].ReleaseHint == "" || api[1].ReleaseHint != "" {
		t.Errorf("release hints: %+v", api)
	}
	screenshot(t, ctx, shots, "3-tables")

	// The decisions export as CSV from the page.
	st.call(t, "+14155550123", "")
	poll(t, ctx, "the call in the tail", `!!document.querySelector('#tail-table tr[data-caller="+14155550123"]')`)
	dl := t.TempDir()
	if err := chromedp.Run(ctx, browserDownloads(dl)); err != nil {
		t.Fatal(err)
	}
	click(t, ctx, "#decisions-csv")
	deadline := time.Now().Add(30 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(dl, "callscreen-decisions-*.csv"))
		if len(files) == 1 {
			b, _ := os.ReadFile(files[0])
			if !strings.HasPrefix(string(b), "time,id,tenant,profile,caller") || !strings.Contains(string(b), "+14155550123") {
				t.Fatalf("export: %q", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no CSV downloaded")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if p := problems(); len(p) != 0 {
		t.Errorf("page logged errors:\n%s", strings.Join(p, "\n"))
	}
}

// browserDownloads saves downloads into dir.
func browserDownloads(dir string) chromedp.Action {
	return cdpbrowser.SetDownloadBehavior(cdpbrowser.SetDownloadBehaviorBehaviorAllow).WithDownloadPath(dir)
}
