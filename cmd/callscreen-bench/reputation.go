package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/redisconn"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/cache"
	"github.com/callscreen/callscreen/reputation/callerapi"
)

func init() {
	register(bench{name: "reputation", summary: "reputation lookup latency: L1 hit, L2 (Redis) hit, 50ms provider miss, flood of one number", run: runReputationBench})
}

// runReputationBench measures what the provider stage of the chain
// (cache, then providers) costs a call, on loopback: a fake CallerAPI that
// answers after -delay, and a redis-server it starts on a free port.
//
// The building block for comparing the full FastAGI allow path with a
// Redis hit against L1 only is the cache option used for the l2-hit
// scenario here: cache.Options{L1Size: -1, Redis: rdb} makes every lookup
// go to Redis.
func runReputationBench(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("reputation", flag.ContinueOnError)
	n := fs.Int("n", 20000, "lookups per hit scenario")
	misses := fs.Int("misses", 200, "lookups in the miss scenario (each a new number)")
	conc := fs.Int("c", 4, "concurrent callers in the miss scenario")
	flood := fs.Int("flood", 1000, "concurrent lookups of one uncached number in the flood scenario")
	delay := fs.Duration("delay", 50*time.Millisecond, "fake provider answer time")
	budget := fs.Duration("budget", reputation.DefaultBudget, "reputation budget")
	redisBin := fs.String("redis-server", "redis-server", "redis-server binary for the L2 scenario (\"\" skips it)")
	limit := fs.Duration("max", 60*time.Second, "stop a scenario after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n <= 0 || *misses <= 0 || *conc <= 0 || *flood <= 0 {
		return errors.New("-n, -misses, -c and -flood must be positive")
	}

	var requests atomic.Int64
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		select {
		case <-time.After(*delay):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"success","data":{"reputation":"safe","entity_type":"business","is_spam":false,"spam_score":3,"total_complaints":0}}`)
	}))
	defer provider.Close()

	newStage := func(c *cache.Cache) (*reputation.Providers, error) {
		src, err := callerapi.New(callerapi.Config{URL: provider.URL, Key: "bench"})
		if err != nil {
			return nil, err
		}
		return reputation.NewProviders(reputation.ProvidersOptions{Budget: *budget, Cache: c},
			reputation.Provider{Name: callerapi.Name, Source: src})
	}

	fmt.Fprintf(out, "reputation lookup bench: provider delay %s, budget %s\n", *delay, *budget)
	fmt.Fprintf(out, "%-12s %8s %10s %10s %10s %10s  %s\n", "scenario", "n", "p50", "p90", "p99", "max", "notes")

	// L1 hit.
	l1, err := cache.New(cache.Options{})
	if err != nil {
		return err
	}
	p, err := newStage(l1)
	if err != nil {
		return err
	}
	lat, err := repHits(ctx, p, *n, *limit, &requests)
	if err != nil {
		return fmt.Errorf("l1-hit: %w", err)
	}
	l1p50 := percentiles(lat, 50)[0]
	repPrint(out, "l1-hit", lat, "")

	// L2 hit: L1 off, every lookup a Redis MGET.
	if *redisBin != "" {
		addr, stop, err := startRedis(*redisBin, `-redis-server "" to skip the L2 scenario`)
		if err != nil {
			return fmt.Errorf("l2-hit: %w", err)
		}
		defer stop()
		rdb, err := redisconn.New(redisconn.Options{Addrs: []string{addr}})
		if err != nil {
			return err
		}
		defer rdb.Close()
		l2, err := cache.New(cache.Options{L1Size: -1, Redis: rdb})
		if err != nil {
			return err
		}
		p, err := newStage(l2)
		if err != nil {
			return err
		}
		lat, err := repHits(ctx, p, *n, *limit, &requests)
		if err != nil {
			return fmt.Errorf("l2-hit: %w", err)
		}
		repPrint(out, "l2-hit", lat, fmt.Sprintf("L2 adds %s at p50 over an L1 hit", repRound(percentiles(lat, 50)[0]-l1p50)))
	}

	// Miss: every lookup a new number, answered by the provider.
	cm, err := cache.New(cache.Options{})
	if err != nil {
		return err
	}
	p, err = newStage(cm)
	if err != nil {
		return err
	}
	before := requests.Load()
	lat, err = repMisses(ctx, p, *misses, *conc, *limit)
	if err != nil {
		return fmt.Errorf("miss: %w", err)
	}
	repPrint(out, "miss", lat, fmt.Sprintf("%d provider requests, %d callers at once", requests.Load()-before, *conc))

	// Flood: many calls from one uncached number at once.
	cf, err := cache.New(cache.Options{})
	if err != nil {
		return err
	}
	p, err = newStage(cf)
	if err != nil {
		return err
	}
	before = requests.Load()
	lat, unavailable := repFlood(ctx, p, *flood)
	repPrint(out, "flood", lat, fmt.Sprintf("%d provider request(s) for %d concurrent lookups, %d over budget", requests.Load()-before, *flood, unavailable))
	return nil
}

func repQuery(e164 string) reputation.Query {
	return reputation.Query{Caller: number.Parse(e164, "US"), Profile: policy.Default()}
}

// repHits warms one number and looks it up n times.
func repHits(ctx context.Context, p *reputation.Providers, n int, limit time.Duration, requests *atomic.Int64) ([]time.Duration, error) {
	q := repQuery("+12125551234")
	if v, err := p.Lookup(ctx, q); err != nil || v.Tier != policy.TierBusiness {
		return nil, fmt.Errorf("warm-up lookup: %v %v", v.Tier, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := p.Drain(wctx); err != nil {
		return nil, err
	}
	lat := make([]time.Duration, 0, n)
	deadline := time.Now().Add(limit)
	before := requests.Load()
	for i := 0; i < n && time.Now().Before(deadline) && ctx.Err() == nil; i++ {
		start := time.Now()
		v, err := p.Lookup(ctx, q)
		lat = append(lat, time.Since(start))
		if err != nil || v.Tier != policy.TierBusiness {
			return nil, fmt.Errorf("lookup %d: tier %s, %v", i, v.Tier, err)
		}
	}
	if sent := requests.Load() - before; sent != 0 {
		return nil, fmt.Errorf("%d lookups were not cache hits", sent)
	}
	return lat, nil
}

// repMisses looks up n different numbers, conc at a time.
func repMisses(ctx context.Context, p *reputation.Providers, n, conc int, limit time.Duration) ([]time.Duration, error) {
	qs := make([]reputation.Query, n)
	for i := range qs {
		qs[i] = repQuery(fmt.Sprintf("+1212556%04d", i%10000))
	}
	var mu sync.Mutex
	lat := make([]time.Duration, 0, n)
	var firstErr error
	var next atomic.Int64
	deadline := time.Now().Add(limit)
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || time.Now().After(deadline) || ctx.Err() != nil {
					return
				}
				start := time.Now()
				_, err := p.Lookup(ctx, qs[i])
				d := time.Since(start)
				mu.Lock()
				lat = append(lat, d)
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return lat, firstErr
}

// repFlood starts n lookups of one uncached number at once.
func repFlood(ctx context.Context, p *reputation.Providers, n int) ([]time.Duration, int) {
	q := repQuery("+12125557777")
	lat := make([]time.Duration, n)
	var unavailable atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			t := time.Now()
			v, err := p.Lookup(ctx, q)
			lat[i] = time.Since(t)
			if err != nil || slices.Contains(v.Reasons, policy.ProviderUnavailable) {
				unavailable.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	return lat, int(unavailable.Load())
}

func repPrint(out io.Writer, name string, lat []time.Duration, note string) {
	q := percentiles(lat, 50, 90, 99, 100)
	fmt.Fprintf(out, "%-12s %8d %10s %10s %10s %10s  %s\n", name, len(lat),
		repRound(q[0]), repRound(q[1]), repRound(q[2]), repRound(q[3]), note)
}

func repRound(d time.Duration) time.Duration {
	switch {
	case d > 10*time.Millisecond || d < -10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d > 10*time.Microsecond || d < -10*time.Microsecond:
		return d.Round(100 * time.Nanosecond)
	}
	return d
}
