package admin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
)

const testToken = "s3cret-token"

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

type harness struct {
	srv      *Server
	ts       *httptest.Server
	recent   *Recent
	lists    *memLists
	feedback *memFeedback
	m        *Metrics
	reg      *prometheus.Registry
}

func newHarness(t *testing.T, token string) *harness {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg)
	h := &harness{recent: NewRecent(RecentOptions{Metrics: m}), lists: newMemLists(), feedback: &memFeedback{}, m: m, reg: reg}
	checker := checkerFunc(func(_ context.Context, info decision.CallInfo) (*decision.Result, error) {
		r := newDecision("check", info.CallerNumber, "default", t0, policy.Challenge, policy.ResultBlock, policy.OutcomeNone, policy.ProviderRiskMedium)
		r.CallerName = info.CallerName
		r.Verdict.Sources = []reputation.Report{{Source: "callerapi", Latency: 12 * time.Millisecond, Verdict: reputation.Verdict{
			Risk: reputation.RiskMedium, Raw: map[string]string{"carrier": "<b>Evil</b>"}}}}
		return r, nil
	})
	srv, err := New(Options{
		Listen: "127.0.0.1:0", Token: token, Gatherer: reg, Checker: checker, Lists: h.lists, Feedback: h.feedback,
		Decisions: h.recent, Stream: h.recent, Logger: quiet, Metrics: m, Now: func() time.Time { return t0.Add(time.Hour) },
		Ready: func(context.Context) error { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	h.ts = httptest.NewServer(srv.Handler())
	t.Cleanup(h.ts.Close)
	return h
}

// do sends a request with the token (when not "") and returns status and
// body.
func (h *harness) do(t *testing.T, method, path, token string, body io.Reader, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, h.ts.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestNewRefusesPublicListenWithoutToken(t *testing.T) {
	for _, tc := range []struct {
		listen, token string
		want          error
	}{
		{"127.0.0.1:8089", "", nil},
		{"[::1]:8089", "", nil},
		{"localhost:8089", "", nil},
		{"0.0.0.0:8089", "", ErrTokenRequired},
		{":8089", "", ErrTokenRequired},
		{"[::]:8089", "", ErrTokenRequired},
		{"192.0.2.10:8089", "", ErrTokenRequired},
		{"admin.example.com:8089", "", ErrTokenRequired},
		{"0.0.0.0:8089", "t", nil},
	} {
		t.Run(tc.listen+"/"+tc.token, func(t *testing.T) {
			_, err := New(Options{Listen: tc.listen, Token: tc.token, Logger: quiet})
			if !errors.Is(err, tc.want) {
				t.Errorf("New(%q, token %q) = %v, want %v", tc.listen, tc.token, err, tc.want)
			}
		})
	}
	if _, err := New(Options{Listen: "nonsense", Logger: quiet}); err == nil {
		t.Error("bad listen address accepted")
	}
}

func TestAuth(t *testing.T) {
	h := newHarness(t, testToken)
	for _, tc := range []struct {
		path, token string
		want        int
	}{
		{"/healthz", "", 200},
		{"/", "", 200},
		{"/ui/app.js", "", 200},
		{"/api/v1/session", "", 200},
		{"/readyz", "", 401},
		{"/metrics", "", 401},
		{"/api/v1/stats", "", 401},
		{"/api/v1/stats", "wrong", 401},
		{"/api/v1/stats", testToken + "x", 401},
		{"/api/v1/decisions", testToken[:4], 401},
		{"/api/v1/lists/block", "", 401},
		{"/api/v1/stream", "", 401},
		{"/api/v1/stats", testToken, 200},
		{"/readyz", testToken, 200},
		{"/metrics", testToken, 200},
	} {
		t.Run(tc.path+"/"+tc.token, func(t *testing.T) {
			code, body := h.do(t, "GET", tc.path, tc.token, nil)
			if code != tc.want {
				t.Errorf("GET %s with %q: %d %s, want %d", tc.path, tc.token, code, body, tc.want)
			}
		})
	}
	// Basic auth or a token without "Bearer " is refused too.
	code, _ := h.do(t, "GET", "/api/v1/stats", "", nil, "Authorization", testToken)
	if code != 401 {
		t.Errorf("token without Bearer: %d", code)
	}
	if got := testutil.ToFloat64(h.m.authFailures); got < 9 {
		t.Errorf("auth failures counted %v", got)
	}
	_, body := h.do(t, "GET", "/api/v1/session", "", nil)
	if !strings.Contains(body, `"token_required":true`) {
		t.Errorf("session: %s", body)
	}
}

func TestBrowserAndHostChecks(t *testing.T) {
	h := newHarness(t, "")
	if code, _ := h.do(t, "GET", "/api/v1/stats", "", nil); code != 200 {
		t.Errorf("loopback without token: %d", code)
	}
	if code, _ := h.do(t, "GET", "/api/v1/stats", "", nil, "Host", "rebind.example.com"); code != http.StatusMisdirectedRequest {
		t.Errorf("foreign Host without token: %d", code)
	}
	if code, _ := h.do(t, "POST", "/api/v1/lists/block", "", strings.NewReader(`{"value":"+12125550100"}`), "Sec-Fetch-Site", "cross-site"); code != 403 {
		t.Errorf("cross-site POST: %d", code)
	}
	code, _ := h.do(t, "POST", "/api/v1/lists/block", "", strings.NewReader(`{"value":"+12125550100"}`), "Content-Type", "text/plain")
	if code != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain POST (a cross-site form could send it): %d", code)
	}
	res, err := http.Get(h.ts.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
}

func TestBodyLimits(t *testing.T) {
	h := newHarness(t, testToken)
	big := `{"value":"` + strings.Repeat("1", 10<<20) + `"}`
	code, body := h.do(t, "POST", "/api/v1/lists/block", testToken, strings.NewReader(big))
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("10 MB body with length: %d %.100s", code, body)
	}
	// Without Content-Length (chunked), the cap still holds.
	code, _ = h.do(t, "POST", "/api/v1/feedback", testToken, io.MultiReader(strings.NewReader(big)))
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("10 MB chunked body: %d", code)
	}
}

func TestBadInput(t *testing.T) {
	h := newHarness(t, testToken)
	for _, tc := range []struct {
		name, method, path, body string
		want                     int
		msg                      string
	}{
		{"check letters", "GET", "/api/v1/check?number=abc", "", 400, "not a phone number"},
		{"check mixed", "GET", "/api/v1/check?number=12ab34", "", 400, "not a phone number"},
		{"check one digit", "GET", "/api/v1/check?number=1", "", 400, "not a phone number"},
		{"check missing", "GET", "/api/v1/check", "", 400, "number is required"},
		{"check too long", "GET", "/api/v1/check?number=" + strings.Repeat("1", 40), "", 400, "longer than"},
		{"check name with control", "GET", "/api/v1/check?number=%2B12125550100&name=a%00b", "", 400, "control character"},
		{"check bad dialed", "GET", "/api/v1/check?number=%2B12125550100&dialed=x", "", 400, "dialed"},
		{"decisions limit", "GET", "/api/v1/decisions?limit=0", "", 400, "limit"},
		{"decisions reason", "GET", "/api/v1/decisions?reason=made.up", "", 400, "not a reason code"},
		{"decisions result", "GET", "/api/v1/decisions?result=maybe", "", 400, "allow, block or voicemail"},
		{"decisions from", "GET", "/api/v1/decisions?from=yesterday", "", 400, "not a time"},
		{"decisions caller", "GET", "/api/v1/decisions?caller=bob", "", 400, "digits"},
		{"decisions reversed", "GET", "/api/v1/decisions?from=2000&to=1000", "", 400, "after"},
		{"stats range", "GET", "/api/v1/stats?range=forever", "", 400, "range"},
		{"no such list", "GET", "/api/v1/lists/grey", "", 404, "allow and block"},
		{"list value", "POST", "/api/v1/lists/block", `{"value":"hello"}`, 400, "not a phone number"},
		{"list value empty", "POST", "/api/v1/lists/block", `{"value":""}`, 400, "required"},
		{"list unknown field", "POST", "/api/v1/lists/block", `{"value":"+12125550100","colour":"red"}`, 400, "unknown field"},
		{"list bad JSON", "POST", "/api/v1/lists/block", `{"value":`, 400, "bad JSON"},
		{"list two values", "POST", "/api/v1/lists/block", `{"value":"+12125550100"}{}`, 400, "more than one"},
		{"list expired", "POST", "/api/v1/lists/block", `{"value":"+12125550100","expires":"2001-01-01T00:00:00Z"}`, 400, "past"},
		{"list rejected by store", "POST", "/api/v1/lists/block", `{"value":"911"}`, 400, "invalid input"},
		{"remove missing", "DELETE", "/api/v1/lists/block?value=%2B12125550199", "", 404, "not found"},
		{"remove bad value", "DELETE", "/api/v1/lists/block?value=x", "", 400, "not a phone number"},
		{"feedback no verdict", "POST", "/api/v1/feedback", `{"caller":"+12125550100"}`, 400, "spam (true or false) is required"},
		{"feedback anonymous", "POST", "/api/v1/feedback", `{"caller":"anonymous","spam":true}`, 400, "withheld"},
		{"feedback bad caller", "POST", "/api/v1/feedback", `{"caller":"<script>","spam":true}`, 400, "not a phone number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			code, got := h.do(t, tc.method, tc.path, testToken, body)
			if code != tc.want || !strings.Contains(got, tc.msg) {
				t.Errorf("%s %s: %d %s, want %d with %q", tc.method, tc.path, code, got, tc.want, tc.msg)
			}
			if code == 400 && !strings.HasPrefix(got, `{"error":`) {
				t.Errorf("error body is not JSON: %s", got)
			}
		})
	}
}

