package screen

import (
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/policy"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what the flow decides and how long it takes.
type Metrics struct {
	decisions  *prometheus.CounterVec
	reasons    *prometheus.CounterVec
	challenges *prometheus.CounterVec
	wrong      prometheus.Counter
	latency    prometheus.Histogram
	duration   prometheus.Histogram
	inFlight   prometheus.Gauge
	failures   *prometheus.CounterVec
	// The prompt check (Prompts) and the STIR/SHAKEN results calls carry.
	promptChecks *prometheus.CounterVec
	missing      *prometheus.GaugeVec
	stir         *prometheus.CounterVec
}

// Failure kinds counted by callscreen_screen_failures_total.
const (
	failInternal = "internal" // a panic in the flow, failed open
	failLookup   = "lookup"   // the reputation source failed or ran out of time
	failVerifier = "verifier" // the verified-caller store failed
	failChannel  = "channel"  // the transport failed (not a hangup)
)

// NewMetrics creates the flow's metrics and registers them with reg (nil:
// not registered, still usable).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_screen_decisions_total",
			Help: "Screened calls by action, held action (monitor mode), result, tier, profile and tenant.",
		}, []string{"action", "held", "result", "tier", "profile", "tenant"}),
		reasons: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_screen_reasons_total",
			Help: "Reason codes attached to decisions.",
		}, []string{"reason"}),
		challenges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_screen_challenges_total",
			Help: "DTMF challenges played, by outcome (passed, failed, abandoned, unavailable).",
		}, []string{"outcome"}),
		wrong: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscreen_screen_challenge_wrong_entries_total",
			Help: "Wrong digit entries in challenges (silence not counted).",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "callscreen_screen_decision_seconds",
			Help:    "Time from the start of a session to the policy decision.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "callscreen_screen_session_seconds",
			Help:    "Time a call spent in the flow, challenge included.",
			Buckets: []float64{.001, .01, .1, .5, 1, 2.5, 5, 10, 20, 30, 60, 120},
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callscreen_screen_sessions_in_flight",
			Help: "Calls being screened now.",
		}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_screen_failures_total",
			Help: "Failures the flow handled with its default, by kind (internal, lookup, verifier, channel).",
		}, []string{"kind"}),
		promptChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_screen_prompt_checks_total",
			Help: "Checks that a challenge's sounds exist on the PBX, by result (cached, complete, missing, error).",
		}, []string{"result"}),
		missing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "callscreen_screen_prompts_missing",
			Help: "Sounds a challenge needs that the last check found missing, by PBX; above 0 its challenges fail open.",
		}, []string{"pbx"}),
		stir: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_screen_stir_total",
			Help: "Screened calls that carried a STIR/SHAKEN result, by attestation (A, B, C, none) and verification (success, failure).",
		}, []string{"attestation", "verification"}),
	}
	for _, r := range []string{"cached", "complete", "missing", "error"} {
		m.promptChecks.WithLabelValues(r)
	}
	for _, k := range []string{failInternal, failLookup, failVerifier, failChannel} {
		m.failures.WithLabelValues(k)
	}
	if reg != nil {
		reg.MustRegister(m.decisions, m.reasons, m.challenges, m.wrong, m.latency, m.duration, m.inFlight, m.failures,
			m.promptChecks, m.missing, m.stir)
	}
	return m
}

func (m *Metrics) fail(kind string) {
	if m != nil {
		m.failures.WithLabelValues(kind).Inc()
	}
}

func (m *Metrics) promptCheck(result string) {
	if m != nil {
		m.promptChecks.WithLabelValues(result).Inc()
	}
}

func (m *Metrics) promptsMissing(pbx string, n int) {
	if m != nil {
		m.missing.WithLabelValues(pbx).Set(float64(n))
	}
}

func (m *Metrics) record(r *decision.Result) {
	if m == nil {
		return
	}
	d := r.Decision
	m.decisions.WithLabelValues(string(d.Action), string(d.Held), string(r.Result), string(d.Tier), r.Profile, r.Tenant).Inc()
	for _, reason := range d.Reasons {
		m.reasons.WithLabelValues(string(reason)).Inc()
	}
	if d.Action == policy.Challenge {
		outcome := string(r.Challenge)
		if r.Challenge == policy.OutcomeNone {
			outcome = "unavailable"
		}
		m.challenges.WithLabelValues(outcome).Inc()
	}
	if r.Attestation != "" {
		verification := "failure"
		if r.VerifyResult == "success" && r.Attestation != "none" {
			verification = "success"
		}
		m.stir.WithLabelValues(r.Attestation, verification).Inc()
	}
	if r.WrongEntries > 0 {
		m.wrong.Add(float64(r.WrongEntries))
	}
	m.latency.Observe(r.DecisionLatency.Seconds())
	m.duration.Observe(r.Duration.Seconds())
}
