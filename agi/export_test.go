package agi

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

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

// RawCommand writes line as it is (a "\n" is added) and reads one reply:
// for replaying captures of commands the Session API never writes.
func (s *Session) RawCommand(line string) (Reply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.conn.Write([]byte(line + "\n")); err != nil {
		return Reply{}, err
	}
	rep, hangups, err := readReply(s.r)
	if hangups > 0 {
		s.hungUp.Store(true)
	}
	return rep, err
}

// SetWorkerIdle sets how long a worker waits for its next connection.
func (s *Server) SetWorkerIdle(d time.Duration) { s.idle = d }

// IdleWorkers is how many workers wait for a connection, Workers how many
// there are.
func (s *Server) IdleWorkers() int { return int(s.waiting.Load()) }
func (s *Server) Workers() int     { return int(s.workers.Load()) }
