package ari

import "github.com/prometheus/client_golang/prometheus"

// Results of a websocket handshake Asterisk attempts, counted by
// callscreen_ari_outbound_handshakes_total.
const (
	handshakeAccepted     = "accepted"       // upgraded
	handshakeUnauthorized = "unauthorized"   // 401: no or wrong user name or password
	handshakeNotFound     = "not_found"      // 404: another path than the configured one
	handshakeNoProtocol   = "no_subprotocol" // 400: subprotocol ari not offered
	handshakeOverCapacity = "over_capacity"  // 503: a connection cap reached
	handshakeClosing      = "closing"        // 503: the server is stopping
	handshakeFailed       = "failed"         // not a valid websocket handshake
)

// OutboundMetrics counts the connections Asterisk opens to an
// OutboundServer. Calls and REST requests are counted by the transport's
// Metrics. A nil *OutboundMetrics counts nothing.
type OutboundMetrics struct {
	handshakes *prometheus.CounterVec
	open       *prometheus.GaugeVec
	lost       *prometheus.CounterVec
}

// NewOutboundMetrics creates the metrics and registers them with reg (nil:
// not registered, still usable).
func NewOutboundMetrics(reg prometheus.Registerer) *OutboundMetrics {
	m := &OutboundMetrics{
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_ari_outbound_handshakes_total",
			Help: "Websocket handshakes Asterisk attempted (ARI outbound websockets), by result: accepted, unauthorized, not_found, no_subprotocol, over_capacity, closing, failed.",
		}, []string{"result"}),
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "callscreen_ari_outbound_connections",
			Help: "Websocket connections from Asterisk open now, by configured user.",
		}, []string{"user"}),
		lost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_ari_outbound_calls_lost_total",
			Help: "Calls in flight given up because their connection from Asterisk closed and none came back in time, by user.",
		}, []string{"user"}),
	}
	if reg != nil {
		reg.MustRegister(m.handshakes, m.open, m.lost)
	}
	return m
}

func (m *OutboundMetrics) handshake(result string) {
	if m != nil {
		m.handshakes.WithLabelValues(result).Inc()
	}
}

func (m *OutboundMetrics) conns(user string, d float64) {
	if m != nil {
		m.open.WithLabelValues(user).Add(d)
	}
}

func (m *OutboundMetrics) callLost(user string) {
	if m != nil {
		m.lost.WithLabelValues(user).Inc()
	}
}
