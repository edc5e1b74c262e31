package monitor

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/callscreen/callscreen/cdr"
	"github.com/callscreen/callscreen/outbound"
	"github.com/callscreen/callscreen/outbound/webhook"
)

// Source hands over the CDR rows written since its previous Read.
// *cdr.Follower and *cdrdb.Reader implement it.
//
// Read outcomes: nil after fn saw every new good row (malformed ones
// counted in Stats); an error when the rows could not be read, the next
// Read starting where this one should have.
type Source interface {
	Read(ctx context.Context, fn func(rec *cdr.Record) error) (cdr.Stats, error)
}

// Sender delivers an event to the webhook. *webhook.Sender implements it.
type Sender interface {
	Send(ctx context.Context, event any) error
}

var (
	_ Source = (*cdr.Follower)(nil)
	_ Sender = (*webhook.Sender)(nil)
)

// Options configure a Monitor.
type Options struct {
	Source Source
	// SourceName names the source in logs and the status, without secrets.
	SourceName string
	Aggregator outbound.Options
	// WindowDays are the days judged: today and the days before.
	WindowDays int
	// Refresh is the interval between reads.
	Refresh time.Duration
	// Webhook is told of crossings; nil for none.
	Webhook Sender
	Logger  *slog.Logger
	Metrics *Metrics
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Event is what the webhook receives.
type Event struct {
	// Event is outbound.likely_spam when a number crossed a threshold,
	// outbound.recovered when it no longer does.
	Event  string          `json:"event"`
	Time   time.Time       `json:"time"`
	Number string          `json:"number"`
	Health outbound.Health `json:"health"`
}

// Monitor keeps the report current. Status is safe for concurrent use;
// Refresh and Run are not to be run concurrently with each other.
type Monitor struct {
	opts    Options
	log     *slog.Logger
	m       *Metrics
	now     func() time.Time
	agg     *outbound.Aggregator
	verdict map[string]outbound.Verdict
	sends   sync.WaitGroup

	mu     sync.Mutex
	status outbound.Status
}

// New returns a Monitor; nothing is read until Refresh or Run.
func New(opts Options) *Monitor {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil)
	}
	if opts.WindowDays < 1 {
		opts.WindowDays = 7
	}
	if opts.Refresh <= 0 {
		opts.Refresh = 5 * time.Minute
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	agg := outbound.New(opts.Aggregator)
	return &Monitor{
		opts: opts, log: opts.Logger, m: opts.Metrics, now: now, agg: agg,
		verdict: map[string]outbound.Verdict{},
		status: outbound.Status{Source: opts.SourceName, WindowDays: opts.WindowDays,
			Report: outbound.Report{Numbers: []outbound.Health{}, Thresholds: thresholdsOf(opts.Aggregator)}},
	}
}

func thresholdsOf(o outbound.Options) outbound.Thresholds {
	if o.Thresholds == (outbound.Thresholds{}) {
		return outbound.DefaultThresholds()
	}
	return o.Thresholds
}

// WindowStart is the first moment of the window that ends today.
func (m *Monitor) WindowStart() time.Time {
	loc := m.opts.Aggregator.Location
	if loc == nil {
		loc = time.UTC
	}
	y, mo, d := m.now().In(loc).Date()
	return time.Date(y, mo, d-(m.opts.WindowDays-1), 0, 0, 0, 0, loc)
}

// Status is the last report and how the last refresh went.
func (m *Monitor) Status(context.Context) (outbound.Status, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.status, nil
}

