package stats

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/policy"
)

// Defaults for Options.
const (
	DefaultRetention     = 8 * 24 * time.Hour
	DefaultMinuteKeep    = 48 * time.Hour
	DefaultMaxDIDs       = 1000
	DefaultSettle        = 5 * time.Minute
	DefaultFlushInterval = 250 * time.Millisecond
	DefaultPrefix        = "callscreen:stats"
	// DefaultReleaseJunkShare, DefaultReleaseDays and
	// DefaultReleaseMinCalls make the release hint: junk share above 60 %
	// on each of the last 3 days with at least 10 calls a day.
	DefaultReleaseJunkShare = 0.6
	DefaultReleaseDays      = 3
	DefaultReleaseMinCalls  = 10
)

// Release says when a DID draws so much junk that releasing it (getting a
// new number) is worth a thought: a junk share above JunkShare on each of
// the last Days days (24-hour windows ending now), each with at least
// MinCalls calls.
type Release struct {
	JunkShare float64
	Days      int
	MinCalls  int64
}

// Options configures New; zero fields take the defaults.
type Options struct {
	// Retention is how far back statistics go, MinuteKeep how far back
	// they keep minute resolution (hour resolution before).
	Retention, MinuteKeep time.Duration
	// MaxDIDs bounds the DIDs counted apart; calls to more DIDs are
	// counted under DIDOther.
	MaxDIDs int
	Release Release
	// Redis, when set, shares the statistics between instances: each adds
	// its calls to per-minute and per-hour counters there, and queries
	// read the sum. Nil keeps them in this instance only.
	Redis redis.UniversalClient
	// Prefix starts every Redis key; "" is DefaultPrefix.
	Prefix string
	// Settle is how long after a minute ends its counts may still change
	// (calls are counted when they end, under the minute they started):
	// make it longer than the longest call. Shared buckets older than that
	// are cached.
	Settle time.Duration
	// FlushInterval is how often counts are written to Redis.
	FlushInterval time.Duration
	// MetricDIDs are the DIDs that get their own Prometheus series.
	MetricDIDs []string
	Metrics    *Metrics
	Logger     *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Stats keeps the statistics of screened calls: per-minute and per-hour
// buckets by profile and DID, in memory and, with Redis, shared between
// instances. It is a decision.Recorder; Record never blocks.
type Stats struct {
	opts       Options
	local      *memory
	shared     *shared // nil without Redis
	metricDIDs map[string]bool
	m          *Metrics
	log        *slog.Logger
	now        func() time.Time
	rebuilding atomic.Bool
}

var _ decision.Recorder = (*Stats)(nil)

// New makes the statistics. With opts.Redis set, call Run to write to
// Redis and Close to flush at the end.
func New(opts Options) *Stats {
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.MinuteKeep <= 0 {
		opts.MinuteKeep = DefaultMinuteKeep
	}
	opts.MinuteKeep = min(opts.MinuteKeep, opts.Retention)
	if opts.MaxDIDs <= 0 {
		opts.MaxDIDs = DefaultMaxDIDs
	}
	if opts.Release.JunkShare <= 0 {
		opts.Release.JunkShare = DefaultReleaseJunkShare
	}
	if opts.Release.Days <= 0 {
		opts.Release.Days = DefaultReleaseDays
	}
	if opts.Release.MinCalls <= 0 {
		opts.Release.MinCalls = DefaultReleaseMinCalls
	}
	if opts.Settle <= 0 {
		opts.Settle = DefaultSettle
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Stats{
		opts: opts, m: opts.Metrics, log: opts.Logger, now: opts.Now,
		local:      newMemory(opts.MinuteKeep, opts.Retention, opts.MaxDIDs),
		metricDIDs: map[string]bool{},
	}
	for _, d := range opts.MetricDIDs {
		s.metricDIDs[d] = true
	}
	if opts.Redis != nil {
		s.shared = newShared(opts, s.m, s.log)
	}
	return s
}

// Retention is how far back the statistics go.
func (s *Stats) Retention() time.Duration { return s.opts.Retention }

// Shared reports whether the statistics are shared through Redis.
func (s *Stats) Shared() bool { return s.shared != nil }

// Record counts a screened call. It never blocks: with Redis, the counts
// are queued for the writer, and dropped (counted) when the queue is full.
func (s *Stats) Record(r *decision.Result) {
	s.add(FromResult(r), true)
}

func (s *Stats) add(call Call, live bool) {
	d := s.local.add(&call, s.now())
	if !live {
		return
	}
	if s.metricDIDs[d.DID] {
		s.m.didCalls.WithLabelValues(d.DID, string(call.Result)).Inc()
		if call.Action == policy.Challenge && call.Challenge != policy.OutcomeNone && call.Challenge != "" {
			s.m.didChallenges.WithLabelValues(d.DID, string(call.Challenge)).Inc()
		}
		var c Counts
		c.add(&call)
		if j := c.Junk(); j > 0 {
			s.m.didJunk.WithLabelValues(d.DID).Add(float64(j))
		}
	}
	if s.shared != nil {
		s.shared.enqueue(d, &call)
	}
}

// Run writes counts to Redis until ctx ends; without Redis it returns at
// once. Close flushes what is left.
func (s *Stats) Run(ctx context.Context) {
	if s.shared != nil {
		s.shared.run(ctx)
	}
}

// Close writes the counts not yet in Redis, within ctx.
func (s *Stats) Close(ctx context.Context) error {
	if s.shared == nil {
		return nil
	}
	return s.shared.close(ctx)
}

// Rebuilding reports whether the statistics are being rebuilt from the
// decision log.
func (s *Stats) Rebuilding() bool { return s.rebuilding.Load() }
