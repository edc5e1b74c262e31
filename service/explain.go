package service

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/callscreen/callscreen/redisconn"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/cache"
	"github.com/callscreen/callscreen/reputation/feedback"
	"github.com/callscreen/callscreen/screen"
)

// Explainer builds the flow `callscreen check` explains calls with, without
// a running server: set's chain over the stored lists, feed and agents'
// reports and the verdict cache, as serve builds it, minus the behaviour
// checks (they count calls, and an explanation is not a call), the
// recorders, the verified-caller memory and the watchers. It takes no
// lock: it only reads. Call the returned function when done.
func Explainer(ctx context.Context, set *Set, log *slog.Logger) (*screen.Flow, func(), error) {
	cfg := set.cfg
	redisconn.UseSlog(log)
	rc, err := redisconn.New(set.redis)
	if err != nil {
		return nil, nil, fmt.Errorf("redis: %w", err)
	}
	closeFn := func() {
		if rc != nil {
			_ = rc.Close()
		}
	}
	fail := func(err error) (*screen.Flow, func(), error) {
		closeFn()
		return nil, nil, err
	}
	c, err := cache.New(cache.Options{
		L1Size: cfg.Reputation.Cache.Size,
		TTL:    cache.TTLs{Clean: cfg.Reputation.Cache.TTLLow, Suspect: cfg.Reputation.Cache.TTLSuspect, Spam: cfg.Reputation.Cache.TTLSpam},
		Redis:  rc, L2Timeout: cfg.Reputation.Cache.L2Timeout,
	})
	if err != nil {
		return fail(fmt.Errorf("reputation cache: %w", err))
	}
	fb, err := feedback.Open(rc, cfg.DataDir)
	if err != nil {
		return fail(fmt.Errorf("agent feedback: %w", err))
	}
	l, err := OpenLists(cfg, rc, log, nil)
	if err != nil {
		return fail(fmt.Errorf("lists: %w", err))
	}
	fd := OpenFeed(ctx, cfg, rc, log, nil)
	ch, explain, _, err := chain(set, parts{
		feedback: feedback.NewSource(fb, feedback.SourceOptions{}), lists: l, feed: fd,
		cache: c, states: reputation.NewProviderStates(),
	})
	if err != nil {
		return fail(err)
	}
	return flow(set, ch, explain, nil, nil, log, nil), closeFn, nil
}
