package behavior

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the behaviour checks' Prometheus metrics.
type Metrics struct {
	// Checks counts calls checked; Signals the signals raised, by reason.
	Checks  prometheus.Counter
	Signals *prometheus.CounterVec
	// CounterErrors counts calls whose counters failed (Redis down or
	// slow): only the configuration checks applied.
	CounterErrors prometheus.Counter
	// CountSeconds is the time the counters took per call.
	CountSeconds prometheus.Histogram
	// Flags counts challenged or flagged calls recorded, by result
	// (ok, error, dropped).
	Flags *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Checks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscreen_behavior_checks_total",
			Help: "Calls checked for caller behaviour.",
		}),
		Signals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_behavior_signals_total",
			Help: "Behaviour signals raised, by reason code.",
		}, []string{"reason"}),
		CounterErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscreen_behavior_unavailable_total",
			Help: "Calls whose behaviour counters failed; only configuration checks applied.",
		}),
		CountSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "callscreen_behavior_count_seconds",
			Help:    "Time the behaviour counters took per call.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1},
		}),
		Flags: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_behavior_flags_total",
			Help: "Challenged or flagged calls recorded for repeat detection, by result (ok, error, dropped).",
		}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(m.Checks, m.Signals, m.CounterErrors, m.CountSeconds, m.Flags)
	}
	return m
}
