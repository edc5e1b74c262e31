package stats

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/internal/redistest"
	"github.com/callscreen/callscreen/policy"
)

// BenchmarkRecord is what the statistics add to each call: the local
// buckets (and, with Redis, a queue send).
func BenchmarkRecord(b *testing.B) {
	for _, shared := range []bool{false, true} {
		b.Run(fmt.Sprintf("redis=%v", shared), func(b *testing.B) {
			o := Options{Logger: quiet}
			if shared {
				srv := redistest.Start(b)
				o.Redis = redisClient(b, srv.Addr())
				o.FlushInterval = 10 * time.Millisecond
			}
			s := New(o)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { s.Run(ctx); close(done) }()
			defer func() { cancel(); <-done }()
			now := time.Now()
			rs := make([]*decision.Result, 64)
			for i := range rs {
				rs[i] = result("x", "sales", fmt.Sprintf("+1888555%04d", i%50), now, kind(i%10), policy.CallerAnonymous, policy.VelocityCallerBurst)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.Record(rs[i%len(rs)])
			}
		})
	}
}

// fill records a week of calls: perDay calls a day spread over 100 DIDs
// and 3 profiles.
func fill(s *Stats, now time.Time, perDay int) {
	for d := range 7 {
		for i := range perDay {
			at := now.Add(-time.Duration(d)*24*time.Hour - time.Duration(i)*(24*time.Hour/time.Duration(perDay)))
			s.Record(result("x", []string{"sales", "support", "pilot"}[i%3], fmt.Sprintf("+1888555%04d", i%100), at, kind(i%10), policy.CallerAnonymous))
		}
	}
}

// BenchmarkSummary and BenchmarkDIDs answer the dashboard's queries over a
// week of 20,000 calls a day from this instance's memory.
func BenchmarkSummary(b *testing.B) {
	now := time.Now()
	s := New(Options{Logger: quiet, Now: func() time.Time { return now }})
	fill(s, now, 20000)
	for _, rng := range []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour} {
		b.Run(FormatDuration(rng), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := s.Summary(context.Background(), Query{From: now.Add(-rng), To: now}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDIDs(b *testing.B) {
	now := time.Now()
	s := New(Options{Logger: quiet, Now: func() time.Time { return now }})
	fill(s, now, 20000)
	for _, rng := range []time.Duration{24 * time.Hour, 7 * 24 * time.Hour} {
		b.Run(FormatDuration(rng), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, _, err := s.DIDs(context.Background(), Query{From: now.Add(-rng), To: now}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRebuild reads a decision log of b.N records in files of the
// default size (64 MiB).
func BenchmarkRebuild(b *testing.B) {
	now := time.Now()
	var rs []*decision.Result
	for i := range b.N {
		rs = append(rs, result(fmt.Sprintf("r%d", i), "sales", fmt.Sprintf("+1888555%04d", i%100), now.Add(-time.Duration(i)*time.Second), kind(i%10), policy.CallerAnonymous))
	}
	dir := writeLogRotating(b, rs, 64<<20)
	s := New(Options{Logger: quiet})
	b.ResetTimer()
	rep, err := s.Rebuild(context.Background(), dir, now.Add(time.Minute))
	b.StopTimer()
	if err != nil || rep.Records != b.N {
		b.Fatalf("%+v %v", rep, err)
	}
	b.ReportMetric(float64(b.N)/rep.Took.Seconds(), "records/s")
}

// BenchmarkFlush is one write of the write-behind: the counts of calls
// calls (100 DIDs, 3 profiles, one minute) to Redis, as Run makes every
// FlushInterval. It runs off the call path; the figure bounds how many
// calls a second one instance's writer keeps up with.
func BenchmarkFlush(b *testing.B) {
	srv := redistest.Start(b)
	for _, calls := range []int{10, 1000} {
		b.Run(fmt.Sprintf("calls=%d", calls), func(b *testing.B) {
			now := time.Now()
			s := New(Options{Logger: quiet, Redis: redisClient(b, srv.Addr()), Now: func() time.Time { return now }})
			rs := make([]*decision.Result, calls)
			for i := range rs {
				rs[i] = result("x", []string{"sales", "support", "pilot"}[i%3], fmt.Sprintf("+1888555%04d", i%100), now, kind(i%10), policy.CallerAnonymous)
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				for _, r := range rs {
					s.Record(r)
				}
				b.StartTimer()
				if err := s.Close(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
