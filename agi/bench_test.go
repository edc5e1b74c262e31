package agi_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/callscreen/callscreen/agi"
	"github.com/callscreen/callscreen/agi/loadtest"
)

// BenchmarkSession measures whole sessions on loopback (connect, environment,
// GET VARIABLE + 2 SET VARIABLE, close) from simulated Asterisk callers, for
// this package's server and for a minimal hand-written one. Compare the
// sessions/s metric of the two at each concurrency:
//
//	go test ./agi -run '^$' -bench Session -benchtime 5000x
func BenchmarkSession(b *testing.B) {
	servers := []struct {
		name  string
		serve func(ctx context.Context, l net.Listener)
	}{
		{"agi", func(ctx context.Context, l net.Listener) {
			srv := &agi.Server{Handler: loadtest.Handler(), MaxSessions: 10000, Metrics: agi.NewMetrics(nil),
				Logger: slog.New(slog.DiscardHandler)}
			_ = srv.Serve(ctx, l)
		}},
		{"minimal", func(ctx context.Context, l net.Listener) {
			go func() { <-ctx.Done(); l.Close() }()
			_ = loadtest.ServeMinimal(l)
		}},
	}
	for _, c := range []int{1, 8, 64} {
		for _, s := range servers {
			b.Run(fmt.Sprintf("c=%d/%s", c, s.name), func(b *testing.B) {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { defer close(done); s.serve(ctx, l) }()
				defer func() { cancel(); <-done }()
				b.ResetTimer()
				res := loadtest.Run(ctx, l.Addr().String(), c, b.N, time.Hour)
				b.StopTimer()
				if res.Errors > 0 {
					b.Fatalf("%d failed sessions", res.Errors)
				}
				b.ReportMetric(res.PerSecond(), "sessions/s")
				b.ReportMetric(float64(res.P50.Microseconds()), "p50-µs")
				b.ReportMetric(float64(res.P99.Microseconds()), "p99-µs")
			})
		}
	}
}