// Refresh reads the new CDRs, judges the numbers, sets the gauges and
// alerts on crossings. It returns the source's error, also logged and kept
// in the status; the last good report stays.
func (m *Monitor) Refresh(ctx context.Context) error {
	start := m.WindowStart()
	m.agg.Since(start)
	if s, ok := m.opts.Source.(interface{ Since(time.Time) }); ok && m.status.Updated.IsZero() {
		s.Since(start) // a database reads from the window's start, not from its first row
	}
	st, err := m.opts.Source.Read(ctx, func(rec *cdr.Record) error {
		m.agg.Add(rec)
		return nil
	})
	if st.Malformed > 0 {
		m.m.malformed.Add(float64(st.Malformed))
		m.log.Warn("outbound: malformed CDR rows skipped", "source", m.opts.SourceName, "rows", st.Malformed, "first", st.Bad[0].Where+": "+st.Bad[0].Err)
	}
	rep := m.agg.Report()
	m.mu.Lock()
	m.status.Since = start.Format(time.DateOnly)
	m.status.MalformedRows += st.Malformed
	m.status.Report = rep
	if err != nil {
		m.status.Error = err.Error()
	} else {
		m.status.Error = ""
		m.status.Updated = m.now().UTC()
	}
	m.mu.Unlock()
	if err != nil {
		m.m.refreshes.WithLabelValues("error").Inc()
		m.log.Error("outbound: reading the CDRs failed; screening goes on, the next refresh tries again",
			"source", m.opts.SourceName, "err", err, "next", m.opts.Refresh.String())
	} else {
		m.m.refreshes.WithLabelValues("ok").Inc()
		m.m.lastSuccess.SetToCurrentTime()
	}
	m.publish(ctx, rep)
	return err
}

// publish sets the gauges and alerts on the numbers whose verdict changed.
func (m *Monitor) publish(ctx context.Context, rep outbound.Report) {
	for _, g := range []interface{ Reset() }{m.m.calls, m.m.answered, m.m.shortShare, m.m.unreachableShare, m.m.callsPerDay, m.m.likelySpam} {
		g.Reset()
	}
	seen := map[string]bool{}
	for _, h := range rep.Numbers {
		seen[h.Number] = true
		m.m.calls.WithLabelValues(h.Number).Set(float64(h.Calls))
		m.m.answered.WithLabelValues(h.Number).Set(float64(h.Answered))
		m.m.shortShare.WithLabelValues(h.Number).Set(h.ShortShare)
		m.m.unreachableShare.WithLabelValues(h.Number).Set(h.UnreachableShare)
		m.m.callsPerDay.WithLabelValues(h.Number).Set(h.CallsPerDay)
		spam := 0.0
		if h.Verdict == outbound.VerdictLikelySpam {
			spam = 1
		}
		m.m.likelySpam.WithLabelValues(h.Number).Set(spam)

		prev := m.verdict[h.Number]
		m.verdict[h.Number] = h.Verdict
		switch {
		case h.Verdict == outbound.VerdictLikelySpam && prev != outbound.VerdictLikelySpam:
			m.log.Error("outbound number likely to be labelled spam", "number", h.Number, "summary", h.Summary,
				"calls", h.Calls, "short_share", h.ShortShare, "unreachable_share", h.UnreachableShare, "calls_per_day", h.CallsPerDay)
			m.notify(ctx, Event{Event: "outbound.likely_spam", Time: m.now().UTC(), Number: h.Number, Health: h})
		case h.Verdict != outbound.VerdictLikelySpam && prev == outbound.VerdictLikelySpam:
			m.log.Info("outbound number no longer crosses a threshold", "number", h.Number, "summary", h.Summary)
			m.notify(ctx, Event{Event: "outbound.recovered", Time: m.now().UTC(), Number: h.Number, Health: h})
		}
	}
	for n := range m.verdict {
		if !seen[n] {
			delete(m.verdict, n) // its calls left the window
		}
	}
}

// notify sends ev to the webhook in the background.
func (m *Monitor) notify(ctx context.Context, ev Event) {
	if m.opts.Webhook == nil {
		return
	}
	m.sends.Add(1)
	go func() {
		defer m.sends.Done()
		if err := m.opts.Webhook.Send(ctx, ev); err != nil {
			m.m.webhooks.WithLabelValues("error").Inc()
			m.log.Error("outbound: webhook delivery failed", "event", ev.Event, "number", ev.Number, "err", err)
			return
		}
		m.m.webhooks.WithLabelValues("ok").Inc()
	}()
}

// Run refreshes at once, then every refresh interval, until ctx ends; it
// returns once the webhook deliveries under way have ended (they end with
// ctx).
func (m *Monitor) Run(ctx context.Context) {
	defer m.sends.Wait()
	t := time.NewTicker(m.opts.Refresh)
	defer t.Stop()
	for {
		_ = m.Refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Wait waits for the webhook deliveries under way.
func (m *Monitor) Wait() { m.sends.Wait() }
