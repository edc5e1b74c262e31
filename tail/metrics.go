package tail

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the relay's metrics.
type Metrics struct {
	published prometheus.Counter
	received  prometheus.Counter
	dropped   prometheus.Counter
	errors    *prometheus.CounterVec
	// resubscribed counts subscriptions made again after a lost
	// connection: each is a gap in the live tail.
	resubscribed prometheus.Counter
}

// NewMetrics creates the metrics and registers them with reg; a nil reg
// leaves them unregistered.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscreen_tail_published_total",
			Help: "Decisions published for the live tail of the other instances.",
		}),
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscreen_tail_received_total",
			Help: "Decisions of other instances received for the live tail.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscreen_tail_dropped_total",
			Help: "Decisions not published because the queue was full.",
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_tail_errors_total",
			Help: "Live tail failures by operation (publish, decode).",
		}, []string{"op"}),
		resubscribed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscreen_tail_resubscribed_total",
			Help: "Times the live tail subscribed again after losing Redis (a restart, a failover); decisions other instances made meanwhile were not shown live.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.published, m.received, m.dropped, m.errors, m.resubscribed)
	}
	return m
}
