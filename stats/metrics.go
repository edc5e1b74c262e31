package stats

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the statistics' metrics. The per-DID series exist only for
// the DIDs named in Options.MetricDIDs (stats.dids), so their labels stay
// bounded whatever the trunks send.
type Metrics struct {
	didCalls       *prometheus.CounterVec
	didChallenges  *prometheus.CounterVec
	didJunk        *prometheus.CounterVec
	sharedErrors   *prometheus.CounterVec
	dropped        prometheus.Counter
	rebuildRecords prometheus.Gauge
	rebuildSeconds prometheus.Gauge
}

// NewMetrics creates the metrics and registers them with reg; a nil reg
// leaves them unregistered.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		didCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_stats_did_calls_total",
			Help: "Calls screened for each DID named in stats.dids, by result (allow, block, voicemail).",
		}, []string{"did", "result"}),
		didChallenges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_stats_did_challenges_total",
			Help: "Challenges that ended for each DID named in stats.dids, by outcome (passed, failed, abandoned).",
		}, []string{"did", "outcome"}),
		didJunk: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_stats_did_junk_total",
			Help: "Junk calls (blocked, failed challenges, blocks held by monitor mode) for each DID named in stats.dids.",
		}, []string{"did"}),
		sharedErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_stats_shared_errors_total",
			Help: "Failed reads and writes of the statistics shared in Redis, by operation (read, write).",
		}, []string{"op"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscreen_stats_dropped_total",
			Help: "Counts not written to Redis because too many were waiting (Redis down for long).",
		}),
		rebuildRecords: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callscreen_stats_rebuild_records",
			Help: "Decision-log records the statistics were rebuilt from at start.",
		}),
		rebuildSeconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callscreen_stats_rebuild_duration_seconds",
			Help: "How long rebuilding the statistics from the decision log took at start.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.didCalls, m.didChallenges, m.didJunk, m.sharedErrors, m.dropped, m.rebuildRecords, m.rebuildSeconds)
	}
	return m
}
