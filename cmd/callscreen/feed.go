package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/callscreen/callscreen/config"
	"github.com/callscreen/callscreen/redisconn"
	"github.com/callscreen/callscreen/reputation/feed"
	"github.com/callscreen/callscreen/service"
)

func init() {
	register(command{name: "feed", summary: "pull or import the daily spam-report feed", run: runFeed})
}

const feedUsage = `usage:
  callscreen feed pull [--tenant T] [--config FILE]
  callscreen feed import FILE [--format json|ftc] [--tenant T] [--config FILE]
  callscreen feed status [--config FILE]

pull fetches feed.url (with feed.headers) now, as the daily scheduler in
serve does at feed.time. import reads a JSON report or the FTC "Do Not Call
reported calls" CSV (FILE "-" is stdin). Reports merge into what is held:
each number keeps its latest report, its report count and whether a report
said robocall, for feed.retention. A malformed row is counted and skipped
with its line number; a file that cannot be read to the end changes
nothing.

The feed is stored in Redis when redis.addrs is set (running instances load
it within seconds), else in data_dir/feed.db (a running serve loads it
within seconds too; callscreen check sees it at once).`

// runFeed runs the feed subcommands.
func runFeed(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("callscreen feed", feedUsage, stderr)
	path := configFlag(fs)
	formatName := fs.String("format", "", "input `format`: json or ftc (default: feed.format)")
	tenant := fs.String("tenant", "", "`tenant` the reports are for (default: the shared feed every tenant uses)")
	pos, ok := parseArgs(fs, args)
	if !ok {
		return 2
	}
	want := map[string]int{"pull": 1, "import": 2, "status": 1}
	if len(pos) == 0 || want[pos[0]] != len(pos) {
		fs.Usage()
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "callscreen feed: %v\n", err)
		return 1
	}
	format := cfg.Feed.Format
	if *formatName != "" {
		format = *formatName
	}
	f, err := feed.ParseFormat(format)
	if err != nil {
		fmt.Fprintf(stderr, "callscreen feed: --format: %v\n", err)
		return 2
	}

	redisconn.UseSlog(config.NewLogger(config.Log{Level: "warn", Format: cfg.Log.Format}, stderr))
	rdb, err := redisconn.New(service.RedisOptions(cfg))
	if err != nil {
		fmt.Fprintf(stderr, "callscreen feed: redis: %v\n", err)
		return 1
	}
	if rdb != nil {
		defer rdb.Close()
	} else if cfg.DataDir == "" {
		fmt.Fprintln(stderr, "callscreen feed: neither redis.addrs nor data_dir is set: the feed would be lost; set one of them")
		return 1
	}
	where := cfg.DataDir + "/" + feed.BoltFile
	if rdb != nil {
		where = "redis " + service.RedisOptions(cfg).Mode()
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	fd := service.OpenFeed(lctx, cfg, rdb, slog.New(slog.DiscardHandler), nil)
	if !fd.Loaded() {
		fmt.Fprintf(stderr, "callscreen feed: cannot load the stored feed from %s\n", where)
		return 1
	}

	switch pos[0] {
	case "status":
		fmt.Fprintf(stdout, "feed: %d numbers in the shared feed (%s)\n", fd.Len(""), where)
		return 0
	case "pull":
		if cfg.Feed.URL == "" {
			fmt.Fprintln(stderr, "callscreen feed pull: feed.url is not set")
			return 1
		}
		o := service.FeedPullOptions(cfg)
		o.Tenant, o.Format = *tenant, f
		st, err := fd.Pull(ctx, o)
		printRowErrors(stderr, "feed", st)
		if err != nil {
			fmt.Fprintf(stderr, "callscreen feed pull: %v; the feed held before is unchanged\n", err)
			return 1
		}
		printFeedSummary(stdout, "pulled", st, fd.Len(*tenant), where)
		return 0
	}
	in, closeIn, err := openInput(pos[1])
	if err != nil {
		fmt.Fprintf(stderr, "callscreen feed import: %v\n", err)
		return 1
	}
	defer closeIn()
	p := newProgress(stderr, "feed import")
	st, err := fd.Import(ctx, in, feed.ImportOptions{Format: f, Tenant: *tenant, Progress: func(s feed.Stats) { p.update(s.Rows, s.Rejected) }})
	p.done()
	printRowErrors(stderr, pos[1], st)
	if err != nil {
		fmt.Fprintf(stderr, "callscreen feed import: %v; the feed held before is unchanged\n", err)
		return 1
	}
	printFeedSummary(stdout, "imported", st, fd.Len(*tenant), where)
	return 0
}

func printRowErrors(w io.Writer, name string, st feed.Stats) {
	for i, e := range st.Errors {
		if i == 20 {
			break
		}
		fmt.Fprintf(w, "%s:%d: %v\n", name, e.Line, e.Err)
	}
	if st.Rejected > 20 {
		fmt.Fprintf(w, "... and %d more rejected rows\n", st.Rejected-20)
	}
}

func printFeedSummary(w io.Writer, did string, st feed.Stats, held int, where string) {
	rate := float64(st.Rows) / max(st.Elapsed.Seconds(), 1e-3)
	fmt.Fprintf(w, "%s %d rows (%d accepted, %d rejected, %d numbers) in %s, %.0f rows/s; %d numbers held in %s\n",
		did, st.Rows, st.Accepted, st.Rejected, st.Numbers, st.Elapsed.Round(time.Millisecond), rate, held, where)
}
