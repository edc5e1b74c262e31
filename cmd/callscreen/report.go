package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/callscreen/callscreen/config"
	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/redisconn"
	"github.com/callscreen/callscreen/reputation/feedback"
	"github.com/callscreen/callscreen/service"
)

func init() {
	register(command{name: "report", summary: "record an agent's spam / not-spam report, withdraw or export reports; per-DID statistics", run: runReport})
}

const reportUsage = `usage:
  callscreen report spam|not-spam NUMBER [--tenant T] [--note TEXT] [--agent NAME] [--config FILE]
  callscreen report clear NUMBER [--tenant T] [--config FILE]
  callscreen report export [--tenant T] [--format csv|jsonl] [--config FILE]
  callscreen report dids [--range 24h] [--format table|json|csv] [--config FILE]  (per-DID statistics; see report dids -h)

A report overrides what the providers say about the caller for the tenant:
"spam" blocks the caller, "not-spam" lets them through despite provider and
feed verdicts (a must-block list still applies). Reports are stored in
Redis when redis.addrs is set, else in data_dir/feedback.jsonl, where a
running "callscreen serve" sees them within a second.`

// runReport records, withdraws or exports agent reports.
func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("callscreen report", reportUsage, stderr)
	path := configFlag(fs)
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

	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "callscreen report: %v\n", err)
		return 1
	}
	store, where, closeFn, err := openFeedback(cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "callscreen report: %v\n", err)
		return 1
	}
	defer closeFn()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()

	if verb == "export" {
		reports, err := store.List(ctx, *tenant)
		if err == nil {
			err = feedback.Export(stdout, reports, *format)
		}
		if err != nil {
			fmt.Fprintf(stderr, "callscreen report export: %v\n", err)
			return 1
		}
		return 0
	}

	n := number.Parse(pos[1], cfg.Number.DefaultRegion)
	if n.E164 == "" {
		fmt.Fprintf(stderr, "callscreen report: %q is not a phone number (region %s); write it in E.164, e.g. +12125551234\n", pos[1], cfg.Number.DefaultRegion)
		return 1
	}
	tenantName := *tenant
	if tenantName == "" {
		tenantName = "default"
	}
	if verb == "clear" {
		if err := store.Delete(ctx, *tenant, n.E164); err != nil {
			fmt.Fprintf(stderr, "callscreen report clear: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "withdrew the report on %s for tenant %s (%s)\n", n.E164, tenantName, where)
		return 0
	}
	r := feedback.Report{Tenant: *tenant, Number: n.E164, Kind: kind, Note: *note, Agent: *agent, Time: time.Now().UTC()}
	if err := store.Put(ctx, r); err != nil {
		fmt.Fprintf(stderr, "callscreen report: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "reported %s as %s for tenant %s (%s)\n", n.E164, kind, tenantName, where)
	return 0
}

// openFeedback opens the store serve uses for cfg. A store in memory would
// lose the report when the command exits, so it is refused.
func openFeedback(cfg *config.Config, stderr io.Writer) (feedback.Store, string, func(), error) {
	redisconn.UseSlog(config.NewLogger(config.Log{Level: "warn", Format: cfg.Log.Format}, stderr))
	rdb, err := redisconn.New(service.RedisOptions(cfg))
	if err != nil {
		return nil, "", nil, fmt.Errorf("redis: %w", err)
	}
	closeFn := func() {
		if rdb != nil {
			_ = rdb.Close()
		}
	}
	if rdb == nil && cfg.DataDir == "" {
		return nil, "", nil, errors.New("neither redis.addrs nor data_dir is set: the report would be lost; set one of them")
	}
	store, err := feedback.Open(rdb, cfg.DataDir)
	if err != nil {
		closeFn()
		return nil, "", nil, err
	}
	where := "redis " + service.RedisOptions(cfg).Mode()
	if fs, ok := store.(*feedback.FileStore); ok {
		where = fs.Path()
	}
	return store, where, closeFn, nil
}
