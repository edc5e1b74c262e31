package agi

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the FastAGI server's Prometheus metrics. A nil *Metrics
// records nothing.
type Metrics struct {
	inFlight       prometheus.Gauge
	accepted       prometheus.Counter
	rejected       *prometheus.CounterVec
	panics         prometheus.Counter
	commands       *prometheus.CounterVec
	commandSeconds *prometheus.HistogramVec
	sessionSeconds prometheus.Histogram

	rejectedCap, rejectedACL, rejectedHeader, rejectedPending, rejectedProbe prometheus.Counter
	// cached children, filled on first use: label lookups cost more than
	// the command they count.
	cmdCounters [len(verbLabels)][len(outcomeLabels)]atomic.Pointer[prometheus.Counter]
	cmdSeconds  [len(verbLabels)]atomic.Pointer[prometheus.Observer]
}

// Rejection reasons (label reason of callscreen_agi_sessions_rejected_total).
const (
	RejectCap    = "cap"    // over MaxSessions: closed at once
	RejectACL    = "acl"    // peer not in Allow: closed before reading
	RejectHeader = "header" // environment block broken, over a cap or too slow
	// RejectPending: closed while waiting for its environment block, to
	// make room under MaxPending or MaxPendingPerPeer (the oldest goes).
	RejectPending = "pending"
	// RejectProbe: an empty environment block (a monitoring probe), not a call.
	RejectProbe = "probe"
)

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered, still counted).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callscreen_agi_sessions_in_flight",
			Help: "FastAGI sessions currently open.",
		}),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscreen_agi_sessions_accepted_total",
			Help: "FastAGI calls admitted: environment block read and a session slot taken.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_agi_sessions_rejected_total",
			Help: "FastAGI connections closed without running the handler, by reason (cap, acl, header, pending, probe).",
		}, []string{"reason"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscreen_agi_panics_total",
			Help: "FastAGI handlers that panicked (recovered, session closed).",
		}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_agi_commands_total",
			Help: "AGI commands sent, by verb and outcome (ok, hangup, dead, invalid, bad_argument, timeout, canceled, protocol, error).",
		}, []string{"verb", "outcome"}),
		commandSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "callscreen_agi_command_seconds",
			Help:    "Time from writing an AGI command to reading its reply, by verb.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"verb"}),
		sessionSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "callscreen_agi_session_seconds",
			Help:    "FastAGI session duration, from accept to close.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}),
	}
	m.rejectedCap = m.rejected.WithLabelValues(RejectCap)
	m.rejectedACL = m.rejected.WithLabelValues(RejectACL)
	m.rejectedHeader = m.rejected.WithLabelValues(RejectHeader)
	m.rejectedPending = m.rejected.WithLabelValues(RejectPending)
	m.rejectedProbe = m.rejected.WithLabelValues(RejectProbe)
	if reg != nil {
		reg.MustRegister(m.inFlight, m.accepted, m.rejected, m.panics, m.commands, m.commandSeconds, m.sessionSeconds)
	}
	return m
}

// verbLabels are the verbs counted by name; anything else is "other".
var verbLabels = [...]string{
	"other", "answer", "stream_file", "get_data", "wait_for_digit", "say_digits",
	"set_variable", "get_variable", "get_full_variable", "verbose", "exec",
	"hangup", "channel_status", "set_context", "set_extension", "set_priority", "noop",
}

var outcomeLabels = [...]string{
	"ok", "hangup", "dead", "invalid", "bad_argument", "timeout", "canceled", "protocol", "error",
}

func verbIndex(verb string) int {
	switch verb {
	case "ANSWER":
		return 1
	case "STREAM FILE":
		return 2
	case "GET DATA":
		return 3
	case "WAIT FOR DIGIT":
		return 4
	case "SAY DIGITS":
		return 5
	case "SET VARIABLE":
		return 6
	case "GET VARIABLE":
		return 7
	case "GET FULL VARIABLE":
		return 8
	case "VERBOSE":
		return 9
	case "EXEC":
		return 10
	case "HANGUP":
		return 11
	case "CHANNEL STATUS":
		return 12
	case "SET CONTEXT":
		return 13
	case "SET EXTENSION":
		return 14
	case "SET PRIORITY":
		return 15
	case "NOOP":
		return 16
	}
	for i, l := range verbLabels {
		if strings.EqualFold(strings.ReplaceAll(verb, " ", "_"), l) {
			return i
		}
	}
	return 0
}

func outcomeIndex(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrDeadChannel):
		return 2
	case errors.Is(err, ErrHangup):
		return 1
	case errors.Is(err, ErrInvalidCommand):
		return 3
	case errors.Is(err, ErrBadArgument):
		return 4
	case errors.Is(err, context.DeadlineExceeded):
		return 5
	case errors.Is(err, context.Canceled):
		return 6
	case errors.Is(err, ErrProtocol):
		return 7
	default:
		return 8
	}
}

func (m *Metrics) command(verb string, err error, d time.Duration) {
	if m == nil {
		return
	}
	v, o := verbIndex(verb), outcomeIndex(err)
	c := m.cmdCounters[v][o].Load()
	if c == nil {
		cc := m.commands.WithLabelValues(verbLabels[v], outcomeLabels[o])
		c = &cc
		m.cmdCounters[v][o].Store(c)
	}
	(*c).Inc()
	h := m.cmdSeconds[v].Load()
	if h == nil {
		hh := m.commandSeconds.WithLabelValues(verbLabels[v])
		h = &hh
		m.cmdSeconds[v].Store(h)
	}
	(*h).Observe(d.Seconds())
}

func (m *Metrics) sessionStart() {
	if m == nil {
		return
	}
	m.accepted.Inc()
	m.inFlight.Inc()
}

func (m *Metrics) sessionEnd(d time.Duration) {
	if m == nil {
		return
	}
	m.inFlight.Dec()
	m.sessionSeconds.Observe(d.Seconds())
}

func (m *Metrics) reject(reason string) {
	if m == nil {
		return
	}
	switch reason {
	case RejectCap:
		m.rejectedCap.Inc()
	case RejectACL:
		m.rejectedACL.Inc()
	case RejectPending:
		m.rejectedPending.Inc()
	case RejectProbe:
		m.rejectedProbe.Inc()
	default:
		m.rejectedHeader.Inc()
	}
}

func (m *Metrics) panicked() {
	if m == nil {
		return
	}
	m.panics.Inc()
}
