package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/agi/agitest"
)

// TestSTIRShaken: the STIR/SHAKEN result the dialplan include passes as
// AGI arguments reaches the decision: a verified A rings as before, a C
// (or no Identity header) challenges an unknown caller, a must-block
// caller stays blocked whatever the attestation; the decisions API, the
// metrics and `callscreen check` show it.
func TestSTIRShaken(t *testing.T) {
	p := startServe(t, baseConfig, baseFiles)
	tests := []struct {
		name, caller string
		args         []string
		result       string
		reason       string
	}{
		{"A verified rings", "+12125553001", []string{"screened=", "attest=A", "verify=success"}, "allow", "stir.verified"},
		{"C is challenged; a silent robot is blocked", "+12125553002", []string{"screened=", "attest=C", "verify=success"}, "block", "stir.unverified"},
		{"no Identity header is challenged", "+12125553003", []string{"screened=", "attest=none"}, "block", "stir.unverified"},
		{"A never lowers a must-block", "+12125550666", []string{"screened=", "attest=A", "verify=success"}, "block", "list.block"},
		{"no result changes nothing", "+12125553004", []string{"screened="}, "allow", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := call(t, p, agitest.Call{CallerID: tt.caller, Args: tt.args})
			if tr.Vars["CALLSCREEN_RESULT"] != tt.result || (tt.reason != "" && !strings.Contains(tr.Vars["CALLSCREEN_REASONS"], tt.reason)) {
				t.Fatalf("vars %v; want result %s with %s", tr.Vars, tt.result, tt.reason)
			}
			if tt.reason == "" && strings.Contains(tr.Vars["CALLSCREEN_REASONS"], "stir.") {
				t.Fatalf("reasons %q without a STIR/SHAKEN result", tr.Vars["CALLSCREEN_REASONS"])
			}
		})
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + p.admin + "/api/v1/decisions?caller=%2B12125553002")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"attestation":"C"`) || !strings.Contains(string(body), `"verify_result":"success"`) {
		t.Errorf("decisions API: %s", body)
	}
	if got := p.metric(t, `callscreen_screen_stir_total{attestation="C",verification="success"}`); got != "1" {
		t.Errorf("callscreen_screen_stir_total{C,success} = %q; want 1", got)
	}
	if got := p.metric(t, `callscreen_screen_stir_total{attestation="none",verification="failure"}`); got != "1" {
		t.Errorf("callscreen_screen_stir_total{none,failure} = %q; want 1", got)
	}
	out, errOut, code := callscreen(t, p.dir, "check", "--config", p.config, "--attestation", "C", "+12125553005")
	if code != 0 || !strings.Contains(out, "stir.unverified") || !strings.Contains(out, "attestation C, verification success") {
		t.Errorf("check --attestation C: exit %d\n%s%s", code, out, errOut)
	}
}
