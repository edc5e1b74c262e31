package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/agi/agitest"
	"github.com/callscreen/callscreen/ari/aritest"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/screen"
)

// readyz returns /readyz's status and body.
func readyz(t *testing.T, p *process) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + p.admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(body)
}

// TestMissingPromptShowsInReadyz: a PBX without one of the challenge's
// sounds gets no challenge (the call is allowed with
// challenge.unavailable before anything is played), and the operator sees
// it in /readyz and in callscreen_screen_prompts_missing from the PBX's
// first call on, challenged or not (the first call from a PBX checks its
// prompts beside the lookup).
func TestMissingPromptShowsInReadyz(t *testing.T) {
	sounds := map[string]int64{}
	for _, s := range screen.ChallengeSounds(policy.Default().Challenge) {
		sounds[s] = 8000
	}
	delete(sounds, "callscreen/digits/4")
	for _, tc := range []struct {
		name       string
		call       agitest.Call
		challenged bool
	}{
		{"first call challenged", agitest.Call{CallerID: "anonymous", Sounds: sounds, Caller: agitest.Caller{Auto: true}}, true},
		{"first call allowed", agitest.Call{CallerID: "+12125551234", Sounds: sounds}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startServe(t, "", nil)
			tr := call(t, p, tc.call)
			if tr.Vars["CALLSCREEN_RESULT"] != "allow" || strings.Contains(tr.Vars["CALLSCREEN_REASONS"], "challenge.unavailable") != tc.challenged || tr.Answered || len(tr.Played) > 0 {
				t.Fatalf("vars %v answered %v played %q", tr.Vars, tr.Answered, tr.Played)
			}
			code, body := readyz(t, p)
			want := "ready\nprompts missing on PBX 127.0.0.1 (language en): callscreen/digits/4; its challenges fail open\n"
			if code != 200 || body != want {
				t.Fatalf("readyz %d %q; want 200 %q", code, body, want)
			}
			if got := p.metric(t, `callscreen_screen_prompts_missing{pbx="127.0.0.1"}`); got != "1" {
				t.Fatalf("callscreen_screen_prompts_missing{pbx=127.0.0.1} = %q; want 1", got)
			}
			if n := len(p.logs.records("screen: prompts missing on the PBX; its challenges fail open (challenge.unavailable) until they are installed")); n != 1 {
				t.Fatalf("%d warnings; want 1", n)
			}
			// The next call from the PBX asks nothing more.
			tr = call(t, p, agitest.Call{CallerID: "+12125551234", Sounds: sounds})
			for _, c := range tr.Commands {
				if strings.HasPrefix(c, "GET FULL VARIABLE") {
					t.Fatalf("the second call checked again: %q", tr.Commands)
				}
			}
		})
	}
}

// TestARIPromptsAtConnect: over ARI the prompts are checked as soon as
// serve is connected to the PBX, before any call.
func TestARIPromptsAtConnect(t *testing.T) {
	fake := aritest.NewServer(aritest.Config{Username: "callscreen", Password: "s3cret", MissingSounds: []string{"callscreen/beep"}})
	defer fake.Close()
	p := startServe(t, baseConfig+fmt.Sprintf(`
ari:
  servers:
    - url: %s
      username: callscreen
      password: s3cret
`, fake.URL), baseFiles)
	u, err := url.Parse(fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	want := "ready\nprompts missing on PBX " + u.Host + " (language en): callscreen/beep; its challenges fail open\n"
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := readyz(t, p)
		if code == 200 && body == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz %d %q; want 200 %q", code, body, want)
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
	if got := p.metric(t, `callscreen_screen_prompts_missing{pbx="`+u.Host+`"}`); got != "1" {
		t.Fatalf("callscreen_screen_prompts_missing = %q; want 1", got)
	}
}
