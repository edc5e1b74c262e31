package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/callscreen/callscreen/admin"
	"github.com/callscreen/callscreen/config"
	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/redisconn"
	"github.com/callscreen/callscreen/stats"
)

const reportDIDsUsage = `usage: callscreen report dids [--range 24h] [--profile P] [--did NUMBER] [--format table|json|csv] [--config FILE]

Per dialed number: calls, allowed, blocked, challenged, passed, failed,
abandoned, the junk share (blocked + failed challenges + blocks held in
monitor mode, over calls) with the share before the range and its trend,
the top reasons, and a hint when the junk share stayed above
stats.release.junk_share for stats.release.days days. With redis.addrs the
figures are every instance's (the counters in Redis); without, they are
read from the decision log (audit.dir). --format json prints what
GET /api/v1/stats/dids answers; csv what /api/v1/stats/dids.csv does.`

// verbFirst returns the first positional argument of args for fs, and
// args without it; "" when there is none.
func verbFirst(fs *flag.FlagSet, args []string) (string, []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			if i+1 < len(args) {
				return args[i+1], append(append([]string(nil), args[:i+1]...), args[i+2:]...)
			}
			return "", args
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			return a, append(append([]string(nil), args[:i]...), args[i+1:]...)
		}
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil {
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
				continue
			}
			i++ // the flag's value
		}
	}
	return "", args
}

// runReportDIDs prints the per-DID statistics.
func runReportDIDs(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("callscreen report dids", reportDIDsUsage, stderr)
	path := configFlag(fs)
	rng := fs.String("range", "24h", "`range` ending now: 1h, 24h, 7d, a duration, or all (stats.retention)")
	profile := fs.String("profile", "", "only the calls of this `profile`")
	did := fs.String("did", "", "only this dialed `number`")
	format := fs.String("format", "table", "output `format`: table, json or csv")
	pos, ok := parseArgs(fs, args)
	if !ok {
		return 2
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "callscreen report dids: unexpected argument %q\n", pos[0])
		fs.Usage()
		return 2
	}
	switch *format {
	case "table", "json", "csv":
	default:
		fmt.Fprintf(stderr, "callscreen report dids: --format %q: want table, json or csv\n", *format)
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "callscreen report dids: %v\n", err)
		return 1
	}
	d, err := stats.ParseRange(*rng, cfg.Stats.Retention)
	if err != nil {
		fmt.Fprintf(stderr, "callscreen report dids: --range: %v\n", strings.TrimPrefix(err.Error(), stats.ErrInvalid.Error()+": "))
		return 2
	}
	now := time.Now()
	q := stats.Query{From: now.Add(-d), To: now, Profile: *profile}
	if *did != "" {
		n := number.Parse(*did, cfg.Number.DefaultRegion)
		if n.Key() == "" {
			fmt.Fprintf(stderr, "callscreen report dids: --did %q is not a phone number\n", *did)
			return 2
		}
		q.DID = n.Key()
	}
	logger := config.NewLogger(config.Log{Level: "warn", Format: cfg.Log.Format}, stderr)
	redisconn.UseSlog(logger)
	rdb, err := redisconn.New(commandRedisOptions(cfg))
	if err != nil {
		fmt.Fprintf(stderr, "callscreen report dids: redis: %v\n", err)
		return 1
	}
	if rdb != nil {
		defer rdb.Close()
	}
	if rdb == nil && !cfg.Audit.Enabled {
		fmt.Fprintln(stderr, "callscreen report dids: no statistics to read: the decision log is off (audit.enabled) and redis.addrs is not set")
		return 1
	}
	st := stats.New(stats.Options{
		Retention: cfg.Stats.Retention, MaxDIDs: cfg.Stats.MaxDIDs, Redis: rdb, Logger: logger,
		Release: stats.Release{JunkShare: cfg.Stats.Release.JunkShare, Days: cfg.Stats.Release.Days, MinCalls: int64(cfg.Stats.Release.MinCalls)},
	})
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	rebuild := func() bool {
		if !cfg.Audit.Enabled {
			return true
		}
		if _, err := st.Rebuild(ctx, cfg.Audit.Dir, now); err != nil {
			fmt.Fprintf(stderr, "callscreen report dids: %v\n", err)
			return false
		}
		return true
	}
	if rdb == nil && !rebuild() {
		return 1
	}
	rows, src, err := st.DIDs(ctx, q)
	if err == nil && src.Warning != "" {
		// Redis did not answer: read the log instead.
		fmt.Fprintf(stderr, "callscreen report dids: %s; reading this host's decision log instead\n", src.Warning)
		if !rebuild() {
			return 1
		}
		rows, _, err = st.DIDs(ctx, q)
	}
	if err != nil {
		fmt.Fprintf(stderr, "callscreen report dids: %v\n", err)
		return 1
	}
	switch *format {
	case "json":
		if rows == nil {
			rows = []stats.DIDRow{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rows)
	case "csv":
		err = admin.WriteDIDsCSV(stdout, rows)
	default:
		err = didTable(stdout, rows, q, src.Shared)
	}
	if err != nil {
		fmt.Fprintf(stderr, "callscreen report dids: %v\n", err)
		return 1
	}
	return 0
}

// didTable prints the rows for people: one line per DID, the hints after.
func didTable(w io.Writer, rows []stats.DIDRow, q stats.Query, shared bool) error {
	where := "this host's decision log"
	if shared {
		where = "every instance (redis)"
	}
	fmt.Fprintf(w, "; DIDs %s .. %s, %s\n", q.From.Format("2006-01-02 15:04 MST"), q.To.Format("2006-01-02 15:04 MST"), where)
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "no calls in this range")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DID\tPROFILES\tCALLS\tALLOWED\tBLOCKED\tCHALLENGED\tPASSED\tFAILED\tABANDONED\tHELD\tJUNK\tBEFORE\tTREND\tTOP REASONS")
	pct := func(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" }
	for _, r := range rows {
		before := "-"
		if r.PreviousJunkShare != nil {
			before = pct(*r.PreviousJunkShare)
		}
		var top []string
		for _, rc := range r.TopReasons {
			top = append(top, fmt.Sprintf("%s (%d)", rc.Code, rc.Count))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", r.DID, strings.Join(r.Profiles, ","), r.Calls,
			r.Allowed, r.Blocked, r.Challenged, r.Passed, r.Failed, r.Abandoned, r.Held, pct(r.JunkShare), before,
			orDash(r.TrendDirection), orDash(strings.Join(top, ", ")))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rows {
		if r.ReleaseHint != "" {
			fmt.Fprintf(w, "\n%s: %s\n", r.DID, r.ReleaseHint)
		}
	}
	return nil
}
