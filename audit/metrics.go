package audit

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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
	breaks      prometheus.Counter
	late        prometheus.Counter

	witnessSent    prometheus.Counter
	witnessErrors  prometheus.Counter
	witnessSkipped prometheus.Counter
	witnessPending prometheus.Gauge
	witnessLag     prometheus.GaugeFunc
	// witnessOldest is when the oldest checkpoint not yet at the witness
	// became durable (unix nanoseconds), 0 when none waits.
	witnessOldest atomic.Int64

	droppedFull, droppedBacklog, droppedClosed, droppedUnwritten  prometheus.Counter
	errorsOpen, errorsWrite, errorsSync, errorsHead, errorsEncode prometheus.Counter
	failingNow                                                    atomic.Bool
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
			Help: "Decision records that never reached the audit log, by reason: queue_full (Record's queue full), backlog_full (memory bound reached while the disk failed), closed, unwritten (still failing at shutdown). A gap entry in the log states the queue_full and backlog_full ones.",
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
			Help:    "Time from a decision being recorded to it being durable (fsynced) in the audit log.",
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
			Help: "Sequence number of the last entry durable in the audit log.",
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscreen_audit_written_bytes_total",
			Help: "Bytes written to audit log files.",
		}),
		breaks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscreen_audit_breaks_total",
			Help: "Times the audit log was found damaged at start: the damaged files were set aside and the log went on after a break entry.",
		}),
		late: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscreen_audit_commits_late_total",
			Help: "Decisions not handed to the operating system before their routing variables were sent, because the log writer was stalled for longer than the commit wait; they were queued instead.",
		}),
		witnessSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscreen_audit_witness_checkpoints_total",
			Help: "Checkpoints the witness accepted.",
		}),
		witnessErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscreen_audit_witness_errors_total",
			Help: "Failed attempts to hand a checkpoint to the witness (each is retried).",
		}),
		witnessSkipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscreen_audit_witness_skipped_total",
			Help: "Checkpoints never sent to the witness because too many waited; the newer ones cover them.",
		}),
		witnessPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callscreen_audit_witness_pending_checkpoints",
			Help: "Checkpoints waiting to be sent to the witness.",
		}),
	}
	m.witnessLag = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "callscreen_audit_witness_lag_seconds",
		Help: "Age of the oldest checkpoint not yet accepted by the witness, 0 when it has them all.",
	}, func() float64 {
		at := m.witnessOldest.Load()
		if at == 0 {
			return 0
		}
		return time.Since(time.Unix(0, at)).Seconds()
	})
	m.droppedFull = m.dropped.WithLabelValues("queue_full")
	m.droppedBacklog = m.dropped.WithLabelValues("backlog_full")
	m.droppedClosed = m.dropped.WithLabelValues("closed")
	m.droppedUnwritten = m.dropped.WithLabelValues("unwritten")
	m.errorsOpen = m.errors.WithLabelValues("open")
	m.errorsWrite = m.errors.WithLabelValues("write")
	m.errorsSync = m.errors.WithLabelValues("sync")
	m.errorsHead = m.errors.WithLabelValues("head")
	m.errorsEncode = m.errors.WithLabelValues("encode")
	if reg != nil {
		reg.MustRegister(m.records, m.dropped, m.errors, m.failing, m.fsync, m.commit,
			m.checkpoints, m.rotations, m.queue, m.writtenSeq, m.bytes, m.breaks, m.late,
			m.witnessSent, m.witnessErrors, m.witnessSkipped, m.witnessPending, m.witnessLag)
	}
	return m
}

func (m *Metrics) setFailing(on bool) {
	m.failingNow.Store(on)
	if on {
		m.failing.Set(1)
	} else {
		m.failing.Set(0)
	}
}
