package reputation_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/callscreen/callscreen/internal/redistest"
	"github.com/callscreen/callscreen/redisconn"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/cache"
	"github.com/callscreen/callscreen/reputation/callerapi"
	"github.com/callscreen/callscreen/reputation/httpsource/httpsourcetest"
)

// Lookup latency of the provider stage, with p50/p99 reported beside
// ns/op:
//
//	go test -run '^$' -bench 'LookupL[12]Hit' -benchtime 20000x ./reputation/
//	go test -run '^$' -bench LookupMiss -benchtime 200x ./reputation/
//	go test -run '^$' -bench LookupPastBudget -benchtime 100x ./reputation/
func benchStage(b *testing.B, c *cache.Cache, delay time.Duration) *reputation.Providers {
	b.Helper()
	srv := httpsourcetest.Start(b, httpsourcetest.Slow(delay, httpsourcetest.JSON(adapters[0].clean)))
	src, err := callerapi.New(callerapi.Config{URL: srv.URL, Key: "k"})
	if err != nil {
		b.Fatal(err)
	}
	p, err := reputation.NewProviders(reputation.ProvidersOptions{Cache: c}, reputation.Provider{Name: callerapi.Name, Source: src})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Drain(context.Background()) })
	return p
}

func benchHits(b *testing.B, p *reputation.Providers) {
	q := query(caller)
	ctx := context.Background()
	if _, err := p.Lookup(ctx, q); err != nil {
		b.Fatal(err)
	}
	if err := p.Drain(ctx); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		v, err := p.Lookup(ctx, q)
		lat = append(lat, time.Since(start))
		if err != nil || len(v.Sources) != 1 {
			b.Fatal(v, err)
		}
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	at := func(p float64) float64 { return float64(lat[int(float64(len(lat)-1)*p)].Nanoseconds()) }
	b.ReportMetric(at(0.50), "p50-ns")
	b.ReportMetric(at(0.99), "p99-ns")
}

func BenchmarkLookupL1Hit(b *testing.B) {
	c, err := cache.New(cache.Options{})
	if err != nil {
		b.Fatal(err)
	}
	benchHits(b, benchStage(b, c, 0))
}

func BenchmarkLookupL2Hit(b *testing.B) {
	srv := redistest.Start(b)
	rdb, err := redisconn.New(redisconn.Options{Addrs: []string{srv.Addr()}})
	if err != nil {
		b.Fatal(err)
	}
	defer rdb.Close()
	c, err := cache.New(cache.Options{L1Size: -1, Redis: rdb})
	if err != nil {
		b.Fatal(err)
	}
	benchHits(b, benchStage(b, c, 0))
}

func BenchmarkLookupMiss50ms(b *testing.B) {
	c, err := cache.New(cache.Options{})
	if err != nil {
		b.Fatal(err)
	}
	p := benchStage(b, c, 50*time.Millisecond)
	qs := make([]reputation.Query, b.N)
	for i := range qs {
		// A new number every time: exchanges 200-999, lines 0000-9999.
		qs[i] = query(fmt.Sprintf("+1212%03d%04d", 200+(i/10000)%800, i%10000))
	}
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	over := 0
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		_, err := p.Lookup(ctx, qs[i])
		lat = append(lat, time.Since(start))
		switch {
		case errors.Is(err, reputation.ErrBudget):
			over++ // counted, not fatal: a loaded machine can stall a request
		case err != nil:
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportPercentiles(b, lat)
	b.ReportMetric(float64(over), "over-budget")
}

// BenchmarkLookupPastBudget measures how long past its budget a call waits
// for a provider that never answers in time (held until it gives up): the
// p50 and p99 of the overrun beside ns/op. The tests check only that the
// budget ends the wait; how soon is measured here.
func BenchmarkLookupPastBudget(b *testing.B) {
	const budget = 100 * time.Millisecond
	srv := httpsourcetest.Start(b, httpsourcetest.Held(nil, httpsourcetest.JSON(adapters[0].clean)))
	src, err := callerapi.New(callerapi.Config{URL: srv.URL, Key: "k"})
	if err != nil {
		b.Fatal(err)
	}
	p, err := reputation.NewProviders(reputation.ProvidersOptions{Budget: budget, ProviderTimeout: budget, BreakerFailures: 1 << 30}, reputation.Provider{Name: callerapi.Name, Source: src})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Drain(context.Background()) })
	ctx := context.Background()
	over := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		// A new number every time: no shared request, no cache.
		q := query(fmt.Sprintf("+1212%03d%04d", 200+(i/10000)%800, i%10000))
		start := time.Now()
		_, err := p.Lookup(ctx, q)
		over = append(over, time.Since(start)-budget)
		if !errors.Is(err, reputation.ErrBudget) {
			b.Fatalf("lookup %d: %v; want ErrBudget", i, err)
		}
	}
	b.StopTimer()
	slices.Sort(over)
	at := func(p float64) float64 { return float64(over[int(float64(len(over)-1)*p)].Nanoseconds()) }
	b.ReportMetric(at(0.50), "overrun-p50-ns")
	b.ReportMetric(at(0.99), "overrun-p99-ns")
}
