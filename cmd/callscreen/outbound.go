package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/callscreen/callscreen/cdr"
	"github.com/callscreen/callscreen/cdr/cdrdb"
	"github.com/callscreen/callscreen/config"
	"github.com/callscreen/callscreen/outbound"
	"github.com/callscreen/callscreen/service"
)

func init() {
	register(command{name: "outbound", summary: "judge our outbound numbers from the CDRs: short calls, unreachable numbers, volume", run: runOutbound})
}

const outboundUsage = `usage:
  callscreen outbound --cdr FILE  [--since 7d] [--json] [--min-calls N] [--config FILE]
  callscreen outbound --dsn DSN   [--since 7d] [--json] [--min-calls N] [--config FILE]

Reads the call detail records of the calls we placed (Asterisk's cdr_csv
Master.csv, or FreePBX's asteriskcdrdb.cdr table) and judges each of our
numbers as carriers' analytics do: the share of answered calls shorter than
6 s, of calls to unreachable numbers, and the calls a day. Our numbers are
own_numbers from the configuration, else every number seen placing calls.
Thresholds, the CSV layout, the time zone and the database password
(outbound.password, $CALLSCREEN_OUTBOUND_PASSWORD) come from the
configuration's outbound section; see docs/outbound-health.md.

--since takes days (7d: today and the 6 days before), a duration (36h) or
a date (2026-12-01). Exit status: 0 when read, 1 when the CDRs could not
be read, 2 for bad usage.`

// runOutbound prints the health of our outbound numbers.
func runOutbound(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("callscreen outbound", outboundUsage, stderr)
	path := configFlag(fs)
	file := fs.String("cdr", "", "cdr_csv Master.csv `file` to read")
	dsn := fs.String("dsn", "", "FreePBX CDR database `dsn`, user@tcp(host:3306)/asteriskcdrdb (password from the configuration or $CALLSCREEN_OUTBOUND_PASSWORD)")
	since := fs.String("since", "", "first day judged: `Nd`, a duration or a date (default: outbound.window, 7d)")
	asJSON := fs.Bool("json", false, "print a JSON list of numbers instead of a table")
	minCalls := fs.Int("min-calls", 0, "judge numbers with at least `N` calls (default: outbound.thresholds.min_calls, 20)")
	pos, ok := parseArgs(fs, args)
	if !ok {
		return 2
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "callscreen outbound: unexpected argument %q\n", pos[0])
		fs.Usage()
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "callscreen outbound: %v\n", err)
		return 1
	}
	o := &cfg.Outbound
	switch {
	case *file != "" && *dsn != "":
		fmt.Fprintln(stderr, "callscreen outbound: --cdr and --dsn are both set: give one")
		return 2
	case *file != "":
		o.CDRFile, o.DSN = *file, ""
	case *dsn != "":
		o.CDRFile, o.DSN = "", config.Secret(*dsn)
	case !o.Enabled():
		fmt.Fprintln(stderr, "callscreen outbound: no CDRs to read: give --cdr FILE or --dsn DSN (or set outbound.cdr_file or outbound.dsn)")
		fs.Usage()
		return 2
	}
	if *minCalls < 0 {
		fmt.Fprintf(stderr, "callscreen outbound: --min-calls %d: must not be negative\n", *minCalls)
		return 2
	}
	if *minCalls > 0 {
		o.Thresholds.MinCalls = *minCalls
	}
	now := time.Now()
	start, err := windowStart(*since, o.Window, now, o.Location())
	if err != nil {
		fmt.Fprintf(stderr, "callscreen outbound: --since %v\n", err)
		return 2
	}

	agg := outbound.New(service.OutboundOptions(cfg))
	agg.Since(start)
	add := func(r *cdr.Record) error { agg.Add(r); return nil }
	var st cdr.Stats
	where := o.CDRFile
	if o.DSN.IsSet() {
		r, err := cdrdb.Open(service.CDRDBOptions(*o))
		if err != nil {
			fmt.Fprintf(stderr, "callscreen outbound: --dsn: %v\n", err)
			return 2
		}
		defer r.Close()
		where = r.Where()
		r.Since(start)
		st, err = r.Read(ctx, add)
		if err != nil {
			fmt.Fprintf(stderr, "callscreen outbound: %v\n", err)
			return 1
		}
	} else {
		st, err = cdr.ReadCSVFile(o.CDRFile, service.CDRCSVOptions(*o), add)
		if err != nil {
			var le *cdr.LayoutError
			if errors.As(err, &le) {
				err = fmt.Errorf("%s: %w", o.CDRFile, err)
			}
			fmt.Fprintf(stderr, "callscreen outbound: %v\n", err)
			return 1
		}
	}
	rep := agg.Report()
	c := agg.Counts()
	fmt.Fprintf(stderr, "read %d rows from %s since %s: %d calls from %d numbers; %d other rows, %d calls before the window, %d from numbers not ours; %d malformed rows skipped\n",
		st.Rows, where, start.Format(time.DateOnly), c.Calls, len(rep.Numbers), c.OtherRows, c.BeforeWindow, c.NotOwn+c.OverCap, st.Malformed)
	for _, b := range st.Bad {
		fmt.Fprintf(stderr, "  %s: %s\n", b.Where, b.Err)
	}
	if more := st.Malformed - int64(len(st.Bad)); more > 0 {
		fmt.Fprintf(stderr, "  and %d more\n", more)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep.Numbers); err != nil {
			fmt.Fprintf(stderr, "callscreen outbound: %v\n", err)
			return 1
		}
		return 0
	}
	printOutbound(stdout, rep)
	return 0
}

