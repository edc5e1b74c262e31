package feedback

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the feedback metrics.
type Metrics struct {
	// Lookups counts call-path lookups by result: spam, not-spam, none,
	// error.
	Lookups *prometheus.CounterVec
	// BadLines counts lines of the feedback file that could not be read
	// and were skipped.
	BadLines prometheus.Counter
}

// NewMetrics creates the metrics and registers them with reg; a nil reg
// leaves them unregistered.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_feedback_lookups_total",
			Help: "Agent-feedback lookups on the call path by result (spam, not-spam, none, error).",
		}, []string{"result"}),
		BadLines: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscreen_feedback_bad_lines_total",
			Help: "Lines of the feedback file that could not be read and were skipped.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Lookups, m.BadLines)
	}
	return m
}
