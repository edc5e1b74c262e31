package bridge

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/callscreen/callscreen/agi"
	"github.com/callscreen/callscreen/agi/agitest"
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

// BenchmarkAGINewCallers is one allowed call from a caller never seen
// before, through the FastAGI server over net.Pipe: "flow" with the chain
// serve builds without Redis or providers (critical numbers, agents'
// reports, lists, feed, behaviour counters), metrics and a logger at info;
// "seq" the same server with a handler that only writes the flow's one
// EXEC MSet. The difference is what screening costs a call.
func BenchmarkAGINewCallers(b *testing.B) {
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
			{Name: "feed", Source: feed.New(ctx, feed.Options{Logger: logger})},
			{Name: "behavior", Source: bh},
		},
		Critical: crit,
		Profiles: screen.ProfileMap{"default": prof},
		Verifier: decision.NewMemoryVerifier(1000, nil),
		Recorder: decision.Recorders{bh},
		Logger:   logger,
		Metrics:  screen.NewMetrics(prometheus.NewRegistry()),
	}
	handlers := []struct {
		name string
		h    agi.Handler
	}{
		{"seq", agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
			_ = s.SetVariables(ctx, []agi.Variable{{Name: decision.VarResult, Value: "allow"}, {Name: decision.VarAction, Value: "allow"},
				{Name: decision.VarTier, Value: "UNKNOWN"}, {Name: decision.VarChallenge, Value: "none"},
				{Name: decision.VarMode, Value: "enforce"}, {Name: decision.VarID, Value: "01M80QP64KW6KJAADJ"}})
		})},
		{"flow", AGIHandler(func() *screen.Flow { return f })},
	}
	n := 0
	for _, h := range handlers {
		b.Run(h.name, func(b *testing.B) {
			srv := &agi.Server{Handler: h.h, Logger: logger, Metrics: agi.NewMetrics(nil)}
			r := bufio.NewReader(nil)
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				n++
				env := agitest.EnvBlock(agitest.Call{CallerID: fmt.Sprintf("+1212%03d%04d", 200+(n/10000)%800, n%10000),
					CallerIDName: "John Q. Public", DNID: "15551230000", Args: []string{"screened="}})
				server, client := net.Pipe()
				done := make(chan struct{})
				go func() { srv.ServeConn(ctx, server); close(done) }()
				if _, err := client.Write(env); err != nil {
					b.Fatal(err)
				}
				r.Reset(client)
				if line, err := r.ReadSlice('\n'); err != nil || string(line[:10]) != "EXEC MSet " {
					b.Fatalf("%q %v", line, err)
				}
				if _, err := io.WriteString(client, "200 result=0\n"); err != nil {
					b.Fatal(err)
				}
				if _, err := r.ReadSlice('\n'); err != io.EOF {
					b.Fatalf("after MSet: %v", err)
				}
				client.Close()
				<-done
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the process's user and system CPU time: what a benchmark
// costs, whatever else the machine runs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
