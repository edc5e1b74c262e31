package feed

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the feed's Prometheus metrics.
type Metrics struct {
	// Numbers is how many numbers the feed holds (all tenants).
	Numbers prometheus.Gauge
	// Lookups counts lookups; Hits those that found a recent report.
	Lookups prometheus.Counter
	Hits    *prometheus.CounterVec
	// Rows counts imported rows by result (accepted, rejected).
	Rows *prometheus.CounterVec
	// Pulls counts scheduled and manual pulls by result (ok, error, skipped).
	Pulls *prometheus.CounterVec
	// LastPull is the unix time of the last successful pull.
	LastPull prometheus.Gauge
	// ImportSeconds is how long imports take.
	ImportSeconds prometheus.Histogram
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Numbers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callscreen_feed_numbers",
			Help: "Numbers held from the daily spam-report feed.",
		}),
		Lookups: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscreen_feed_lookups_total",
			Help: "Lookups of a caller in the feed.",
		}),
		Hits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_feed_hits_total",
			Help: "Lookups that found a report within the retention window, by reason code.",
		}, []string{"reason"}),
		Rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_feed_rows_total",
			Help: "Feed rows imported, by result (accepted, rejected).",
		}, []string{"result"}),
		Pulls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_feed_pulls_total",
			Help: "Feed pulls by result (ok, error, skipped).",
		}, []string{"result"}),
		LastPull: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callscreen_feed_last_pull_timestamp_seconds",
			Help: "Unix time of the last successful feed pull.",
		}),
		ImportSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "callscreen_feed_import_seconds",
			Help:    "Time taken by feed imports.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 8),
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Numbers, m.Lookups, m.Hits, m.Rows, m.Pulls, m.LastPull, m.ImportSeconds)
	}
	return m
}
