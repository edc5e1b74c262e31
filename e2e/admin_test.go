package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/agi/agitest"
)

// TestAdminThroughServe: the admin API of a running serve explains a
// number, takes an agent's spam report that the next call obeys, and lists
// the decisions made.
func TestAdminThroughServe(t *testing.T) {
	p := startServe(t, baseConfig, baseFiles)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + p.admin + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/api/v1/check?number=%2B12125550666"); code != 200 || !strings.Contains(body, "list.block") {
		t.Fatalf("check: %d %s", code, body)
	}

	const caller = "+12125554444"
	if tr := call(t, p, agitest.Call{CallerID: caller}); tr.Vars["CALLSCREEN_RESULT"] != "allow" {
		t.Fatalf("before the report: %v", tr.Vars)
	}
	resp, err := http.Post("http://"+p.admin+"/api/v1/feedback", "application/json",
		strings.NewReader(`{"caller":"`+caller+`","spam":true,"agent":"ops","note":"car warranty again"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("feedback: %d %s", resp.StatusCode, b)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		tr := call(t, p, agitest.Call{CallerID: caller})
		if tr.Vars["CALLSCREEN_RESULT"] == "block" && strings.Contains(tr.Vars["CALLSCREEN_REASONS"], "caller.reported_spam") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the report is not enforced: %v", tr.Vars)
		}
		time.Sleep(50 * time.Millisecond)
	}

	code, body := get("/api/v1/decisions")
	if code != 200 || !strings.Contains(body, caller) {
		t.Fatalf("decisions: %d %s", code, body)
	}
	var any json.RawMessage
	if json.Unmarshal([]byte(body), &any) != nil {
		t.Fatalf("decisions is not JSON: %s", body)
	}
}
