package audit

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/callscreen/callscreen/decision"
)

// TestRecordCarriesSTIR: the decision log keeps a call's STIR/SHAKEN
// result, and a call without one writes no such keys (older records read
// the same).
func TestRecordCarriesSTIR(t *testing.T) {
	with := FromResult(&decision.Result{ID: "x", Attestation: "C", VerifyResult: "cid_orig_tn_mismatch"}, "v1")
	without := FromResult(&decision.Result{ID: "y"}, "v1")
	b, err := json.Marshal(with)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"attestation":"C"`) || !strings.Contains(string(b), `"verify_result":"cid_orig_tn_mismatch"`) {
		t.Errorf("record %s", b)
	}
	b, err = json.Marshal(without)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "attestation") || strings.Contains(string(b), "verify_result") {
		t.Errorf("record without a result %s", b)
	}
}
