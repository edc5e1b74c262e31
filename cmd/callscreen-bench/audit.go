package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/callscreen/callscreen/audit"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
)

func init() {
	register(bench{name: "audit", summary: "decision log: Commit and Record latency per call, durable throughput, time to durable", run: runAuditBench})
}

// runAuditBench appends decisions to a log in a temporary directory, first
// paced like calls (-rate per second), then as fast as one producer can,
// each way through Commit (what a call pays: the record written to the
// operating system before its routing variables go out) and through
// Record (queued), and prints the latency per call, how soon records are
// durable and how many records per second the log keeps.
func runAuditBench(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	n := fs.Int("n", 20000, "records per phase")
	rate := fs.Int("rate", 2000, "records per second in the paced phase (calls per second)")
	fsync := fs.String("fsync", audit.FsyncBatch, "fsync policy: batch, always, none")
	interval := fs.Duration("interval", audit.DefaultFsyncInterval, "batch fsync interval")
	dir := fs.String("dir", "", "log directory (default: a temporary directory, removed after)")
	limit := fs.Duration("max", 60*time.Second, "stop a phase after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n <= 0 || *rate <= 0 {
		return errors.New("-n and -rate must be positive")
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "callscreen-bench-audit-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	fmt.Fprintf(out, "audit log bench: fsync=%s interval=%s dir=%s\n", *fsync, *interval, *dir)
	for _, phase := range []struct {
		name   string
		rate   int
		commit bool
	}{{"commit paced", *rate, true}, {"commit flood", 0, true}, {"record paced", *rate, false}, {"record flood", 0, false}} {
		res, err := auditPhase(ctx, *dir, *fsync, *interval, *n, phase.rate, *limit, phase.commit)
		if err != nil {
			return fmt.Errorf("%s: %w", phase.name, err)
		}
		res.print(out, phase.name, phase.rate)
	}
	return nil
}

type auditResult struct {
	records, dropped   int
	elapsed, durableAt time.Duration
	call               string          // "Commit()" or "Record()"
	record             []time.Duration // Commit or Record call latencies
	commit             []time.Duration // Record to durable
	cpu                time.Duration
}

func auditPhase(ctx context.Context, dir, fsync string, interval time.Duration, n, rate int, limit time.Duration, commit bool) (auditResult, error) {
	res := auditResult{call: "Record()"}
	if commit {
		res.call = "Commit()"
	}
	l, err := audit.Open(audit.Options{
		Dir: dir, Fsync: fsync, FsyncInterval: interval, QueueSize: 1 << 16,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return res, err
	}
	base := l.Written()
	r := benchResult()
	enq := make([]time.Time, n)
	res.record = make([]time.Duration, 0, n)
	res.commit = make([]time.Duration, 0, n)

	// The poller notes when each seq becomes durable. One producer, so
	// record i gets seq base+i+1.
	done := make(chan struct{})
	begun := time.Now()
	durable := make([]time.Time, n)
	go func() {
		defer close(done)
		seen := 0
		for seen < n {
			w := int(l.Written() - base)
			now := time.Now()
			for ; seen < w && seen < n; seen++ {
				durable[seen] = now
			}
			if ctx.Err() != nil || time.Since(begun) > limit+10*time.Second {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	cpu0 := cpuTime()
	start := time.Now()
	var tick time.Duration
	if rate > 0 {
		tick = time.Second / time.Duration(rate)
	}
	for i := range n {
		if tick > 0 {
			if wait := time.Until(start.Add(time.Duration(i) * tick)); wait > 0 {
				time.Sleep(wait)
			}
		}
		t0 := time.Now()
		enq[i] = t0
		if commit {
			if err := l.Commit(r); err != nil {
				return res, err
			}
		} else {
			l.Record(r)
		}
		res.record = append(res.record, time.Since(t0))
		if ctx.Err() != nil || time.Since(start) > limit {
			n = i + 1
			break
		}
	}
	res.elapsed = time.Since(start)
	cctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	<-done
	if err := l.Close(cctx); err != nil {
		return res, err
	}
	res.cpu = cpuTime() - cpu0
	res.records = int(l.Written() - base)
	res.dropped = n - res.records
	for i := range min(n, res.records) {
		if !durable[i].IsZero() {
			res.commit = append(res.commit, durable[i].Sub(enq[i]))
			res.durableAt = durable[i].Sub(start)
		}
	}
	files, err := audit.Files(dir)
	if err != nil {
		return res, err
	}
	if _, err := audit.Verify(files, l.PublicKey()); err != nil {
		return res, fmt.Errorf("log does not verify after the bench: %w", err)
	}
	return res, nil
}

func (r auditResult) print(out io.Writer, name string, rate int) {
	pace := "as fast as one producer can"
	if rate > 0 {
		pace = fmt.Sprintf("%d/s offered", rate)
	}
	fmt.Fprintf(out, "\n%s (%s): %d records, %d dropped, %.2fs\n", name, pace, r.records, r.dropped, r.elapsed.Seconds())
	const unit = 100 * time.Nanosecond
	q := percentiles(r.record, 50, 99, 99.9, 100)
	fmt.Fprintf(out, "  %-9s per call:   p50 %s  p99 %s  p99.9 %s  max %s\n", r.call,
		q[0].Round(unit), q[1].Round(unit), q[2].Round(unit), q[3].Round(unit))
	q = percentiles(r.commit, 50, 99, 100)
	fmt.Fprintf(out, "  call -> durable:     p50 %s  p99 %s  max %s\n", q[0].Round(unit), q[1].Round(unit), q[2].Round(unit))
	if r.durableAt > 0 {
		fmt.Fprintf(out, "  durable throughput:  %.0f records/s\n", float64(r.records)/r.durableAt.Seconds())
	}
	if r.records > 0 {
		fmt.Fprintf(out, "  process CPU:         %s total, %s per record\n", r.cpu.Round(time.Millisecond), (r.cpu / time.Duration(r.records)).Round(100*time.Nanosecond))
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchResult is a typical challenged decision with three sources.
func benchResult() *decision.Result {
	return &decision.Result{
		ID: "bench", Time: time.Now(), Tenant: "default", Profile: "default", Transport: "agi",
		Channel: "PJSIP/trunk-00000001", UniqueID: "1700000000.1",
		Caller: "+12125550123", CallerName: "EXAMPLE CALLER", Dialed: "+18005550100",
		Decision: policy.Decision{Action: policy.Challenge, Mode: policy.ModeEnforce, Tier: policy.TierBusiness,
			Reasons: []policy.Reason{policy.ProviderRiskMedium}, Profile: "default"},
		Result: policy.ResultAllow, Challenge: policy.OutcomePassed,
		Verdict: reputation.Verdict{Sources: []reputation.Report{
			{Source: "lists", Latency: 15 * time.Microsecond},
			{Source: "cache", Latency: 80 * time.Microsecond},
			{Source: "provider", Latency: 140 * time.Millisecond, Verdict: reputation.Verdict{
				Verdict: policy.Verdict{Tier: policy.TierBusiness, Reasons: []policy.Reason{policy.ProviderRiskMedium}},
				Risk:    reputation.RiskMedium, Raw: map[string]string{"line_type": "mobile", "carrier": "Example"}}},
		}},
		DecisionLatency: 141 * time.Millisecond, Duration: 8 * time.Second, ConfigVersion: "bench",
	}
}
