package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/audit"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/internal/redistest"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/redisconn"
	"github.com/callscreen/callscreen/stats"
)

func didResult(id, did string, at time.Time, action policy.Action, res policy.Result, ch policy.Outcome, reasons ...policy.Reason) *decision.Result {
	return &decision.Result{
		ID: id, Time: at, Profile: "sales", Caller: "+12125550100", Dialed: did,
		Decision: policy.Decision{Action: action, Mode: policy.ModeEnforce, Reasons: reasons},
		Result:   res, Challenge: ch,
	}
}

// junkDay is three blocks, a failed challenge and a pass to one DID, and
// two allowed calls to another, per day.
func junkDay(at time.Time) []*decision.Result {
	return []*decision.Result{
		didResult("b1", "+18885550100", at, policy.Block, policy.ResultBlock, policy.OutcomeNone, policy.FeedDailyReport, policy.FeedRobocall),
		didResult("b2", "+18885550100", at, policy.Block, policy.ResultBlock, policy.OutcomeNone, policy.FeedDailyReport),
		didResult("b3", "+18885550100", at, policy.Block, policy.ResultBlock, policy.OutcomeNone, policy.ListBlock),
		didResult("f1", "+18885550100", at, policy.Challenge, policy.ResultBlock, policy.OutcomeFailed, policy.CallerAnonymous),
		didResult("p1", "+18885550100", at, policy.Challenge, policy.ResultAllow, policy.OutcomePassed, policy.CallerAnonymous),
		didResult("a1", "+18885550200", at, policy.Allow, policy.ResultAllow, policy.OutcomeNone),
		didResult("a2", "+18885550200", at, policy.Allow, policy.ResultAllow, policy.OutcomeNone),
	}
}

func TestReportDIDsFromLog(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, "data_dir: "+dir+"\nstats:\n  release:\n    junk_share: 0.5\n    days: 3\n    min_calls: 3\n")
	l, err := audit.Open(audit.Options{Dir: filepath.Join(dir, "audit"), Fsync: audit.FsyncNone, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ctx := context.Background()
	for day := range 3 {
		for _, r := range junkDay(now.Add(-time.Duration(day)*24*time.Hour - time.Hour)) {
			if _, err := l.Append(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runCmd("report", "--config", cfg, "dids", "--range", "7d")
	if code != 0 {
		t.Fatalf("report dids: %d %s", code, errOut)
	}
	lines := strings.Split(out, "\n")
	if !strings.Contains(lines[0], "this host's decision log") || !strings.HasPrefix(lines[1], "DID ") {
		t.Fatalf("table:\n%s", out)
	}
	for _, want := range []string{
		"+18885550100  sales     15     0        9        6           3       3       0          0     80.0%",
		"caller.anonymous (6), feed.daily_report (6), feed.robocall (3), list.block (3)",
		"+18885550200  sales     6      6        0        0           0       0       0          0     0.0%",
		"+18885550100: junk share above 50% on each of the last 3 days (at least 3 calls a day): consider releasing this number",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}

	code, out, _ = runCmd("report", "dids", "--format", "json", "--range", "24h", "--config", cfg)
	var rows []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 2 || rows[0]["did"] != "+18885550100" ||
		rows[0]["calls"] != 5.0 || rows[0]["junk_share"] != 0.8 || rows[0]["release_hint"] == "" {
		t.Fatalf("json: %d %s", code, out)
	}
	code, out, _ = runCmd("report", "dids", "--format", "csv", "--did", "8885550200", "--config", cfg)
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(recs) != 2 || recs[1][0] != "+18885550200" || recs[1][2] != "2" {
		t.Fatalf("csv: %d %v %q", code, err, out)
	}
	code, out, _ = runCmd("report", "dids", "--profile", "support", "--config", cfg)
	if code != 0 || !strings.Contains(out, "no calls in this range") {
		t.Fatalf("no calls: %d %q", code, out)
	}
}

func TestReportDIDsFromRedis(t *testing.T) {
	srv := redistest.Start(t)
	rdb, err := redisconn.New(redisconn.Options{Addrs: []string{srv.Addr()}, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	// Another instance's counts, in Redis only.
	st := stats.New(stats.Options{Redis: rdb, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for _, r := range junkDay(time.Now().Add(-time.Minute)) {
		st.Record(r)
	}
	if err := st.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, "data_dir: "+t.TempDir()+"\nredis:\n  addrs: [\""+srv.Addr()+"\"]\n")
	code, out, errOut := runCmd("report", "dids", "--range", "1h", "--config", cfg)
	if code != 0 || !strings.Contains(out, "every instance (redis)") || !strings.Contains(out, "+18885550100  sales     5 ") {
		t.Fatalf("report dids: %d\n%s\n%s", code, out, errOut)
	}
	// Redis gone: the log is read instead, and the report says so.
	srv.Kill()
	code, out, errOut = runCmd("report", "dids", "--config", cfg)
	if code != 0 || !strings.Contains(errOut, "reading this host's decision log instead") || !strings.Contains(out, "no calls in this range") {
		t.Fatalf("redis down: %d\n%s\n%s", code, out, errOut)
	}
}

func TestReportDIDsBadInput(t *testing.T) {
	cfg := writeConfig(t, "data_dir: "+t.TempDir()+"\n")
	off := writeConfig(t, "data_dir: "+t.TempDir()+"\naudit:\n  enabled: false\n")
	tests := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"range", []string{"report", "dids", "--range", "9d", "--config", cfg}, 2, "--range: range \"9d\": statistics go back 8d"},
		{"format", []string{"report", "dids", "--format", "xml", "--config", cfg}, 2, `--format "xml": want table, json or csv`},
		{"did", []string{"report", "dids", "--did", "main", "--config", cfg}, 2, `--did "main" is not a phone number`},
		{"extra", []string{"report", "dids", "now", "--config", cfg}, 2, `unexpected argument "now"`},
		{"nothing to read", []string{"report", "dids", "--config", off}, 1, "the decision log is off"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCmd(tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.err) {
				t.Fatalf("code %d stderr %q; want %d and %q", code, errOut, tt.code, tt.err)
			}
		})
	}
}

func TestVerbFirst(t *testing.T) {
	fs := newFlagSet("x", "", io.Discard)
	fs.String("config", "", "")
	fs.Bool("json", false, "")
	tests := []struct {
		args []string
		verb string
		rest string
	}{
		{[]string{"dids", "--range", "1h"}, "dids", "--range 1h"},
		{[]string{"--config", "c.yaml", "dids"}, "dids", "--config c.yaml"},
		{[]string{"--config=c.yaml", "--json", "spam", "+1"}, "spam", "--config=c.yaml --json +1"},
		{[]string{"--config", "dids"}, "", "--config dids"},
		{[]string{"--", "dids"}, "dids", "--"},
		{nil, "", ""},
	}
	for _, tt := range tests {
		verb, rest := verbFirst(fs, tt.args)
		if verb != tt.verb || strings.Join(rest, " ") != tt.rest {
			t.Errorf("verbFirst(%q) = %q, %q; want %q, %q", tt.args, verb, rest, tt.verb, tt.rest)
		}
	}
}
