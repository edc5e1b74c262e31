package reputation

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the provider lookup metrics. Every provider is a label value
// of the same series, so a new provider needs no new metric.
type Metrics struct {
	// Lookups counts provider lookups per call by outcome: cached (answered
	// from the cache), answered, not_covered, error, late (still running
	// when the call's budget ran out).
	Lookups *prometheus.CounterVec
	// LookupSeconds is the time Providers.Lookup held a call.
	LookupSeconds prometheus.Histogram
	// RequestSeconds is the time of each provider request, late ones
	// included.
	RequestSeconds *prometheus.HistogramVec
	// Errors counts failed provider requests by class.
	Errors *prometheus.CounterVec
	// BreakerState is each provider's circuit breaker: 0 closed,
	// 1 half-open, 2 open.
	BreakerState *prometheus.GaugeVec
	// Shared counts calls that were answered by a request another call
	// had already started (singleflight).
	Shared *prometheus.CounterVec
	// BudgetExceeded counts calls that went on without some provider's
	// answer because the budget ran out.
	BudgetExceeded prometheus.Counter
	// LateFills counts answers that came after the budget and only filled
	// the cache.
	LateFills *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg; a nil reg
// leaves them unregistered (tests, tools).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_reputation_provider_lookups_total",
			Help: "Provider lookups per call, by provider and outcome (cached, answered, not_covered, error, late).",
		}, []string{"provider", "outcome"}),
		LookupSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "callscreen_reputation_lookup_seconds",
			Help:    "Time the provider stage (cache and providers, under the shared budget) held a call.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .2, .3, .4, .5, 1},
		}),
		RequestSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "callscreen_reputation_provider_request_seconds",
			Help:    "Duration of provider requests, including those that finished after the call's budget.",
			Buckets: []float64{.005, .01, .025, .05, .1, .2, .3, .4, .5, 1, 2.5, 5, 10},
		}, []string{"provider"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_reputation_provider_errors_total",
			Help: "Failed provider requests by provider and error class.",
		}, []string{"provider", "class"}),
		BreakerState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "callscreen_reputation_provider_breaker_state",
			Help: "Circuit breaker state per provider: 0 closed, 1 half-open, 2 open.",
		}, []string{"provider"}),
		Shared: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_reputation_provider_shared_total",
			Help: "Calls answered by a provider request shared with concurrent calls for the same number.",
		}, []string{"provider"}),
		BudgetExceeded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscreen_reputation_budget_exceeded_total",
			Help: "Calls that went on without some provider's answer because the reputation budget ran out.",
		}),
		LateFills: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_reputation_provider_late_fills_total",
			Help: "Provider answers that arrived after the call's budget and only filled the cache.",
		}, []string{"provider"}),
	}
	if reg != nil {
		reg.MustRegister(m.Lookups, m.LookupSeconds, m.RequestSeconds, m.Errors, m.BreakerState, m.Shared, m.BudgetExceeded, m.LateFills)
	}
	return m
}
