package admin

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/callscreen/callscreen/agi"
	"github.com/callscreen/callscreen/agi/agitest"
	"github.com/callscreen/callscreen/audit"
	"github.com/callscreen/callscreen/bridge"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/screen"
)

// stack is callscreen assembled in process: a FastAGI server screening
// with a real screen.Flow whose list source is the admin's list store, the
// decision log, the recent-decisions store and the admin server.
type stack struct {
	adminURL string
	agiAddr  string
	lists    *memLists
	feedback *memFeedback
	reg      *prometheus.Registry
	log      *audit.Log
}

func newStack(t *testing.T, token string) *stack {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	st := &stack{lists: newMemLists(), feedback: &memFeedback{}, reg: reg}
	alog, err := audit.Open(audit.Options{Dir: t.TempDir(), Logger: quiet, Metrics: audit.NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	st.log = alog
	recent := NewRecent(RecentOptions{Metrics: m})
	flow := &screen.Flow{
		Source:   reputation.Chain{{Name: "lists", Source: st.lists}},
		Recorder: decision.Recorders{alog, recent},
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
		Decisions: recent, Stream: recent, Logger: quiet, Metrics: m,
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
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tr, err := agitest.Dial(ctx, st.agiAddr, agitest.Call{
		CallerID: caller, CallerIDName: name, DNID: "+18005550100", Args: []string{"attest=A", "verify=success"},
		UniqueID: fmt.Sprintf("%d.1", time.Now().UnixNano()), Caller: agitest.Caller{Auto: true},
	})
	if err != nil {
		t.Fatalf("call from %s: %v", caller, err)
	}
	return tr.Vars
}

// browser starts headless Chromium with a fresh profile and collects every
// console error, uncaught exception and error log entry of the page.
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if path, err = exec.LookPath("chromium-browser"); err != nil {
			t.Skip("chromium is not installed: run scripts/install-test-deps (make test does)")
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
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(bctx, 60*time.Second)
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

// TestDashboardInChromium: the page loads without console errors, signs in
// with the token, shows a decision made through FastAGI in the live tail
// with its reasons, shows a hostile caller name as text, and "Block this
// caller" makes the next call from that number blocked.
func TestDashboardInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	const token = "dashboard-token"
	st := newStack(t, token)
	ctx, problems := browser(t)

	hostile := `<script>window.__xss=1</script><img src=x onerror="window.__xss=2">`
	const caller = "+14155552671"

	// Sign in.
	var loginShown bool
	err := chromedp.Run(ctx,
		chromedp.Navigate(st.adminURL+"/"),
		chromedp.WaitVisible("#login-form", chromedp.ByQuery),
		chromedp.Evaluate(`!document.getElementById('login').hidden`, &loginShown),
		chromedp.SendKeys("#token", token, chromedp.ByQuery),
		chromedp.Click(`#login-form button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`body[data-ready="true"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#conn.live", chromedp.ByQuery),
	)
	if err != nil || !loginShown {
		t.Fatalf("sign in: %v (login shown %v); page problems %v", err, loginShown, problems())
	}

	// A call through FastAGI appears in the live tail.
	if vars := st.call(t, caller, hostile); vars[decision.VarResult] != "allow" {
		t.Fatalf("first call: %v", vars)
	}
	row := `#tail-table tr[data-caller="` + caller + `"]`
	var name, result, stir string
	var xss any
	var imgs int
	err = chromedp.Run(ctx,
		chromedp.WaitVisible(row, chromedp.ByQuery),
		chromedp.Text(row+" td.name", &name, chromedp.ByQuery),
		chromedp.Text(row+" td:nth-child(8)", &result, chromedp.ByQuery),
		chromedp.Text(row+" td.stir", &stir, chromedp.ByQuery),
		chromedp.Evaluate(`window.__xss`, &xss),
		chromedp.Evaluate(`document.querySelectorAll('#tail-table td.name img, #tail-table td.name script').length`, &imgs),
	)
	if err != nil {
		t.Fatalf("live tail: %v; page problems %v", err, problems())
	}
	if name != hostile || xss != nil || imgs != 0 {
		t.Errorf("caller name shown as %q (window.__xss %v, %d elements made from it)", name, xss, imgs)
	}
	if result != "allow" {
		t.Errorf("result cell %q", result)
	}
	if stir != "A" {
		t.Errorf("STIR cell %q; want A (attested, verified)", stir)
	}

	// "Block this caller", then the next call from the number is blocked.
	var toast string
	err = chromedp.Run(ctx,
		chromedp.Click(row+` button[data-action="block"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#list-table tr[data-value="`+caller+`"]`, chromedp.ByQuery),
		chromedp.Text("#toast", &toast, chromedp.ByQuery),
	)
	if err != nil || !strings.Contains(toast, "Blocked "+caller) {
		t.Fatalf("block click: %v, toast %q; page problems %v", err, toast, problems())
	}
	vars := st.call(t, caller, hostile)
	if vars[decision.VarResult] != "block" || !strings.Contains(vars[decision.VarReasons], "list.block") {
		t.Fatalf("call after block: %v", vars)
	}
	var blockedRows int
	err = chromedp.Run(ctx, chromedp.Poll(
		`document.querySelectorAll('#tail-table tr[data-caller="`+caller+`"] td.result-block').length`,
		&blockedRows, chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil || blockedRows != 1 {
		t.Fatalf("blocked decision in the tail: %v (%d rows)", err, blockedRows)
	}
	var reasons string
	if err := chromedp.Run(ctx, chromedp.Text(row+" td:nth-child(10)", &reasons, chromedp.ByQuery)); err != nil || !strings.Contains(reasons, "list.block") || !strings.Contains(reasons, "must-block list") {
		t.Errorf("reason strings in the tail: %q %v", reasons, err)
	}

	// "Not spam" on a row reaches the feedback store.
	if err := chromedp.Run(ctx, chromedp.Click(row+` button[data-action="not-spam"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`//p[@id="toast"][contains(., "not spam")]`)); err != nil {
		t.Fatalf("not spam: %v", err)
	}
	if fb := st.feedback.all(); len(fb) != 1 || fb[0].Caller != caller || fb[0].Spam {
		t.Errorf("feedback %+v", fb)
	}

	// Search by number shows the explanation.
	var explain string
	err = chromedp.Run(ctx,
		chromedp.SendKeys("#search-number", caller, chromedp.ByQuery),
		chromedp.Click(`#search-form button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`//div[@id="explain"]//code[text()="list.block"]`),
		chromedp.Text("#explain", &explain, chromedp.ByQuery),
	)
	if err != nil || !strings.Contains(explain, "action block") || !strings.Contains(explain, "lists") {
		t.Errorf("search: %v %q", err, explain)
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
	if vars := st.call(t, caller, ""); vars[decision.VarResult] != "allow" {
		t.Errorf("call after removal: %v", vars)
	}

	// Stats show the calls.
	var stats string
	if err := chromedp.Run(ctx, chromedp.Poll(`document.querySelector('#stats-table tbody').textContent.includes('33.3%')`, nil,
		chromedp.WithPollingTimeout(20*time.Second)), chromedp.Text("#stats-table", &stats, chromedp.ByQuery)); err != nil {
		t.Errorf("stats: %v %q", err, stats)
	}

	if p := problems(); len(p) != 0 {
		t.Errorf("page logged errors:\n%s", strings.Join(p, "\n"))
	}
}

// TestDashboardRefusesWrongToken: a wrong token brings the sign-in form
// back with a message, and nothing is shown.
func TestDashboardRefusesWrongToken(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
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
