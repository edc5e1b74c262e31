package admin

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the admin server's metrics.
type Metrics struct {
	requests          *prometheus.CounterVec
	authFailures      prometheus.Counter
	streamSubscribers prometheus.Gauge
	streamDropped     prometheus.Counter
	streamRefused     prometheus.Counter
}

// NewMetrics creates the admin metrics and registers them with reg; a nil
// reg leaves them unregistered.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_admin_requests_total",
			Help: "Admin API requests by handler and HTTP status code.",
		}, []string{"handler", "code"}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscreen_admin_auth_failures_total",
			Help: "Admin API requests refused for a missing or wrong token.",
		}),
		streamSubscribers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callscreen_admin_stream_subscribers",
			Help: "Live decision streams open.",
		}),
		streamDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscreen_admin_stream_dropped_total",
			Help: "Live decision stream subscribers dropped for falling behind.",
		}),
		streamRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscreen_admin_stream_refused_total",
			Help: "Live decision streams refused (429) because admin.stream_max_subscribers were open.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.authFailures, m.streamSubscribers, m.streamDropped, m.streamRefused)
	}
	return m
}
