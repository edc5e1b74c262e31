package service

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/callscreen/callscreen/internal/redistest"
	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/redisconn"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/behavior"
	"github.com/callscreen/callscreen/reputation/feedback"
)

// TestCallPathFollowsRedisTimeouts: the behaviour counters and the
// agents' reports are bounded by the configured Redis timeouts, not by
// fixed ones of their own. With a Redis slower than the defaults (every
// reply held 300ms; the counters' fixed bound was 100ms, the reports'
// 50ms) and timeouts of seconds configured, both answer; with the
// defaults, the counters fail open as before.
func TestCallPathFollowsRedisTimeouts(t *testing.T) {
	srv := redistest.Start(t)
	slow := redistest.Slow(t, srv.Addr(), 300*time.Millisecond)
	tests := []struct {
		name   string
		yaml   string
		failed bool // the counters fail open: provider.unavailable
	}{
		{"timeouts of seconds", "redis:\n  addrs: [" + slow + "]\n  dial_timeout: 10s\n  read_timeout: 10s\n  write_timeout: 10s\n", false},
		{"defaults", "redis:\n  addrs: [" + slow + "]\n  dial_timeout: 10s\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := loadYAML(t, tt.yaml)
			rdb, err := redisconn.New(RedisOptions(cfg))
			if err != nil {
				t.Fatal(err)
			}
			defer rdb.Close()
			b, err := openBehavior(cfg, rdb, nil, slog.New(slog.DiscardHandler), behavior.NewMetrics(nil))
			if err != nil {
				t.Fatal(err)
			}
			q := reputation.Query{Caller: number.Parse("+12125551234", "US"), Dialed: number.Parse("+15551230000", "US"), Profile: policy.Default(), Time: time.Now()}
			v, err := b.Lookup(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Contains(v.Reasons, policy.ProviderUnavailable); got != tt.failed {
				t.Errorf("behaviour reasons %v; want provider.unavailable %v", v.Reasons, tt.failed)
			}
			if tt.failed {
				return
			}
			fb := feedback.NewSource(feedback.NewRedisStore(rdb), feedback.SourceOptions{Timeout: feedbackTimeout(cfg, rdb)})
			if _, err := fb.Lookup(context.Background(), q); err != nil {
				t.Errorf("reports read through a slow Redis: %v", err)
			}
		})
	}
	// Without Redis the reports keep their source's own bound.
	cfg, _ := loadYAML(t, "data_dir: {dir}\n")
	if d := feedbackTimeout(cfg, nil); d != 0 {
		t.Errorf("feedbackTimeout without Redis = %s; want 0 (the source's default)", d)
	}
}
