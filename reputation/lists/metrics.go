package lists

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the lists' Prometheus metrics.
type Metrics struct {
	// Entries is the number of entries loaded, by list and kind.
	Entries *prometheus.GaugeVec
	// Lookups counts lookups.
	Lookups prometheus.Counter
	// Hits counts lookups that matched, by reason code.
	Hits *prometheus.CounterVec
	// BadLines is the number of bad lines skipped in the last load of the
	// list files.
	BadLines prometheus.Gauge
	// Reloads counts reloads by result (ok, error).
	Reloads *prometheus.CounterVec
	// Bytes estimates the memory the exact-number entries take.
	Bytes prometheus.Gauge
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Entries: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "callscreen_lists_entries",
			Help: "Entries on the must-pass and must-block lists, by list and kind.",
		}, []string{"list", "kind"}),
		Lookups: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscreen_lists_lookups_total",
			Help: "Lookups of a caller in the lists.",
		}),
		Hits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_lists_hits_total",
			Help: "Lookups that matched a list entry, by reason code.",
		}, []string{"reason"}),
		BadLines: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callscreen_lists_bad_lines",
			Help: "Bad lines skipped in the last load of the list files.",
		}),
		Reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_lists_reloads_total",
			Help: "Reloads of the list files, by result (ok, error).",
		}, []string{"result"}),
		Bytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callscreen_lists_memory_bytes",
			Help: "Estimated memory taken by the exact-number list entries.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Entries, m.Lookups, m.Hits, m.BadLines, m.Reloads, m.Bytes)
	}
	return m
}
