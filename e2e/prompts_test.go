package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/agi/agitest"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/screen"
)

// TestMissingPromptShowsInReadyz: a PBX without one of the challenge's
// sounds gets no challenge (the call is allowed with
// challenge.unavailable before anything is played), and the operator sees
// it in /readyz and in callscreen_screen_prompts_missing.
func TestMissingPromptShowsInReadyz(t *testing.T) {
	p := startServe(t, "", nil)
	sounds := map[string]int64{}
	for _, s := range screen.ChallengeSounds(policy.Default().Challenge) {
		sounds[s] = 8000
	}
	delete(sounds, "callscreen/digits/4")
	tr := call(t, p, agitest.Call{CallerID: "anonymous", Sounds: sounds, Caller: agitest.Caller{Auto: true}})
	if tr.Vars["CALLSCREEN_RESULT"] != "allow" || !strings.Contains(tr.Vars["CALLSCREEN_REASONS"], "challenge.unavailable") || tr.Answered || len(tr.Played) > 0 {
		t.Fatalf("vars %v answered %v played %q", tr.Vars, tr.Answered, tr.Played)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + p.admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := "ready\nprompts missing on PBX 127.0.0.1 (language en): callscreen/digits/4; its challenges fail open\n"
	if resp.StatusCode != 200 || string(body) != want {
		t.Fatalf("readyz %d %q; want 200 %q", resp.StatusCode, body, want)
	}
	if got := p.metric(t, `callscreen_screen_prompts_missing{pbx="127.0.0.1"}`); got != "1" {
		t.Fatalf("callscreen_screen_prompts_missing{pbx=127.0.0.1} = %q; want 1", got)
	}
	if n := len(p.logs.records("screen: prompts missing on the PBX; its challenges fail open (challenge.unavailable) until they are installed")); n != 1 {
		t.Fatalf("%d warnings; want 1", n)
	}
}
