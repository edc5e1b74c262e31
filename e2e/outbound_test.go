package e2e

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callscreen/callscreen/agi/agitest"
	"github.com/callscreen/callscreen/outbound"
	"github.com/callscreen/callscreen/outbound/webhook"
)

// outboundStatus polls GET /api/v1/outbound until ok accepts it.
func outboundStatus(t *testing.T, p *process, ok func(outbound.Status) bool) outbound.Status {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp, err := c.Get("http://" + p.admin + "/api/v1/outbound")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		last = string(body)
		var st outbound.Status
		if resp.StatusCode == http.StatusOK && json.Unmarshal(body, &st) == nil && ok(st) {
			return st
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("GET /api/v1/outbound never gave the status wanted; last: %s\n%s", last, strings.Join(p.logs.all(), "\n"))
	return outbound.Status{}
}

// TestOutboundThroughServe: serve follows a Master.csv, serves the
// per-number health, exports the gauges, logs an ERROR line and tells the
// webhook (signed) for each number that crosses a threshold, and screens
// calls as before.
func TestOutboundThroughServe(t *testing.T) {
	fixture, err := os.ReadFile("../cdr/testdata/Master-outbound.csv")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		err := webhook.Verify([]byte("hook-secret"), r.Header.Get(webhook.HeaderSignature), r.Header.Get(webhook.HeaderTimestamp), body, time.Now(), 5*time.Minute)
		var ev struct{ Event, Number string }
		_ = json.Unmarshal(body, &ev)
		mu.Lock()
		got = append(got, ev.Event+" "+ev.Number+" "+func() string {
			if err != nil {
				return err.Error()
			}
			return "verified"
		}())
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	p := startServe(t, baseConfig+`
outbound:
  cdr_file: Master.csv
  refresh: 1s
  window: 8760h
  thresholds:
    min_calls: 4
  webhook:
    url: `+hook.URL+`
    secret: hook-secret
`, files{"allow.txt": baseFiles["allow.txt"], "block.txt": baseFiles["block.txt"], "Master.csv": string(fixture)})

	// own_numbers (+12125559999) places no call in the fixture: nothing.
	st := outboundStatus(t, p, func(st outbound.Status) bool { return !st.Updated.IsZero() })
	if len(st.Numbers) != 0 || st.Counts.NotOwn != 9 || st.Source != "Master.csv" {
		t.Fatalf("with own_numbers set: %+v", st)
	}
	if tr := call(t, p, agitest.Call{CallerID: "+12125550666"}); tr.Vars["CALLSCREEN_RESULT"] != "block" {
		t.Fatalf("screening with outbound on: %v", tr.Vars)
	}
	p.stop(t)

	p = startServe(t, strings.Replace(baseConfig, `own_numbers: ["+12125559999"]`, `own_numbers: ["+15551230001", "+15551230002"]`, 1)+`
outbound:
  cdr_file: Master.csv
  refresh: 1s
  window: 8760h
  thresholds:
    min_calls: 4
  webhook:
    url: `+hook.URL+`
    secret: hook-secret
`, files{"allow.txt": baseFiles["allow.txt"], "block.txt": baseFiles["block.txt"], "Master.csv": string(fixture)})
	st = outboundStatus(t, p, func(st outbound.Status) bool { return len(st.Numbers) == 2 })
	if st.Numbers[0].Number != "+15551230002" || st.Numbers[0].Verdict != outbound.VerdictLikelySpam || st.Error != "" || st.WindowDays != 365 {
		t.Fatalf("status %+v", st)
	}
	line := p.logs.waitFor(t, "outbound number likely to be labelled spam", 10*time.Second)
	if line["level"] != "ERROR" || line["summary"] == "" {
		t.Errorf("alert line %v", line)
	}
	if v := p.metric(t, `callscreen_outbound_likely_spam{number="+15551230001"}`); v != "1" {
		t.Errorf("likely_spam gauge %q", v)
	}
	if v := p.metric(t, `callscreen_outbound_calls{number="+15551230002"}`); v != "5" {
		t.Errorf("calls gauge %q", v)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	deliveries := strings.Join(got, "; ")
	mu.Unlock()
	for _, want := range []string{"outbound.likely_spam +15551230001 verified", "outbound.likely_spam +15551230002 verified"} {
		if !strings.Contains(deliveries, want) {
			t.Errorf("webhook deliveries %q lack %q", deliveries, want)
		}
	}
	if tr := call(t, p, agitest.Call{CallerID: "+12125551234"}); tr.Vars["CALLSCREEN_RESULT"] != "allow" {
		t.Fatalf("screening with outbound on: %v", tr.Vars)
	}
}

// TestOutboundDatabaseDown: with the CDR database unreachable, serve
// starts, screens calls as usual and stays ready; the failure is an ERROR
// line naming the database (never the password) and the API's error.
func TestOutboundDatabaseDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	p := startServe(t, baseConfig+`
outbound:
  dsn: callscreen@tcp(`+closed+`)/asteriskcdrdb
  password: pw-never-shown
  refresh: 1s
`, baseFiles)
	line := p.logs.waitFor(t, "outbound: reading the CDRs failed; screening goes on, the next refresh tries again", 20*time.Second)
	errText, _ := line["err"].(string)
	if line["level"] != "ERROR" || !strings.Contains(errText, "cdr database callscreen@tcp("+closed+")/asteriskcdrdb table cdr") ||
		!strings.Contains(errText, "connection refused") {
		t.Fatalf("failure line %v", line)
	}
	for _, c := range []struct{ caller, result string }{{"+12125550666", "block"}, {"+12125551234", "allow"}, {"911", "allow"}} {
		if tr := call(t, p, agitest.Call{CallerID: c.caller}); tr.Vars["CALLSCREEN_RESULT"] != c.result {
			t.Errorf("%s with the CDR database down: %v", c.caller, tr.Vars)
		}
	}
	resp, err := testClient.Get("http://" + p.admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("readyz %d with only the CDR database down", resp.StatusCode)
	}
	st := outboundStatus(t, p, func(st outbound.Status) bool { return st.Error != "" })
	if !strings.Contains(st.Error, "connection refused") || !st.Updated.IsZero() {
		t.Errorf("status %+v", st)
	}
	for _, l := range p.logs.all() {
		if strings.Contains(l, "pw-never-shown") {
			t.Fatalf("the password is in the log: %s", l)
		}
	}
	if v := p.metric(t, `callscreen_outbound_refreshes_total{result="error"}`); v == "" || v == "0" {
		t.Errorf("refresh errors %q", v)
	}
}
