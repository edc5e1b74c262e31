package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
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
		resp, err := testClient.Get("http://" + p.admin + path)
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
	resp, err := testClient.Post("http://"+p.admin+"/api/v1/feedback", "application/json",
		strings.NewReader(`{"caller":"`+caller+`","spam":true,"agent":"ops","note":"car warranty again"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("feedback: %d %s", resp.StatusCode, b)
	}
	deadline := time.Now().Add(20 * time.Second)
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

// TestAdminLists: a block entry added through the admin API applies to the
// next call, and removing it lets the caller through again.
func TestAdminLists(t *testing.T) {
	p := startServe(t, baseConfig, baseFiles)
	base := "http://" + p.admin + "/api/v1/lists/block"
	const caller = "+13125550177"
	resp, err := testClient.Post(base, "application/json", strings.NewReader(`{"value":"`+caller+`","note":"robocaller","added_by":"ops"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 || !strings.Contains(string(b), caller) {
		t.Fatalf("add: %d %s", resp.StatusCode, b)
	}
	if tr := call(t, p, agitest.Call{CallerID: caller}); tr.Vars["CALLSCREEN_RESULT"] != "block" || tr.Vars["CALLSCREEN_REASONS"] != "list.block" {
		t.Fatalf("after adding: %v", tr.Vars)
	}
	code, body := func() (int, string) {
		resp, err := testClient.Get(base)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}()
	if code != 200 || !strings.Contains(body, caller) || !strings.Contains(body, "robocaller") {
		t.Fatalf("entries: %d %s", code, body)
	}
	req, _ := http.NewRequest(http.MethodDelete, base+"?value="+url.QueryEscape(caller), nil)
	resp, err = testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("remove: %d %s", resp.StatusCode, b)
	}
	if tr := call(t, p, agitest.Call{CallerID: caller}); tr.Vars["CALLSCREEN_RESULT"] != "allow" {
		t.Fatalf("after removing: %v", tr.Vars)
	}
	// A bad value is a 400 that says why.
	resp, err = testClient.Post(base, "application/json", strings.NewReader(`{"value":"not a number"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad value: %d %s", resp.StatusCode, b)
	}
}

// TestAdminListsFileEntry: an entry that comes from block.txt cannot be
// removed through the admin API: 409 naming the file and line, and the
// caller stays blocked.
func TestAdminListsFileEntry(t *testing.T) {
	p := startServe(t, baseConfig, baseFiles)
	client := &http.Client{Timeout: 30 * time.Second}
	req, err := http.NewRequest(http.MethodDelete, "http://"+p.admin+"/api/v1/lists/block?value="+url.QueryEscape("+12125550666"), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict || !strings.Contains(string(b), "comes from block.txt:1; edit the file") {
		t.Fatalf("remove a file entry: %d %s", resp.StatusCode, b)
	}
	if tr := call(t, p, agitest.Call{CallerID: "+12125550666"}); tr.Vars["CALLSCREEN_RESULT"] != "block" {
		t.Fatalf("after the refused removal: %v", tr.Vars)
	}
}
