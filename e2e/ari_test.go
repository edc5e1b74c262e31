package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/callscreen/callscreen/ari/aritest"
)

// TestARIThroughServe: serve screens Stasis calls from a configured ARI
// server (a fake Asterisk) with the same flow and lists.
func TestARIThroughServe(t *testing.T) {
	fake := aritest.NewServer(aritest.Config{Username: "callscreen", Password: "s3cret"})
	defer fake.Close()
	cfg := baseConfig + fmt.Sprintf(`
ari:
  servers:
    - url: %s
      username: callscreen
      password: s3cret
      tenant: acme
`, fake.URL)
	p := startServe(t, cfg, baseFiles)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := fake.WaitConnected(ctx, "callscreen"); err != nil {
		t.Fatalf("serve never connected to ARI: %v", err)
	}
	tests := ariCalls
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := fake.StartCall("callscreen", tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-ch.Done():
			case <-ctx.Done():
				t.Fatal("call not finished")
			}
			for k, want := range tt.want {
				if got, _ := ch.Var(k); got != want {
					t.Errorf("%s = %q; want %q (all: %v)", k, got, want, ch.Vars())
				}
			}
			if ch.Continued() != 1 {
				t.Errorf("continued %d times", ch.Continued())
			}
		})
	}
	if errs := p.logs.errors(); len(errs) > 0 {
		t.Fatalf("errors logged: %v", errs)
	}
}

// ariCalls are the calls both ARI transports (serve connecting to
// Asterisk, Asterisk connecting to serve) place through serve, with the
// variables each must get.
var ariCalls = []struct {
	name string
	spec aritest.CallSpec
	want map[string]string
}{
	{"allow", aritest.CallSpec{CallerNumber: "+12125551234"}, map[string]string{"CALLSCREEN_RESULT": "allow", "CALLSCREEN_TIER": "UNKNOWN"}},
	{"block", aritest.CallSpec{CallerNumber: "+12125550666"}, map[string]string{"CALLSCREEN_RESULT": "block", "CALLSCREEN_REASONS": "list.block"}},
	{"challenge", aritest.CallSpec{CallerNumber: "+12125551234", Presentation: "prohib", OnPlaybackFinished: aritest.Echo(0)},
		map[string]string{"CALLSCREEN_RESULT": "allow", "CALLSCREEN_CHALLENGE": "passed"}},
	{"monitor profile from the Stasis arguments", aritest.CallSpec{CallerNumber: "+12125550666", Args: []string{"profile=pilot"}},
		map[string]string{"CALLSCREEN_RESULT": "allow", "CALLSCREEN_HELD": "block"}},
}
