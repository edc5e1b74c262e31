package audit

import (
	"reflect"
	"testing"
)

// TestToResult: a record turned back into a result records the same.
func TestToResult(t *testing.T) {
	for _, i := range []int{1, 2} {
		r := result(i)
		if i == 2 {
			r.Decision.Scored, r.Decision.Held, r.CallerRaw = false, "block", r.Caller
			r.Attestation, r.VerifyResult = "B", "success"
		}
		rec := FromResult(r, "cfg")
		back := rec.ToResult()
		if again := FromResult(back, "cfg"); !reflect.DeepEqual(again, rec) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", again, rec)
		}
		if !back.Time.Equal(r.Time) || back.Verdict.Sources[2].Err == nil || back.Verdict.Sources[2].Err.Error() != "youmail: timeout" {
			t.Fatalf("result %+v", back)
		}
	}
}
