package ari_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/callscreen/callscreen/ari"
	"github.com/callscreen/callscreen/ari/aritest"
)

// TestRecoverWaitsForStasisStartsInFlight: calls that enter Stasis just
// before the app lists the channels after connecting have their
// StasisStart on this connection, maybe not read yet. With no recovery
// delay at all, every one of them is still screened by the handler and
// none is handed back unscreened: the recovery waits for the read loop to
// catch up (a WebSocket ping as a barrier), not for a timer.
func TestRecoverWaitsForStasisStartsInFlight(t *testing.T) {
	const calls = 100
	srv := newServer(t, aritest.Config{})
	var once sync.Once
	var chans []*aritest.Channel
	// At the first listing of channels, 100 calls enter Stasis: their
	// StasisStarts are written just before the listing is answered.
	srv.Fail(func(r *http.Request, path string) (int, string) {
		if r.Method == http.MethodGet && path == "/channels" {
			once.Do(func() {
				// The simulator registers the application just after
				// the WebSocket upgrade; the listing can come first.
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := srv.WaitConnected(ctx, appName); err != nil {
					t.Error(err)
					return
				}
				for range calls {
					ch, err := srv.StartCall(appName, aritest.CallSpec{})
					if err != nil {
						t.Error(err)
						return
					}
					chans = append(chans, ch)
				}
			})
		}
		return 0, ""
	})
	handled := make(chan string, calls)
	h := start(t, srv, ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
		handled <- c.ID()
	}), func(a *ari.App) { a.RecoverDelay = time.Nanosecond })
	seen := map[string]bool{}
	deadline := time.After(20 * time.Second)
	for len(seen) < calls {
		select {
		case id := <-handled:
			seen[id] = true
		case <-deadline:
			t.Fatalf("%d of %d calls reached the handler; recovered %v", len(seen), calls,
				h.metric("callscreen_ari_calls_total", "tenant", "default-tenant", "outcome", "recovered"))
		}
	}
	h.shutdown(t)
	if got := h.metric("callscreen_ari_calls_total", "tenant", "default-tenant", "outcome", "recovered"); got != 0 {
		t.Errorf("%v calls handed back unscreened", got)
	}
	if len(chans) != calls {
		t.Fatalf("%d channels started", len(chans))
	}
}
