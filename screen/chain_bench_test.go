package screen_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/behavior"
	"github.com/callscreen/callscreen/reputation/emergency"
	"github.com/callscreen/callscreen/reputation/feed"
	"github.com/callscreen/callscreen/reputation/feedback"
	"github.com/callscreen/callscreen/reputation/lists"
	"github.com/callscreen/callscreen/screen"
	"github.com/prometheus/client_golang/prometheus"
)

type nopChannel struct{}

func (nopChannel) Answer(context.Context) error                              { return nil }
func (nopChannel) Play(context.Context, string, string) (string, error)      { return "", nil }
func (nopChannel) SayDigits(context.Context, string, string) (string, error) { return "", nil }
func (nopChannel) ReadDigits(context.Context, string, time.Duration, int) (string, error) {
	return "", nil
}
func (nopChannel) Variable(context.Context, string) (string, bool, error) { return "", false, nil }
func (nopChannel) SetVariables(context.Context, []screen.Var) error       { return nil }
func (nopChannel) Hangup(context.Context) error                           { return nil }

// BenchmarkFlowServeChain is the allow path of a new caller through the
// chain serve builds without Redis or providers (critical numbers,
// feedback, lists, feed, behaviour), as callscreen-bench flow runs it, on
// a channel that does no work.
func BenchmarkFlowServeChain(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	blockFile := filepath.Join(dir, "block.txt")
	if err := os.WriteFile(blockFile, []byte("+12125550666\n+1900*\nname:*WARRANTY*\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	l, err := lists.New(lists.Options{BlockFile: blockFile, Region: "US", Logger: logger, Metrics: lists.NewMetrics(nil)})
	if err != nil {
		b.Fatal(err)
	}
	crit, err := emergency.New([]string{"+12125550100"}, "US")
	if err != nil {
		b.Fatal(err)
	}
	fd := feed.New(ctx, feed.Options{Logger: logger})
	bh, err := behavior.New(behavior.Options{OwnNumbers: []string{"+15551230000"}, Known: l.Allowed, Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	defer bh.Close()
	prof := policy.Default()
	prof.Thresholds.FloodPerMinute, prof.Thresholds.FloodPerMinuteAfterHours = 1<<30, 1<<30
	prof.Thresholds.BurstCalls = 1 << 30
	f := &screen.Flow{
		Source: reputation.Chain{
			{Name: emergency.SourceName, Source: crit},
			{Name: "feedback", Source: feedback.NewSource(feedback.NewMemoryStore(), feedback.SourceOptions{})},
			{Name: lists.SourceName, Source: l},
			{Name: "feed", Source: fd},
			{Name: "behavior", Source: bh},
		},
		Critical: crit,
		Profiles: screen.ProfileMap{"default": prof},
		Verifier: decision.NewMemoryVerifier(1000, nil),
		Recorder: decision.Recorders{bh},
		Logger:   logger,
		Metrics:  screen.NewMetrics(prometheus.NewRegistry()),
	}
	info := decision.CallInfo{ID: "1712345678.1", Channel: "PJSIP/trunk-00000001", CallerName: "John Q. Public",
		Dialed: "15551230000", Transport: "agi", ScreenedKnown: true, Language: "en"}
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		n++
		info.CallerNumber = fmt.Sprintf("+1212%03d%04d", 200+(n/10000)%800, n%10000)
		if r := f.Run(ctx, nopChannel{}, info); r.Decision.Action != policy.Allow {
			b.Fatalf("%s: %s %v", info.CallerNumber, r.Decision.Action, r.Decision.Reasons)
		}
	}
}