func TestListsCRUDAndFeedback(t *testing.T) {
	h := newHarness(t, testToken)
	code, body := h.do(t, "POST", "/api/v1/lists/block", testToken, strings.NewReader(`{"value":"(212) 555-0100","note":"<b>robocaller</b>"}`))
	if code != 201 || !strings.Contains(body, `"value":"+12125550100"`) || !strings.Contains(body, `\u003cb\u003erobocaller`) {
		t.Fatalf("add: %d %s", code, body)
	}
	code, body = h.do(t, "GET", "/api/v1/lists/block", testToken, nil)
	var es []ListEntry
	if code != 200 || json.Unmarshal([]byte(body), &es) != nil || len(es) != 1 || es[0].AddedBy != "admin" || !es[0].Added.Equal(t0.Add(time.Hour)) {
		t.Fatalf("entries: %d %s", code, body)
	}
	if code, body = h.do(t, "GET", "/api/v1/lists/allow", testToken, nil); code != 200 || strings.TrimSpace(body) != "[]" {
		t.Errorf("empty allow list: %d %s", code, body)
	}
	if code, _ = h.do(t, "DELETE", "/api/v1/lists/block?value=%2B12125550100", testToken, nil); code != 204 {
		t.Errorf("remove: %d", code)
	}
	if code, _ = h.do(t, "DELETE", "/api/v1/lists/block?value=%2B12125550100", testToken, nil); code != 404 {
		t.Errorf("remove again: %d", code)
	}
	code, body = h.do(t, "POST", "/api/v1/feedback", testToken, strings.NewReader(`{"caller":"2125550100","spam":false,"decision_id":"d-1","agent":"ann"}`))
	if code != 202 {
		t.Fatalf("feedback: %d %s", code, body)
	}
	got := h.feedback.all()
	if len(got) != 1 || got[0].Caller != "+12125550100" || got[0].Spam || got[0].DecisionID != "d-1" {
		t.Errorf("feedback stored %+v", got)
	}
}

