package service

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callscreen/callscreen/config"
	"github.com/callscreen/callscreen/redisconn"
	"github.com/callscreen/callscreen/reputation/behavior"
	"github.com/callscreen/callscreen/reputation/feed"
	"github.com/callscreen/callscreen/reputation/lists"
)

// Where a configuration keeps its state. The commands that write that
// state (lists, feed, report) use these too, so that they write where the
// server reads.

// RedisOptions returns cfg's Redis connection settings; no addresses
// means no Redis.
func RedisOptions(cfg *config.Config) redisconn.Options {
	r := cfg.Redis
	return redisconn.Options{
		Addrs: r.Addrs, MasterName: r.MasterName, Cluster: r.Cluster,
		Username: r.Username, Password: r.Password.Value(), SentinelPassword: r.SentinelPassword.Value(), DB: r.DB,
		TLS: r.TLS, TLSCAFile: r.TLSCAFile, TLSServerName: r.TLSServerName,
		DialTimeout: r.DialTimeout, ReadTimeout: r.ReadTimeout, WriteTimeout: r.WriteTimeout, PoolSize: r.PoolSize,
	}
}

// ListStore is where run-time list entries live for cfg: Redis when rdb
// is not nil, else data_dir/lists.db, else memory.
func ListStore(cfg *config.Config, rdb redis.UniversalClient) lists.Store {
	switch {
	case rdb != nil:
		return lists.NewRedisStore(rdb, lists.RedisOptions{})
	case cfg.DataDir != "":
		return lists.NewBoltStore(cfg.DataDir)
	}
	return lists.NewMemStore()
}

// FeedStore is where the daily feed lives for cfg: Redis when rdb is not
// nil, else data_dir/feed.db, else memory.
func FeedStore(cfg *config.Config, rdb redis.UniversalClient) feed.Store {
	switch {
	case rdb != nil:
		return feed.NewRedisStore(rdb, "")
	case cfg.DataDir != "":
		return feed.NewBoltStore(cfg.DataDir)
	}
	return feed.NewMemStore()
}

// FeedPullOptions are cfg's feed.url, feed.headers and feed.format.
func FeedPullOptions(cfg *config.Config) feed.PullOptions {
	f, _ := feed.ParseFormat(cfg.Feed.Format)
	return feed.PullOptions{URL: cfg.Feed.URL, Headers: cfg.Feed.Headers.Clone(), Format: f}
}

// OpenLists builds the lists of cfg, the list files and the stored entries
// (loaded now; a store that does not answer is logged and loaded later by
// the watcher). m may be nil.
func OpenLists(cfg *config.Config, rdb redis.UniversalClient, log *slog.Logger, m *lists.Metrics) (*lists.Lists, error) {
	return lists.New(lists.Options{
		AllowFile: cfg.Lists.AllowFile, BlockFile: cfg.Lists.BlockFile,
		Region: cfg.Number.DefaultRegion, Store: ListStore(cfg, rdb),
		Logger: log, Metrics: m,
	})
}

// OpenFeed builds the feed of cfg and loads it (a failure is logged; the
// watcher loads it later). m may be nil.
func OpenFeed(ctx context.Context, cfg *config.Config, rdb redis.UniversalClient, log *slog.Logger, m *feed.Metrics) *feed.Feed {
	return feed.New(ctx, feed.Options{
		Store: FeedStore(cfg, rdb), Region: cfg.Number.DefaultRegion,
		Retention: cfg.Feed.Retention, Logger: log, Metrics: m,
	})
}

// feedbackTimeout bounds a call's read of the agents' reports: one reply
// from Redis, so redis.read_timeout (50ms by default, as the source's own
// default, which it keeps without Redis).
func feedbackTimeout(cfg *config.Config, rdb redis.UniversalClient) time.Duration {
	if rdb == nil {
		return 0
	}
	return cfg.Redis.ReadTimeout
}

// openBehavior builds the behaviour checks: Redis counters when rdb is not
// nil, memory otherwise; must-pass entries of l count as known customers.
func openBehavior(cfg *config.Config, rdb redis.UniversalClient, l *lists.Lists, log *slog.Logger, m *behavior.Metrics) (*behavior.Behavior, error) {
	opts := behavior.Options{
		OwnNumbers: cfg.OwnNumbers, Honeypots: cfg.Honeypots, Region: cfg.Number.DefaultRegion,
		Logger: log, Metrics: m,
	}
	if rdb != nil {
		opts.Counter = behavior.NewRedisCounter(rdb, "")
		// One script a call, one round trip: bounded by the Redis
		// client's write and read timeouts (100ms with the defaults, the
		// counters' own default), so raising them raises this too.
		opts.Timeout = cfg.Redis.WriteTimeout + cfg.Redis.ReadTimeout
	}
	if l != nil {
		opts.Known = l.Allowed
	}
	for _, p := range cfg.ProfileNames() {
		if prof, ok := cfg.Profile(p); ok {
			opts.FlagKeep = max(opts.FlagKeep, prof.Thresholds.RepeatWindow)
		}
	}
	return behavior.New(opts)
}

// feedScheduler returns cfg's daily pull into fd, nil when feed.url is not
// set.
func feedScheduler(cfg *config.Config, fd *feed.Feed, log *slog.Logger) *feed.Scheduler {
	if cfg.Feed.URL == "" {
		return nil
	}
	return &feed.Scheduler{Feed: fd, Pull: FeedPullOptions(cfg), At: cfg.Feed.FeedTime() % (24 * time.Hour), PullAtStart: true, Logger: log}
}
