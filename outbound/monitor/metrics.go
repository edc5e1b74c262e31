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
	m := &Metrics{
		calls:            prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "callscreen_outbound_calls", Help: "Outbound calls placed by our number in the window."}, []string{"number"}),
		answered:         prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "callscreen_outbound_answered_calls", Help: "Outbound calls of our number answered in the window."}, []string{"number"}),
		shortShare:       prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "callscreen_outbound_short_share_ratio", Help: "Share of our number's answered calls shorter than the short-call threshold."}, []string{"number"}),
		unreachableShare: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "callscreen_outbound_unreachable_share_ratio", Help: "Share of our number's calls to unreachable numbers (FAILED, CONGESTION, NO ANSWER after 0 s)."}, []string{"number"}),
		callsPerDay:      prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "callscreen_outbound_calls_per_day", Help: "Our number's calls per day with calls, in the window."}, []string{"number"}),
		likelySpam:       prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "callscreen_outbound_likely_spam", Help: "1 when our number crossed a threshold and is likely to be labelled spam."}, []string{"number"}),
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
