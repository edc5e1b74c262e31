package ari

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what the ARI transport does. One Metrics may be shared by
// every Client and App of a process; a nil *Metrics counts nothing.
type Metrics struct {
	events     *prometheus.CounterVec
	delay      prometheus.Histogram
	requests   *prometheus.CounterVec
	reqTime    *prometheus.HistogramVec
	reconnects *prometheus.CounterVec
	up         *prometheus.GaugeVec
	inFlight   *prometheus.GaugeVec
	calls      *prometheus.CounterVec
}

// Outcomes counted by callscreen_ari_calls_total.
const (
	outcomeContinued = "continued" // handed back to the dialplan
	outcomeHangup    = "hangup"    // the caller was gone first
	outcomeRecovered = "recovered" // found waiting after a (re)connect, handed back
	outcomeOverload  = "overload"  // over MaxCalls, handed back unscreened
	outcomeOverrun   = "overrun"   // the handler overran its deadline; handed back with the Recover variables
	outcomeError     = "error"     // continue failed; Asterisk keeps the channel until it hangs up
)

// knownEvents bounds the type label of callscreen_ari_events_total.
var knownEvents = map[string]bool{
	"StasisStart": true, "StasisEnd": true, "ChannelDtmfReceived": true,
	"PlaybackStarted": true, "PlaybackContinuing": true, "PlaybackFinished": true,
	"ChannelHangupRequest": true, "ChannelDestroyed": true, "ChannelVarset": true,
	"ChannelStateChange": true, "ChannelCallerId": true, "ChannelDialplan": true,
	"ApplicationReplaced": true, "ApplicationRegistered": true,
}

// NewMetrics creates the transport's metrics and registers them with reg
// (nil: not registered, still usable).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_ari_events_total",
			Help: "Events received on ARI event connections, by type (other: a type not modelled; invalid: not an event).",
		}, []string{"type"}),
		delay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "callscreen_ari_event_delay_seconds",
			Help:    "Time from reading an event off the WebSocket to having applied it to its call.",
			Buckets: []float64{.00001, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1},
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_ari_requests_total",
			Help: "ARI REST calls by HTTP method and status (error: no answer).",
		}, []string{"method", "status"}),
		reqTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "callscreen_ari_request_seconds",
			Help:    "Duration of ARI REST calls by HTTP method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method"}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_ari_reconnects_total",
			Help: "Event connections re-established after a loss, by Asterisk server.",
		}, []string{"server"}),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "callscreen_ari_websocket_up",
			Help: "1 while the event WebSocket to an Asterisk server is connected.",
		}, []string{"server"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "callscreen_ari_channels_in_flight",
			Help: "Channels in the Stasis application being screened now, by tenant.",
		}, []string{"tenant"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_ari_calls_total",
			Help: "Channels handled, by tenant and how they left the application (continued, hangup, recovered, overload, overrun, error).",
		}, []string{"tenant", "outcome"}),
	}
	if reg != nil {
		reg.MustRegister(m.events, m.delay, m.requests, m.reqTime, m.reconnects, m.up, m.inFlight, m.calls)
	}
	return m
}

func (m *Metrics) event(typ string) {
	if m == nil {
		return
	}
	if !knownEvents[typ] && typ != "invalid" {
		typ = "other"
	}
	m.events.WithLabelValues(typ).Inc()
}

func (m *Metrics) eventDelay(d time.Duration) {
	if m != nil {
		m.delay.Observe(d.Seconds())
	}
}

func (m *Metrics) request(method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	s := "error"
	if status > 0 {
		s = strconv.Itoa(status)
	}
	m.requests.WithLabelValues(method, s).Inc()
	m.reqTime.WithLabelValues(method).Observe(d.Seconds())
}

func (m *Metrics) reconnect(server string) {
	if m != nil {
		m.reconnects.WithLabelValues(server).Inc()
	}
}

func (m *Metrics) connected(server string, up bool) {
	if m == nil {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	m.up.WithLabelValues(server).Set(v)
}

func (m *Metrics) inFlightAdd(tenant string, d float64) {
	if m != nil {
		m.inFlight.WithLabelValues(tenant).Add(d)
	}
}

func (m *Metrics) call(tenant, outcome string) {
	if m != nil {
		m.calls.WithLabelValues(tenant, outcome).Inc()
	}
}
