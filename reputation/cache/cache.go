package cache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"

	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/redisconn"
	"github.com/callscreen/callscreen/reputation"
)

// The defaults New applies to zero Options fields.
const (
	DefaultL1Size     = 100_000
	DefaultTTLClean   = 15 * time.Minute
	DefaultTTLSuspect = time.Hour
	DefaultTTLSpam    = 24 * time.Hour
	DefaultL2Timeout  = 50 * time.Millisecond
	DefaultL2Failures = 3
	DefaultL2PauseFor = 5 * time.Second
)

// TTLs say how long a verdict is kept, by class (cache.ttl.*).
type TTLs struct {
	// Clean: everything that is neither spam nor suspect (default 15m).
	Clean time.Duration
	// Suspect: risk medium or recent reports (default 1h).
	Suspect time.Duration
	// Spam: tier SPAM or risk high (default 24h).
	Spam time.Duration
}

// Options configure a Cache. Zero values select the defaults.
type Options struct {
	// L1Size bounds the in-process cache in entries (cache.l1_size);
	// negative turns L1 off (for measuring L2 alone).
	L1Size int
	// TTL by verdict class.
	TTL TTLs
	// Redis is the L2 client from redisconn.New; nil is L1 only.
	Redis redis.UniversalClient
	// L2Timeout bounds each Redis operation (cache.l2_timeout, default
	// 50ms), within the caller's own deadline.
	L2Timeout time.Duration
	// L2Failures consecutive Redis failures make the cache leave L2 alone
	// for L2PauseFor (default 3 and 5s); then one probe decides.
	L2Failures int
	L2PauseFor time.Duration
	// Metrics receives the cache metrics; nil uses unregistered ones.
	Metrics *Metrics
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Cache is the two-level verdict cache. It is safe for concurrent use.
type Cache struct {
	l1      *lru.Cache[string, entry]
	rdb     redis.UniversalClient
	ttl     TTLs
	timeout time.Duration
	breaker *gobreaker.CircuitBreaker[[]any]
	m       *Metrics
	now     func() time.Time
}

var _ reputation.Cache = (*Cache)(nil)

// New builds a cache.
func New(o Options) (*Cache, error) {
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"cache.ttl.clean", o.TTL.Clean}, {"cache.ttl.suspect", o.TTL.Suspect}, {"cache.ttl.spam", o.TTL.Spam}, {"cache.l2_timeout", o.L2Timeout}, {"cache.l2_pause_for", o.L2PauseFor}} {
		if d.v < 0 {
			return nil, fmt.Errorf("%s: %s: must not be negative", d.key, d.v)
		}
	}
	if o.L2Failures < 0 {
		return nil, fmt.Errorf("cache.l2_failures: %d: must not be negative", o.L2Failures)
	}
	c := &Cache{
		rdb:     o.Redis,
		ttl:     o.TTL,
		timeout: o.L2Timeout,
		m:       o.Metrics,
		now:     o.Now,
	}
	if c.ttl.Clean == 0 {
		c.ttl.Clean = DefaultTTLClean
	}
	if c.ttl.Suspect == 0 {
		c.ttl.Suspect = DefaultTTLSuspect
	}
	if c.ttl.Spam == 0 {
		c.ttl.Spam = DefaultTTLSpam
	}
	if c.timeout == 0 {
		c.timeout = DefaultL2Timeout
	}
	if c.m == nil {
		c.m = NewMetrics(nil)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if o.L1Size >= 0 {
		size := o.L1Size
		if size == 0 {
			size = DefaultL1Size
		}
		l1, err := lru.New[string, entry](size)
		if err != nil {
			return nil, fmt.Errorf("cache.l1_size: %w", err)
		}
		c.l1 = l1
	}
	failures := uint32(o.L2Failures)
	if failures == 0 {
		failures = DefaultL2Failures
	}
	pause := o.L2PauseFor
	if pause == 0 {
		pause = DefaultL2PauseFor
	}
	c.m.L2Breaker.Set(float64(gobreaker.StateClosed))
	c.breaker = gobreaker.NewCircuitBreaker[[]any](gobreaker.Settings{
		Name:          "redis",
		MaxRequests:   1,
		Timeout:       pause,
		ReadyToTrip:   func(cn gobreaker.Counts) bool { return cn.ConsecutiveFailures >= failures },
		OnStateChange: func(_ string, _, to gobreaker.State) { c.m.L2Breaker.Set(float64(to)) },
		// A caller that hung up says nothing about Redis.
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
	})
	return c, nil
}

// Class names a verdict's TTL class: "spam", "suspect" or "clean".
func Class(v reputation.Verdict) string {
	switch {
	case v.Tier == policy.TierSpam || v.Risk == reputation.RiskHigh ||
		slices.Contains(v.Reasons, policy.ProviderSpam) || slices.Contains(v.Reasons, policy.ProviderRiskHigh):
		return "spam"
	case v.Risk == reputation.RiskMedium || v.RecentReports > 0 ||
		slices.Contains(v.Reasons, policy.ProviderRiskMedium) || slices.Contains(v.Reasons, policy.ProviderRecentReports):
		return "suspect"
	}
	return "clean"
}