func TestCheckExplains(t *testing.T) {
	h := newHarness(t, testToken)
	code, body := h.do(t, "GET", "/api/v1/check?number=%2B12125550100&name=%3Cscript%3Ealert(1)%3C%2Fscript%3E", testToken, nil)
	if code != 200 {
		t.Fatalf("check: %d %s", code, body)
	}
	var d Decision
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	if d.Action != "challenge" || len(d.Reasons) != 1 || d.Reasons[0].Description == "" || d.Sources[0].Raw["carrier"] != "<b>Evil</b>" {
		t.Errorf("explanation %+v", d)
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, "<b>") {
		t.Errorf("markup not escaped in JSON: %s", body)
	}
	if d.CallerName != "<script>alert(1)</script>" {
		t.Errorf("caller name %q", d.CallerName)
	}
}

func TestDecisionsFiltersAndCSV(t *testing.T) {
	h := newHarness(t, testToken)
	rs := []*decision.Result{
		newDecision("a", "+12125550100", "sales", t0, policy.Block, policy.ResultBlock, policy.OutcomeNone, policy.ListBlock),
		newDecision("b", "+12125550101", "sales", t0.Add(time.Minute), policy.Challenge, policy.ResultAllow, policy.OutcomePassed, policy.ProviderRiskMedium),
		newDecision("c", "+442071234567", "support", t0.Add(2*time.Minute), policy.Allow, policy.ResultAllow, policy.OutcomeNone),
		newDecision("d", "+12125550100", "support", t0.Add(3*time.Minute), policy.Challenge, policy.ResultVoicemail, policy.OutcomeFailed, policy.CallerAnonymous),
	}
	rs[2].CallerName = `=HYPERLINK("http://evil","x")`
	for _, r := range rs {
		h.recent.Record(r)
	}
	ids := func(path string) string {
		t.Helper()
		code, body := h.do(t, "GET", path, testToken, nil)
		if code != 200 {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		var ds []Decision
		if err := json.Unmarshal([]byte(body), &ds); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range ds {
			out = append(out, d.ID)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct{ path, want string }{
		{"/api/v1/decisions", "d,c,b,a"},
		{"/api/v1/decisions?limit=2", "d,c"},
		{"/api/v1/decisions?caller=2125550100", "d,a"},
		{"/api/v1/decisions?caller=%2B1+(212)+555-0100", "d,a"},
		{"/api/v1/decisions?result=allow", "c,b"},
		{"/api/v1/decisions?reason=list.block", "a"},
		{"/api/v1/decisions?profile=support", "d,c"},
		{"/api/v1/decisions?from=" + t0.Add(time.Minute).Format(time.RFC3339) + "&to=" + t0.Add(3*time.Minute).Format(time.RFC3339), "c,b"},
	} {
		if got := ids(tc.path); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.path, got, tc.want)
		}
	}
	code, body := h.do(t, "GET", "/api/v1/decisions.csv", testToken, nil)
	if code != 200 {
		t.Fatalf("csv: %d", code)
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(rows) != 5 || rows[0][0] != "time" {
		t.Fatalf("csv rows %v %v", rows, err)
	}
	if rows[2][5] != `'=HYPERLINK("http://evil","x")` || rows[2][4] != "+442071234567" {
		t.Errorf("csv formula cell %q, caller %q", rows[2][5], rows[2][4])
	}
	if rows[1][15] != "caller.anonymous" {
		t.Errorf("csv reasons %q", rows[1][15])
	}
	if code, body := h.do(t, "GET", "/api/v1/decisions?format=csv&profile=sales", testToken, nil); code != 200 || strings.Count(body, "\n") != 3 {
		t.Errorf("format=csv: %d %q", code, body)
	}
}

func TestStats(t *testing.T) {
	h := newHarness(t, testToken)
	at := t0.Add(30 * time.Minute)
	for i, r := range []*decision.Result{
		newDecision("1", "+12125550100", "sales", at, policy.Block, policy.ResultBlock, policy.OutcomeNone),
		newDecision("2", "+12125550101", "sales", at, policy.Challenge, policy.ResultAllow, policy.OutcomePassed),
		newDecision("3", "+12125550102", "sales", at, policy.Challenge, policy.ResultBlock, policy.OutcomeFailed),
		newDecision("4", "+12125550103", "sales", at, policy.Allow, policy.ResultAllow, policy.OutcomeNone),
		newDecision("5", "+12125550104", "support", at, policy.Allow, policy.ResultAllow, policy.OutcomeNone),
		newDecision("old", "+12125550105", "support", at.Add(-3*time.Hour), policy.Block, policy.ResultBlock, policy.OutcomeNone),
	} {
		_ = i
		h.recent.Record(r)
	}
	code, body := h.do(t, "GET", "/api/v1/stats?range=1h", testToken, nil)
	var st struct {
		Profiles []ProfileStats
		Total    ProfileStats
	}
	if code != 200 || json.Unmarshal([]byte(body), &st) != nil {
		t.Fatalf("stats: %d %s", code, body)
	}
	if len(st.Profiles) != 2 {
		t.Fatalf("profiles %+v", st.Profiles)
	}
	sales := st.Profiles[0]
	if sales.Profile != "sales" || sales.Total != 4 || sales.Blocked != 2 || sales.Challenged != 2 || sales.Passed != 1 ||
		sales.InterceptionRate != 0.5 || sales.PassThrough != 0.5 {
		t.Errorf("sales %+v", sales)
	}
	if st.Total.Total != 5 || st.Total.InterceptionRate != 0.4 {
		t.Errorf("total %+v", st.Total)
	}
	code, body = h.do(t, "GET", "/api/v1/stats?range=1d", testToken, nil)
	if code != 200 || !strings.Contains(body, `"total":6`) {
		t.Errorf("1d: %d %s", code, body)
	}
}

func TestStreamDeliversAndDropsSlowSubscribers(t *testing.T) {
	h := newHarness(t, testToken)
	req, _ := http.NewRequest("GET", h.ts.URL+"/api/v1/stream", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("content type %q", res.Header.Get("Content-Type"))
	}
	br := bufio.NewReader(res.Body)
	// The comment line arrives first, after the subscription is made.
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, ":") {
		t.Fatalf("first line %q %v", line, err)
	}
	r := newDecision("live-1", "+12125550100", "sales", t0, policy.Block, policy.ResultBlock, policy.OutcomeNone, policy.ListBlock)
	r.CallerName = "<script>x</script>"
	h.recent.Record(r)
	var event, data string
	for data == "" {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		line = strings.TrimSuffix(line, "\n")
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			event = v
		}
		if v, ok := strings.CutPrefix(line, "data: "); ok {
			data = v
		}
	}
	if event != "decision" || !strings.Contains(data, `"id":"live-1"`) || strings.Contains(data, "<script>") {
		t.Errorf("event %q data %s", event, data)
	}

	// A subscriber that never reads is dropped; Record does not wait.
	slow := NewRecent(RecentOptions{SubscriberQueue: 2, Metrics: h.m})
	ch := slow.Subscribe(context.Background())
	for i := range 10 {
		slow.Record(newDecision("s", "+12125550100", "x", t0, policy.Allow, policy.ResultAllow, policy.OutcomeNone))
		_ = i
	}
	n := 0
	for range ch {
		n++
	}
	if n != 2 || testutil.ToFloat64(h.m.streamDropped) != 1 {
		t.Errorf("slow subscriber got %d, dropped %v", n, testutil.ToFloat64(h.m.streamDropped))
	}
}

