package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callscreen/callscreen/admin"
	"github.com/callscreen/callscreen/config"
	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/reputation/feedback"
)

func init() {
	register(command{name: "report", summary: "record an agent's spam / not-spam report, withdraw or export reports; per-DID statistics", run: runReport})
}

const reportUsage = `usage:
  callscreen report spam|not-spam NUMBER [--tenant T] [--note TEXT] [--agent NAME] [--config FILE] [--wait D]
  callscreen report clear NUMBER [--tenant T] [--config FILE] [--wait D]
  callscreen report export [--tenant T] [--format csv|jsonl] [--config FILE]
  callscreen report dids [--range 24h] [--format table|json|csv] [--config FILE]  (per-DID statistics; see report dids -h)

A report overrides what the providers say about the caller for the tenant:
"spam" blocks the caller, "not-spam" lets them through despite provider and
feed verdicts (a must-block list still applies). The commands read the
configuration the server runs with and, when its admin API answers, act
through it (the report applies to the next call); otherwise they write
Redis when redis.addrs is set, else data_dir/feedback.jsonl under the
data_dir lock, where a running "callscreen serve" would see them within a
second (see "callscreen lists -h" for the refusals).`

// reportsBackend is where the report commands act: the running server
// (apiReports) or the store (storeReports).
type reportsBackend interface {
	admin.Feedback
	admin.ReportStore
}

// runReport records, withdraws or exports agent reports.
func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("callscreen report", reportUsage, stderr)
	path := configFlag(fs)
	wait := waitFlag(fs)
	tenant := fs.String("tenant", "", "`tenant` the report applies to (default: the default tenant)")
	note := fs.String("note", "", "free `text` kept with the report (at most 500 bytes)")
	agent := fs.String("agent", "", "`name` of the agent reporting")
	format := fs.String("format", "csv", "export `format`: csv or jsonl")
	if verb, rest := verbFirst(fs, args); verb == "dids" {
		return runReportDIDs(ctx, rest, stdout, stderr)
	}
	pos, ok := parseArgs(fs, args)
	if !ok {
		return 2
	}
	if len(pos) == 0 {
		fs.Usage()
		return 2
	}
	verb := pos[0]
	switch {
	case verb == "export" && len(pos) == 1:
	case verb != "export" && len(pos) == 2:
	default:
		fs.Usage()
		return 2
	}
	var kind feedback.Kind
	if verb != "export" && verb != "clear" {
		k, err := feedback.ParseKind(verb)
		if err != nil {
			fmt.Fprintf(stderr, "callscreen report: %v\n", err)
			fs.Usage()
			return 2
		}
		kind = k
	}
	if verb == "export" && *format != "csv" && *format != "jsonl" {
		fmt.Fprintf(stderr, "callscreen report export: export format %q: want csv or jsonl\n", *format)
		return 1
	}

	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "callscreen report: %v\n", err)
		return 1
	}
	var n number.Number
	if verb != "export" {
		n = number.Parse(pos[1], cfg.Number.DefaultRegion)
		if n.E164 == "" {
			fmt.Fprintf(stderr, "callscreen report: %q is not a phone number (region %s); write it in E.164, e.g. +12125551234\n", pos[1], cfg.Number.DefaultRegion)
			return 1
		}
	}
	r := reach{name: "callscreen report " + verb, args: append([]string{"report"}, args...), wait: *wait, stderr: stderr}
	if verb != "export" {
		r.files = []string{feedback.FileName}
	}
	tgt, err := openTarget(ctx, cfg, r)
	if err != nil {
		fmt.Fprintf(stderr, "callscreen report %s: %v\n", verb, err)
		return 1
	}
	defer tgt.close()
	var b reportsBackend = apiReports{tgt.client}
	if tgt.client == nil {
		store, err := openReports(tgt.rdb, cfg.DataDir, verb == "export")
		if err != nil {
			fmt.Fprintf(stderr, "callscreen report %s: %v\n", verb, err)
			return 1
		}
		b = storeReports{admin.FeedbackStore(store, cfg.Number.DefaultRegion), admin.FeedbackReports(store)}
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()

	tenantName := *tenant
	if tenantName == "" {
		tenantName = "default"
	}
	switch verb {
	case "export":
		if err := b.Export(ctx, stdout, *tenant, *format); err != nil {
			fmt.Fprintf(stderr, "callscreen report export: %v\n", err)
			return 1
		}
		return 0
	case "clear":
		if err := b.Withdraw(ctx, *tenant, n.E164); err != nil {
			fmt.Fprintf(stderr, "callscreen report clear: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "withdrew the report on %s for tenant %s (%s)\n", n.E164, tenantName, tgt.where)
		return 0
	}
	rep := admin.FeedbackReport{Tenant: *tenant, Caller: n.E164, Spam: kind == feedback.Spam, Note: *note, Agent: *agent, Time: time.Now().UTC()}
	if err := b.Report(ctx, rep); err != nil {
		fmt.Fprintf(stderr, "callscreen report: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "reported %s as %s for tenant %s (%s)\n", n.E164, kind, tenantName, tgt.where)
	return 0
}

// apiReports acts through the running server.
type apiReports struct{ c *admin.Client }

func (a apiReports) Report(ctx context.Context, r admin.FeedbackReport) error {
	return a.c.Report(ctx, r)
}

func (a apiReports) Withdraw(ctx context.Context, tenant, number string) error {
	return a.c.WithdrawReport(ctx, tenant, number)
}

func (a apiReports) Export(ctx context.Context, w io.Writer, tenant, format string) error {
	return a.c.ExportReports(ctx, w, tenant, format)
}

// storeReports writes the store itself, with no server running.
type storeReports struct {
	admin.Feedback
	admin.ReportStore
}

// openReports opens the report store of a command with no server running.
// An export reads a file that is not there as no reports, rather than
// create it.
func openReports(rdb redis.UniversalClient, dataDir string, readOnly bool) (feedback.Store, error) {
	if rdb == nil && readOnly {
		if _, err := os.Stat(feedback.FilePath(dataDir)); errors.Is(err, fs.ErrNotExist) {
			return feedback.NewMemoryStore(), nil
		}
	}
	return feedback.Open(rdb, dataDir)
}