// TTL returns how long v is kept.
func (c *Cache) TTL(v reputation.Verdict) time.Duration {
	switch Class(v) {
	case "spam":
		return c.ttl.Spam
	case "suspect":
		return c.ttl.Suspect
	}
	return c.ttl.Clean
}

// Key is the Redis key of one provider's verdict for number under tenant.
func Key(tenant, number, source string) string {
	return redisconn.Key(tenant, "rep", "v1", "{"+number+"}", source)
}

func l1Key(tenant, number, source string) string {
	return tenant + "\x00" + number + "\x00" + source
}

// Get implements reputation.Cache: L1 first, then one MGET for what L1
// did not have. L2 answers are copied into L1 until they expire.
func (c *Cache) Get(ctx context.Context, tenant, number string, sources []string) ([]reputation.Verdict, []bool) {
	vs := make([]reputation.Verdict, len(sources))
	hit := make([]bool, len(sources))
	now := c.now()
	missing := 0
	for i, s := range sources {
		if c.l1 != nil {
			k := l1Key(tenant, number, s)
			if e, ok := c.l1.Get(k); ok {
				if now.Before(e.exp) {
					vs[i], hit[i] = withAge(e, now), true
					c.m.Hits.WithLabelValues("l1").Inc()
					continue
				}
				c.l1.Remove(k)
			}
			c.m.Misses.WithLabelValues("l1").Inc()
		}
		missing++
	}
	if missing == 0 || c.rdb == nil {
		return vs, hit
	}
	keys := make([]string, 0, missing)
	idx := make([]int, 0, missing)
	for i, s := range sources {
		if !hit[i] {
			keys = append(keys, Key(tenant, number, s))
			idx = append(idx, i)
		}
	}
	vals, err := c.breaker.Execute(func() ([]any, error) {
		cctx, cancel := context.WithTimeout(ctx, c.timeout)
		defer cancel()
		return c.rdb.MGet(cctx, keys...).Result()
	})
	if err != nil {
		c.countL2Error("get", err)
		return vs, hit
	}
	for j, val := range vals {
		i := idx[j]
		s, ok := val.(string)
		if !ok {
			c.m.Misses.WithLabelValues("l2").Inc()
			continue
		}
		e, err := decode([]byte(s))
		if err != nil || !now.Before(e.exp) {
			if err != nil {
				c.m.DecodeErrors.Inc()
			}
			c.m.Misses.WithLabelValues("l2").Inc()
			continue
		}
		vs[i], hit[i] = withAge(e, now), true
		c.m.Hits.WithLabelValues("l2").Inc()
		if c.l1 != nil {
			c.l1.Add(l1Key(tenant, number, sources[i]), e)
		}
	}
	return vs, hit
}

func withAge(e entry, now time.Time) reputation.Verdict {
	v := e.v
	v.Age = max(now.Sub(e.at), 0)
	return v
}

// Set implements reputation.Cache: L1 at once, L2 within L2Timeout.
func (c *Cache) Set(ctx context.Context, tenant, number, source string, v reputation.Verdict) {
	class := Class(v)
	ttl := c.TTL(v)
	if ttl <= 0 || number == "" {
		return
	}
	now := c.now()
	e := entry{v: v, at: now.Add(-max(v.Age, 0)), exp: now.Add(ttl)}
	e.v.Final, e.v.Sources, e.v.Age = false, nil, 0
	if c.l1 != nil {
		c.l1.Add(l1Key(tenant, number, source), e)
	}
	c.m.Writes.WithLabelValues(class).Inc()
	if c.rdb == nil {
		return
	}
	b, err := encode(e)
	if err != nil {
		c.m.Errors.WithLabelValues("set").Inc()
		return
	}
	_, err = c.breaker.Execute(func() ([]any, error) {
		cctx, cancel := context.WithTimeout(ctx, c.timeout)
		defer cancel()
		return nil, c.rdb.Set(cctx, Key(tenant, number, source), b, ttl).Err()
	})
	if err != nil {
		c.countL2Error("set", err)
	}
}

// Delete drops number's entries for sources from both levels.
func (c *Cache) Delete(ctx context.Context, tenant, number string, sources []string) error {
	keys := make([]string, 0, len(sources))
	for _, s := range sources {
		if c.l1 != nil {
			c.l1.Remove(l1Key(tenant, number, s))
		}
		keys = append(keys, Key(tenant, number, s))
	}
	if c.rdb == nil || len(keys) == 0 {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := c.rdb.Del(cctx, keys...).Err(); err != nil {
		return fmt.Errorf("cache delete: %w", err)
	}
	return nil
}

func (c *Cache) countL2Error(op string, err error) {
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		c.m.Errors.WithLabelValues(op + "_skipped").Inc()
		return
	}
	c.m.Errors.WithLabelValues(op).Inc()
}

// Len is the number of entries in L1.
func (c *Cache) Len() int {
	if c.l1 == nil {
		return 0
	}
	return c.l1.Len()
}
