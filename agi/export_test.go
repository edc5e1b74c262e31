package agi

import "github.com/prometheus/client_golang/prometheus"

// CommandsCounter exposes one commands_total series to the external tests.
func (m *Metrics) CommandsCounter(verb, outcome string) prometheus.Counter {
	return m.commands.WithLabelValues(verb, outcome)
}

// RejectedCounter exposes one sessions_rejected_total series.
func (m *Metrics) RejectedCounter(reason string) prometheus.Counter {
	return m.rejected.WithLabelValues(reason)
}

// PanicsCounter exposes panics_total.
func (m *Metrics) PanicsCounter() prometheus.Counter { return m.panics }

// InFlightGauge exposes sessions_in_flight.
func (m *Metrics) InFlightGauge() prometheus.Gauge { return m.inFlight }

// AcceptedCounter exposes sessions_accepted_total.
func (m *Metrics) AcceptedCounter() prometheus.Counter { return m.accepted }

// PendingLen is how many connections wait for their environment block.
func (s *Server) PendingLen() int { return s.pending.len() }
