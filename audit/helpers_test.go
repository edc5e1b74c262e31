package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// result makes a decision with every field the log records filled in.
func result(i int) *decision.Result {
	return &decision.Result{
		ID:         fmt.Sprintf("d-%06d", i),
		Time:       time.Date(2026, 3, 2, 10, 0, 0, i*1000, time.UTC),
		Tenant:     "acme",
		Profile:    "sales",
		Transport:  "agi",
		Channel:    "PJSIP/trunk-0000001",
		UniqueID:   fmt.Sprintf("1700000000.%d", i),
		Caller:     fmt.Sprintf("+1212555%04d", i%10000),
		CallerRaw:  fmt.Sprintf("212555%04d", i%10000),
		CallerName: `ACME <script>alert("x")</script>`,
		Dialed:     "+18005550100",
		Decision: policy.Decision{
			Action:  policy.Challenge,
			Mode:    policy.ModeEnforce,
			Tier:    policy.TierBusiness,
			Score:   55,
			Scored:  true,
			Reasons: []policy.Reason{policy.ProviderRiskMedium, policy.VelocityCallerBurst},
			Profile: "sales",
		},
		Result:       policy.ResultAllow,
		Challenge:    policy.OutcomePassed,
		WrongEntries: 1,
		Verdict: reputation.Verdict{Sources: []reputation.Report{
			{Source: "lists", Latency: 20 * time.Microsecond},
			{Source: "callerapi", Latency: 120 * time.Millisecond, Verdict: reputation.Verdict{
				Verdict: policy.Verdict{Tier: policy.TierBusiness, Score: 55, Scored: true, Reasons: []policy.Reason{policy.ProviderRiskMedium}},
				Risk:    reputation.RiskMedium,
				Raw:     map[string]string{"carrier": "Example Wireless", "hash": `"fake"`, "line_type": "mobile"},
			}},
			{Source: "youmail", Err: errors.New("youmail: timeout")},
		}},
		DecisionLatency: 130 * time.Millisecond,
		Duration:        9 * time.Second,
		ConfigVersion:   "cfg-7",
	}
}

// openLog opens a log in a fresh directory with test-friendly options.
func openLog(t *testing.T, o Options) *Log {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.Logger == nil {
		o.Logger = quiet
	}
	if o.FsyncInterval == 0 {
		o.FsyncInterval = time.Millisecond
	}
	l, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = l.Close(ctx)
	})
	return l
}

// appendN appends n results, waiting for each to be durable.
func appendN(t *testing.T, l *Log, from, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := from; i < from+n; i++ {
		if _, err := l.Append(ctx, result(i)); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
}

func closeLog(t *testing.T, l *Log) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// lines reads a file as lines without their newlines.
func lines(t *testing.T, name string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	ls := bytes.SplitAfter(data, []byte("\n"))
	if len(ls[len(ls)-1]) == 0 {
		ls = ls[:len(ls)-1]
	}
	return ls
}

func mustFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := Files(dir)
	if err != nil || len(files) == 0 {
		t.Fatalf("Files(%s) = %v, %v", dir, files, err)
	}
	return files
}
