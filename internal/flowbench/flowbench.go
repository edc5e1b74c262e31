// Package flowbench builds, for the benchmarks, the screening flow serve
// builds for the allow path without Redis and without providers: critical
// numbers, agents' reports in memory, the lists (a block file every
// benchmark caller misses), the feed and the behaviour counters, with an
// info-level JSON logger that writes nowhere (allow decisions log at debug)
// and a profile for a busy line. callscreen-bench flow and the Go
// benchmarks of screen and bridge measure the same flow.
package flowbench

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/behavior"
	"github.com/callscreen/callscreen/reputation/emergency"
	"github.com/callscreen/callscreen/reputation/feed"
	"github.com/callscreen/callscreen/reputation/feedback"
	"github.com/callscreen/callscreen/reputation/lists"
	"github.com/callscreen/callscreen/screen"
)

// Numbers the local sources know: a critical number, a listed one and the
// line's own DID. Benchmark callers are none of them.
const (
	CriticalNumber = "+12125550100"
	BlockedNumber  = "+12125550666"
	OwnNumber      = "+15551230000"
)

// Local is the chain of local sources and what a flow over it needs.
type Local struct {
	Chain    reputation.Chain
	Critical *emergency.Source
	Behavior *behavior.Behavior
	// Profile is a busy line's: one DID taking thousands of calls a minute
	// (and one caller calling all the time) is the load, not a flood or a
	// burst to challenge.
	Profile policy.Profile
	Logger  *slog.Logger
}

// New builds the local sources, the block file in dir.
func New(ctx context.Context, dir string) (*Local, error) {
	blockFile := filepath.Join(dir, "block.txt")
	if err := os.WriteFile(blockFile, []byte(BlockedNumber+"\n+1900*\nname:*WARRANTY*\n"), 0o644); err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	l, err := lists.New(lists.Options{BlockFile: blockFile, Region: "US", Logger: logger, Metrics: lists.NewMetrics(nil)})
	if err != nil {
		return nil, err
	}
	crit, err := emergency.New([]string{CriticalNumber}, "US")
	if err != nil {
		return nil, err
	}
	bh, err := behavior.New(behavior.Options{OwnNumbers: []string{OwnNumber}, Known: l.Allowed, Logger: logger})
	if err != nil {
		return nil, err
	}
	prof := policy.Default()
	prof.Thresholds.FloodPerMinute, prof.Thresholds.FloodPerMinuteAfterHours = 1<<30, 1<<30
	prof.Thresholds.BurstCalls = 1 << 30
	return &Local{
		Chain: reputation.Chain{
			{Name: emergency.SourceName, Source: crit},
			{Name: "feedback", Source: feedback.NewSource(feedback.NewMemoryStore(), feedback.SourceOptions{})},
			{Name: lists.SourceName, Source: l},
			{Name: "feed", Source: feed.New(ctx, feed.Options{Logger: logger})},
			{Name: "behavior", Source: bh},
		},
		Critical: crit,
		Behavior: bh,
		Profile:  prof,
		Logger:   logger,
	}, nil
}

// Close stops the behaviour counters.
func (l *Local) Close() { l.Behavior.Close() }

// Flow is a flow over src (nil: the local chain) with metrics m; the
// recorders get each decision before the behaviour counters do.
func (l *Local) Flow(src reputation.Source, m *screen.Metrics, recorders ...decision.Recorder) *screen.Flow {
	if src == nil {
		src = l.Chain
	}
	return &screen.Flow{
		Source:   src,
		Critical: l.Critical,
		Profiles: screen.ProfileMap{"default": l.Profile},
		Verifier: decision.NewMemoryVerifier(1000, nil),
		Recorder: append(decision.Recorders(recorders), l.Behavior),
		Logger:   l.Logger,
		Metrics:  m,
	}
}

// Reply is what the simulated Asterisk of the benchmarks answers to line,
// a command of the allow path: the prompt check at the first call from a
// PBX (GET FULL VARIABLE of ${STAT(f,PATH)} reads, every file there), the
// variables read and written, and MSet.
func Reply(line []byte) string {
	s := string(line)
	switch {
	case strings.HasPrefix(s, "GET FULL VARIABLE"):
		return "200 result=1 (" + strings.Repeat("1", strings.Count(s, "${STAT(")) + ")\n"
	case strings.HasPrefix(s, "GET VARIABLE"):
		return "200 result=0\n"
	case strings.HasPrefix(s, "SET VARIABLE"):
		return "200 result=1\n"
	case strings.HasPrefix(s, "EXEC MSet "):
		return "200 result=0\n"
	}
	return "510 Invalid or unknown command\n"
}
