package audit

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Metrics are the decision log's metrics.
type Metrics struct {
	records     prometheus.Counter
	dropped     *prometheus.CounterVec
	errors      *prometheus.CounterVec
	failing     prometheus.Gauge
	fsync       prometheus.Histogram
	commit      prometheus.Histogram
	checkpoints prometheus.Counter
	rotations   prometheus.Counter
	queue       prometheus.Gauge
	writtenSeq  prometheus.Gauge
	bytes       prometheus.Counter

	droppedFull, droppedClosed, droppedUnwritten                  prometheus.Counter
	errorsOpen, errorsWrite, errorsSync, errorsHead, errorsEncode prometheus.Counter
}

// NewMetrics creates the audit metrics and registers them with reg; a nil
// reg leaves them unregistered.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscreen_audit_records_total",
			Help: "Decision records written durably to the audit log (under the fsync policy).",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_audit_dropped_total",
			Help: "Decision records that never reached the audit log, by reason: queue_full (disk failing or too slow), closed, unwritten (still failing at shutdown).",
		}, []string{"reason"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscreen_audit_errors_total",
			Help: "Audit log I/O errors by operation: open, write, sync, head, encode.",
		}, []string{"op"}),
		failing: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callscreen_audit_failing",
			Help: "1 while the audit log cannot write (disk full, I/O errors), else 0.",
		}),
		fsync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "callscreen_audit_fsync_seconds",
			Help:    "Time taken by each fsync of the audit log.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "callscreen_audit_commit_seconds",
			Help:    "Time from a decision being recorded to it being durable in the audit log.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .15, .25, .5, 1, 2.5, 5},
		}),
		checkpoints: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscreen_audit_checkpoints_total",
			Help: "Signed checkpoints appended to the audit log.",
		}),
		rotations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscreen_audit_rotations_total",
			Help: "Audit log file rotations (size or day).",
		}),
		queue: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callscreen_audit_queue_records",
			Help: "Decision records waiting for the audit log writer.",
		}),
		writtenSeq: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callscreen_audit_written_sequence",
			Help: "Sequence number of the last record durable in the audit log.",
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscreen_audit_written_bytes_total",
			Help: "Bytes written to audit log files.",
		}),
	}
	m.droppedFull = m.dropped.WithLabelValues("queue_full")
	m.droppedClosed = m.dropped.WithLabelValues("closed")
	m.droppedUnwritten = m.dropped.WithLabelValues("unwritten")
	m.errorsOpen = m.errors.WithLabelValues("open")
	m.errorsWrite = m.errors.WithLabelValues("write")
	m.errorsSync = m.errors.WithLabelValues("sync")
	m.errorsHead = m.errors.WithLabelValues("head")
	m.errorsEncode = m.errors.WithLabelValues("encode")
	if reg != nil {
		reg.MustRegister(m.records, m.dropped, m.errors, m.failing, m.fsync, m.commit,
			m.checkpoints, m.rotations, m.queue, m.writtenSeq, m.bytes)
	}
	return m
}

// failingNow reads the failing gauge, for log lines.
func (m *Metrics) failingNow() bool {
	var d dto.Metric
	if err := m.failing.Write(&d); err != nil {
		return false
	}
	return d.GetGauge().GetValue() == 1
}