func TestRecentRingAndReadyz(t *testing.T) {
	rc := NewRecent(RecentOptions{Size: 3})
	for _, id := range []string{"1", "2", "3", "4", "5"} {
		rc.Record(newDecision(id, "+12125550100", "p", t0, policy.Allow, policy.ResultAllow, policy.OutcomeNone))
	}
	got, _ := rc.Recent(context.Background(), Query{})
	if len(got) != 3 || got[0].ID != "5" || got[2].ID != "3" {
		t.Errorf("ring keeps %v", got)
	}
	srv, err := New(Options{Logger: quiet, Ready: func(context.Context) error { return errors.New("redis down") }})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	res, err := http.Get(ts.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 503 || !bytes.Contains(b, []byte("redis down")) {
		t.Errorf("readyz: %d %s", res.StatusCode, b)
	}
	// Ready, with what a component says an operator should know.
	noted, err := New(Options{Logger: quiet, Details: func(context.Context) []string { return []string{"agi: open to every peer", "prompt missing"} }})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/readyz", nil)
	req.Host = "127.0.0.1:8089"
	noted.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Body.String() != "ready\nagi: open to every peer\nprompt missing\n" {
		t.Errorf("readyz with details: %d %q", rec.Code, rec.Body.String())
	}
	// Nothing configured: 501, not a crash.
	res, err = http.Get(ts.URL + "/api/v1/lists/block")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 501 {
		t.Errorf("lists without a store: %d", res.StatusCode)
	}
}

func TestMetricsServed(t *testing.T) {
	h := newHarness(t, testToken)
	h.do(t, "GET", "/api/v1/stats", testToken, nil)
	code, body := h.do(t, "GET", "/metrics", testToken, nil)
	if code != 200 || !strings.Contains(body, `callscreen_admin_requests_total{code="200",handler="stats"} 1`) {
		t.Errorf("metrics: %d %s", code, body)
	}
}
