package main

import (
	"context"
	"time"

	"github.com/callscreen/callscreen/admin"
	"github.com/callscreen/callscreen/config"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/stats"
	"github.com/callscreen/callscreen/tail"
)

// supervision is what serve runs for the supervisors' view: the
// statistics (rebuilt from the decision log at start, shared through Redis
// when configured) and, with Redis, the relay that shows every instance's
// calls in the live tail. It is a decision.Recorder for the flow.
type supervision struct {
	stats *stats.Stats
	relay *tail.Relay // nil without Redis
}

var _ decision.Recorder = (*supervision)(nil)

// Record counts the call and publishes it for the other instances.
func (sv *supervision) Record(r *decision.Result) {
	sv.stats.Record(r)
	if sv.relay != nil {
		sv.relay.Record(r)
	}
}

// startSupervision builds the statistics and the relay and starts their
// goroutines as watchers of ctx: the rebuild from the decision log, the
// Redis writer (which flushes what is left when ctx ends) and the relay.
// Call it before the listeners open: the calls they take start after now,
// so the rebuild counts none of them twice. recent receives the other
// instances' decisions.
func (s *server) startSupervision(ctx context.Context, cfg *config.Config, recent *admin.Recent) *supervision {
	started := time.Now()
	settle := max(stats.DefaultSettle, cfg.AGI.SessionTimeout+time.Minute)
	sv := &supervision{stats: stats.New(stats.Options{
		Retention: cfg.Stats.Retention, MaxDIDs: cfg.Stats.MaxDIDs, MetricDIDs: cfg.Stats.DIDs,
		Release: stats.Release{
			JunkShare: cfg.Stats.Release.JunkShare, Days: cfg.Stats.Release.Days, MinCalls: int64(cfg.Stats.Release.MinCalls),
		},
		Redis: s.redis, Settle: settle, Metrics: stats.NewMetrics(s.reg), Logger: s.log,
	})}
	if cfg.Audit.Enabled {
		s.watch(ctx, "statistics rebuild", func(ctx context.Context) error {
			rep, err := sv.stats.Rebuild(ctx, cfg.Audit.Dir, started)
			attrs := []any{"records", rep.Records, "files", rep.Files, "skipped_files", rep.Skipped, "older", rep.Older,
				"took", rep.Took.Round(time.Millisecond).String()}
			if err != nil && ctx.Err() == nil {
				s.log.Warn("statistics: rebuild from the decision log stopped; the figures before it are incomplete", append(attrs, "err", err)...)
			} else if err == nil {
				s.log.Info("statistics rebuilt from the decision log", attrs...)
			}
			return nil
		})
	}
	if s.redis != nil {
		s.watch(ctx, "statistics writer", func(ctx context.Context) error {
			sv.stats.Run(ctx)
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := sv.stats.Close(fctx); err != nil {
				s.log.Warn("statistics: counts not written to redis at shutdown", "err", err)
			}
			return nil
		})
		sv.relay = tail.New(tail.Options{Redis: s.redis, Deliver: recent, Metrics: tail.NewMetrics(s.reg), Logger: s.log})
		subscribed := make(chan struct{})
		s.watch(ctx, "live tail relay", func(ctx context.Context) error {
			sv.relay.Run(ctx, subscribed)
			return nil
		})
		// Follow the other instances before taking calls, so the tail
		// misses none of theirs; a Redis that does not answer delays the
		// start by a second at most (go-redis keeps subscribing).
		select {
		case <-subscribed:
		case <-time.After(time.Second):
			s.log.Warn("live tail: not subscribed yet; other instances' calls show once Redis answers")
		}
	}
	return sv
}
