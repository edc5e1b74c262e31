package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/callscreen/callscreen/agi/agitest"
	"github.com/callscreen/callscreen/internal/redistest"
)

// TestRedisDown: with Redis configured, serve is ready while Redis
// answers; when Redis dies calls are still screened (lists) and answered,
// and readiness says what is wrong.
func TestRedisDown(t *testing.T) {
	r := redistest.Start(t)
	p := startServe(t, baseConfig+"redis:\n  addrs: ["+r.Addr()+"]\n", baseFiles, callPathSeconds...)
	ready := func() int {
		t.Helper()
		resp, err := testClient.Get("http://" + p.admin + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := ready(); code != http.StatusOK {
		t.Fatalf("readyz with Redis up: %d", code)
	}
	if tr := call(t, p, agitest.Call{CallerID: "+12125550666"}); tr.Vars["CALLSCREEN_RESULT"] != "block" {
		t.Fatalf("with Redis up: %v", tr.Vars)
	}

	r.Kill()
	for _, c := range []struct{ caller, result string }{{"+12125550666", "block"}, {"+12125551234", "allow"}} {
		// call bounds the call to catch a hang; it is not timed.
		tr := call(t, p, agitest.Call{CallerID: c.caller})
		if tr.Vars["CALLSCREEN_RESULT"] != c.result {
			t.Errorf("Redis down, %s: %v", c.caller, tr.Vars)
		}
	}
	if code := ready(); code == http.StatusOK {
		t.Fatalf("readyz with Redis down: %d", code)
	}
	r.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for ready() != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("not ready again after Redis came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
