package ari_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/callscreen/callscreen/ari"
	"github.com/callscreen/callscreen/ari/aritest"
	"github.com/callscreen/callscreen/bridge"
	"github.com/callscreen/callscreen/internal/promtest"
	"github.com/callscreen/callscreen/internal/timingtest"
	"github.com/callscreen/callscreen/screen"
)

// connects records OnConnect calls.
type connects struct {
	mu      sync.Mutex
	servers []string
	ctxs    []context.Context
}

func (c *connects) on(ctx context.Context, cl *ari.Client) {
	c.mu.Lock()
	c.servers = append(c.servers, cl.Server())
	c.ctxs = append(c.ctxs, ctx)
	c.mu.Unlock()
}

func (c *connects) n() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.servers)
}

// promptFlow is a flow with a Prompts of its own and metrics, as serve
// builds it, for ARIPromptCheck.
func promptFlow() (*screen.Flow, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	m := screen.NewMetrics(reg)
	f := &screen.Flow{Logger: slog.New(slog.DiscardHandler), Metrics: m}
	f.Prompts = &screen.Prompts{Logger: f.Logger, Metrics: m}
	return f, reg
}

// TestAppOnConnect: OnConnect runs at every (re)connect, before any call,
// with a ctx that ends when the App stops; with the screening's prompt
// check, a PBX missing a sound is reported (/readyz's lines, the gauge)
// as soon as it is connected.
func TestAppOnConnect(t *testing.T) {
	srv := newServer(t, aritest.Config{MissingSounds: []string{"callscreen/digits/4"}})
	var rec connects
	f, reg := promptFlow()
	check := bridge.ARIPromptCheck(func() *screen.Flow { return f }, slog.New(slog.DiscardHandler))
	h := start(t, srv, ari.HandlerFunc(func(context.Context, *ari.Call) {}), func(a *ari.App) {
		a.OnConnect = func(ctx context.Context, c *ari.Client) {
			rec.on(ctx, c)
			check(ctx, c)
		}
	})
	server := h.app.Client.Server()
	timingtest.WaitFor(t, "the prompts checked at connect", func() bool { return len(f.Prompts.Report()) == 1 })
	r := f.Prompts.Report()[0]
	if !strings.Contains(r, server) || !strings.Contains(r, "callscreen/digits/4") {
		t.Fatalf("report %q", r)
	}
	if got := gauge(t, reg, "callscreen_screen_prompts_missing", server); got != 1 {
		t.Fatalf("prompts_missing{pbx=%s} = %v", server, got)
	}

	srv.DropConnections()
	timingtest.WaitFor(t, "OnConnect after the reconnect", func() bool { return rec.n() == 2 })
	rec.mu.Lock()
	if rec.servers[0] != server || rec.servers[1] != server {
		t.Errorf("servers %q", rec.servers)
	}
	ctx := rec.ctxs[0]
	rec.mu.Unlock()
	h.shutdown(t)
	select {
	case <-ctx.Done():
	default:
		t.Fatal("OnConnect's ctx still live after the App stopped")
	}
}

// TestOutboundOnConnect: a persistent connection gets OnConnect at each
// ApplicationRegistered, with the application's client, whose REST calls
// travel over the websocket, so the prompt check reports the PBX (named
// outbound/USER, as its calls are) before any call; a per_call_config
// connection, which exists for one call, gets none.
func TestOutboundOnConnect(t *testing.T) {
	for _, perCall := range []bool{false, true} {
		t.Run(mode(perCall), func(t *testing.T) {
			srv := newServer(t, aritest.Config{MissingSounds: []string{"callscreen/beep"}})
			var rec connects
			f, _ := promptFlow()
			check := bridge.ARIPromptCheck(func() *screen.Flow { return f }, slog.New(slog.DiscardHandler))
			h := serveOutbound(t, "", ari.HandlerFunc(func(context.Context, *ari.Call) {}), func(os *ari.OutboundServer) {
				os.OnConnect = func(ctx context.Context, c *ari.Client) {
					rec.on(ctx, c)
					check(ctx, c)
				}
			})
			ob := fakeOutbound(t, srv, h.addr, perCall)
			defer ob.Close()
			if !perCall {
				timingtest.WaitFor(t, "the prompts checked at connect", func() bool { return len(f.Prompts.Report()) == 1 })
				if r := f.Prompts.Report()[0]; !strings.Contains(r, "outbound/"+obUser) || !strings.Contains(r, "callscreen/beep") {
					t.Fatalf("report %q", r)
				}
				rec.mu.Lock()
				if len(rec.servers) != 1 || rec.servers[0] != "outbound/"+obUser {
					t.Errorf("OnConnect servers %q", rec.servers)
				}
				rec.mu.Unlock()
				return
			}
			// A call on its own connection, played to its end: no
			// OnConnect.
			ch := mustStartApp(t, srv, obApp(true), aritest.CallSpec{CallerNumber: "+12125551234"})
			select {
			case <-ch.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("call not finished")
			}
			if n := rec.n(); n != 0 {
				t.Fatalf("OnConnect ran %d times for per-call connections", n)
			}
		})
	}
}

// gauge reads the gauge name{pbx=pbx} in reg; -1 when there is none.
func gauge(t *testing.T, reg *prometheus.Registry, name, pbx string) float64 {
	t.Helper()
	if !promtest.Has(reg, name, "pbx", pbx) {
		return -1
	}
	return promtest.Value(reg, name, "pbx", pbx)
}
