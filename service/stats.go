package service

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/callscreen/callscreen/admin"
	"github.com/callscreen/callscreen/config"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/stats"
	"github.com/callscreen/callscreen/tail"
)

// supervision is the shared part behind the supervisors' view: the
// statistics (per-minute and per-hour counts, shared through Redis when
// configured) and, with Redis, the relay that shows every instance's calls
// in the live tail. It is a decision.Recorder for the flow.
type supervision struct {
	stats *stats.Stats
	relay *tail.Relay // nil without Redis
}

var _ decision.Recorder = (*supervision)(nil)

// statistics is what the admin API answers from; nil (no statistics) for a
// nil supervision.
func (sv *supervision) statistics() admin.Statistics {
	if sv == nil {
		return nil
	}
	return sv.stats
}

// Record counts the call and publishes it for the other instances.
func (sv *supervision) Record(r *decision.Result) {
	sv.stats.Record(r)
	if sv.relay != nil {
		sv.relay.Record(r)
	}
}

// openSupervision builds the statistics and the relay; it starts nothing
// (the statistics component does). recent receives the other instances'
// decisions.
func openSupervision(cfg *config.Config, rdb redis.UniversalClient, recent *admin.Recent, reg prometheus.Registerer, log *slog.Logger) *supervision {
	sv := &supervision{stats: stats.New(stats.Options{
		Retention: cfg.Stats.Retention, MaxDIDs: cfg.Stats.MaxDIDs, MetricDIDs: cfg.Stats.DIDs,
		Release: stats.Release{
			JunkShare: cfg.Stats.Release.JunkShare, Days: cfg.Stats.Release.Days, MinCalls: int64(cfg.Stats.Release.MinCalls),
		},
		// A call is counted when it ends, under the minute it started:
		// shared buckets settle once the longest call is over.
		Redis: rdb, Settle: max(stats.DefaultSettle, cfg.AGI.SessionTimeout+time.Minute),
		Metrics: stats.NewMetrics(reg), Logger: log,
	})}
	if rdb != nil {
		sv.relay = tail.New(tail.Options{Redis: rdb, Deliver: recent, Metrics: tail.NewMetrics(reg), Logger: log})
	}
	return sv
}

// statsRunner runs the statistics in the background: the rebuild from the
// decision log, the writer to Redis (flushing what is left at Stop) and the
// live tail relay. It starts before the transports: the calls they take
// start after its Start, so the rebuild counts none of them twice.
type statsRunner struct {
	audit  bool
	logDir string
	cancel context.CancelFunc
	wg     sync.WaitGroup
	sv     *supervision
}

func newStatsRunner(cfg *config.Config) Component {
	return &statsRunner{audit: cfg.Audit.Enabled, logDir: cfg.Audit.Dir}
}

func (r *statsRunner) Name() string { return "statistics" }

func (r *statsRunner) Start(ctx context.Context, h *Host) error {
	started := time.Now()
	sv := h.supervision
	if sv == nil {
		return nil
	}
	r.sv = sv
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel = cancel
	if r.audit {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			rep, err := sv.stats.Rebuild(rctx, r.logDir, started)
			attrs := []any{"records", rep.Records, "files", rep.Files, "skipped_files", rep.Skipped, "older", rep.Older,
				"took", rep.Took.Round(time.Millisecond).String()}
			switch {
			case err != nil && rctx.Err() == nil:
				h.Log.Warn("statistics: rebuild from the decision log stopped; the figures before it are incomplete", append(attrs, "err", err)...)
			case err == nil:
				h.Log.Info("statistics rebuilt from the decision log", attrs...)
			}
		}()
	}
	if h.Redis == nil {
		return nil
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		sv.stats.Run(rctx)
	}()
	subscribed := make(chan struct{})
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		sv.relay.Run(rctx, subscribed)
	}()
	// Follow the other instances before taking calls, so the tail misses
	// none of theirs; a Redis that does not answer delays the start by a
	// second at most (go-redis keeps subscribing).
	select {
	case <-subscribed:
	case <-time.After(time.Second):
		h.Log.Warn("live tail: not subscribed yet; other instances' calls show once Redis answers")
	}
	return nil
}

// Stop ends the rebuild, the relay and the writer, then writes the counts
// not yet in Redis within ctx.
func (r *statsRunner) Stop(ctx context.Context) error {
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	r.wg.Wait()
	if err := r.sv.stats.Close(ctx); err != nil {
		return fmt.Errorf("statistics: %w", err)
	}
	return nil
}
