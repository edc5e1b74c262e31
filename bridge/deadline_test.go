package bridge

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/agi/agitest"
)

// TestDeadlineWritesFailOpenVariables: a call whose deadline passes in the
// middle of its challenge (the caller listens slowly) writes its fail-open
// variables itself, on a session still in step, instead of losing the
// session and leaving the dialplan nothing.
func TestDeadlineWritesFailOpenVariables(t *testing.T) {
	var logs syncBuffer
	f := testFlow(&logs)
	f.CallTimeout = 300 * time.Millisecond
	addr := serve(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tr, err := agitest.Dial(ctx, addr, agitest.Call{CallerID: "anonymous", Latency: 150 * time.Millisecond, Caller: agitest.Caller{Auto: true}})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Vars["CALLSCREEN_RESULT"] != "allow" || !strings.Contains(tr.Vars["CALLSCREEN_REASONS"], "challenge.unavailable") || tr.Vars["CALLSCREEN_ID"] == "" {
		t.Fatalf("vars %v\n%s", tr.Vars, tr)
	}
	for _, c := range tr.Commands {
		if strings.HasPrefix(c, "GET DATA") {
			t.Errorf("%q started although it could not end before the deadline", c)
		}
	}
	if !strings.Contains(logs.String(), "call deadline passed") {
		t.Errorf("no log of the deadline:\n%s", logs.String())
	}
}
