package monitor

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the outbound-health metrics.
type Metrics struct {
	calls, answered, shortShare, unreachableShare, callsPerDay, likelySpam *prometheus.GaugeVec
	refreshes                                                              *prometheus.CounterVec
	lastSuccess                                                            prometheus.Gauge
	malformed                                                              prometheus.Counter
	webhooks                                                               *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg; a nil reg
// leaves them unregistered.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	num := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, []string{"number"})
	}
	m := &Metrics{
		calls:            num("callscreen_outbound_calls", "Outbound calls placed by our number in the window."),
		answered:         num("callscreen_outbound_answered_calls", "Outbound calls of our number answered in the window."),
		shortShare:       num("callscreen_outbound_short_share_ratio", "Share of our number's answered calls shorter than the short-call threshold."),
		unreachableShare: num("callscreen_outbound_unreachable_share_ratio", "Share of our number's calls to unreachable numbers (FAILED, CONGESTION, NO ANSWER after 0 s)."),
		callsPerDay:      num("callscreen_outbound_calls_per_day", "Our number's calls per day with calls, in the window."),
		likelySpam:       num("callscreen_outbound_likely_spam", "1 when our number crossed a threshold and is likely to be labelled spam."),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_outbound_refreshes_total", Help: "Reads of the CDRs by result (ok, error).",
		}, []string{"result"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callscreen_outbound_last_refresh_success_timestamp_seconds", Help: "When the CDRs were last read without error.",
		}),
		malformed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscreen_outbound_malformed_rows_total", Help: "CDR rows skipped because they could not be read.",
		}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_outbound_webhook_deliveries_total", Help: "Outbound-health webhook deliveries by result (ok, error).",
		}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(m.calls, m.answered, m.shortShare, m.unreachableShare, m.callsPerDay, m.likelySpam,
			m.refreshes, m.lastSuccess, m.malformed, m.webhooks)
	}
	return m
}
