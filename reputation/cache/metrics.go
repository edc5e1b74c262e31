package cache

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the cache metrics.
type Metrics struct {
	// Hits and Misses count per-provider lookups by level (l1, l2). An L1
	// miss that L2 answers counts as an L1 miss and an L2 hit.
	Hits   *prometheus.CounterVec
	Misses *prometheus.CounterVec
	// DecodeErrors counts stored values that were of another version or
	// did not decode; each read as a miss.
	DecodeErrors prometheus.Counter
	// Errors counts failed Redis operations (op get or set), and operations
	// skipped while the L2 breaker was open (op get_skipped, set_skipped).
	Errors *prometheus.CounterVec
	// Writes counts stored verdicts by TTL class (clean, suspect, spam).
	Writes *prometheus.CounterVec
	// L2Breaker is the L2 breaker state: 0 closed, 1 half-open, 2 open.
	L2Breaker prometheus.Gauge
}

// NewMetrics creates the metrics and registers them with reg; a nil reg
// leaves them unregistered.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Hits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_reputation_cache_hits_total",
			Help: "Reputation cache hits by level (l1 in-process, l2 Redis).",
		}, []string{"level"}),
		Misses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_reputation_cache_misses_total",
			Help: "Reputation cache misses by level (l1 in-process, l2 Redis).",
		}, []string{"level"}),
		DecodeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscreen_reputation_cache_decode_errors_total",
			Help: "Cached values of another version or that did not decode; each read as a miss.",
		}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_reputation_cache_errors_total",
			Help: "Failed or skipped Redis cache operations by op (get, set, get_skipped, set_skipped).",
		}, []string{"op"}),
		Writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_reputation_cache_writes_total",
			Help: "Verdicts stored in the reputation cache by TTL class (clean, suspect, spam).",
		}, []string{"class"}),
		L2Breaker: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callscreen_reputation_cache_l2_breaker_state",
			Help: "State of the breaker in front of Redis: 0 closed, 1 half-open, 2 open.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Hits, m.Misses, m.DecodeErrors, m.Errors, m.Writes, m.L2Breaker)
	}
	return m
}