// windowStart reads --since: "7d" is today and the 6 days before, a
// duration counts back from now, a date is that day; "" is the window.
func windowStart(since string, window time.Duration, now time.Time, loc *time.Location) (time.Time, error) {
	days := int(window.Hours() / 24)
	switch {
	case since == "":
	case strings.HasSuffix(since, "d"):
		n, err := strconv.Atoi(strings.TrimSuffix(since, "d"))
		if err != nil || n < 1 || n > 3660 {
			return time.Time{}, fmt.Errorf("%q: want a number of days from 1, such as 7d", since)
		}
		days = n
	default:
		if d, err := time.ParseDuration(since); err == nil && d > 0 {
			return now.Add(-d), nil
		}
		if t, err := time.ParseInLocation(time.DateOnly, since, loc); err == nil {
			return t, nil
		}
		if t, err := time.Parse(time.RFC3339, since); err == nil {
			return t, nil
		}
		return time.Time{}, fmt.Errorf("%q: want days (7d), a duration (36h) or a date (2026-12-01)", since)
	}
	y, m, d := now.In(loc).Date()
	return time.Date(y, m, d-(days-1), 0, 0, 0, 0, loc), nil
}

// printOutbound writes the report as a table, then each number's verdict
// in words.
func printOutbound(w io.Writer, rep outbound.Report) {
	if len(rep.Numbers) == 0 {
		fmt.Fprintln(w, "no outbound calls in the window")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NUMBER\tCALLS\tANSWERED\tSHORT\tUNREACHABLE\tBUSY\tNO ANSWER\tDESTINATIONS\tPER DAY\tVERDICT")
	pc := func(x float64) string { return fmt.Sprintf("%.0f%%", x*100) }
	for _, h := range rep.Numbers {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d (%s)\t%d (%s)\t%d\t%d\t%d\t%.1f\t%s\n", h.Number, h.Calls, h.Answered, h.Short, pc(h.ShortShare),
			h.Unreachable, pc(h.UnreachableShare), h.Busy, h.NoAnswer, h.Destinations, h.CallsPerDay, h.Verdict)
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	for _, h := range rep.Numbers {
		fmt.Fprintf(w, "%s  %s\n", h.Number, h.Summary)
	}
}
