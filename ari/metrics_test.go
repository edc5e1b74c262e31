package ari_test

import (
	"context"
	"testing"

	"github.com/callscreen/callscreen/ari"
	"github.com/callscreen/callscreen/ari/aritest"
	"github.com/callscreen/callscreen/internal/timingtest"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

func TestMetricsLint(t *testing.T) {
	srv := newServer(t, aritest.Config{})
	h := start(t, srv, ari.HandlerFunc(func(ctx context.Context, c *ari.Call) { c.Answer(ctx) }))
	ch := mustStart(t, srv, aritest.CallSpec{})
	waitDone(t, ch)
	srv.DropConnections()
	timingtest.WaitFor(t, "a reconnect", func() bool { return h.metric("callscreen_ari_reconnects_total", "server", h.app.Client.Server()) == 1 })

	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	have := map[string]bool{}
	for _, mf := range mfs {
		have[mf.GetName()] = true
	}
	for _, name := range []string{
		"callscreen_ari_events_total", "callscreen_ari_event_delay_seconds", "callscreen_ari_requests_total",
		"callscreen_ari_request_seconds", "callscreen_ari_reconnects_total", "callscreen_ari_websocket_up",
		"callscreen_ari_channels_in_flight", "callscreen_ari_calls_total",
	} {
		if !have[name] {
			t.Errorf("%s not exported", name)
		}
	}
	if got := h.metric("callscreen_ari_events_total", "type", "StasisStart"); got != 1 {
		t.Errorf("StasisStart events %v", got)
	}
	if got := h.metric("callscreen_ari_requests_total", "method", "POST", "status", "204"); got < 2 {
		t.Errorf("POST 204 requests %v", got)
	}
}
