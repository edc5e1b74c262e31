package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/callscreen/callscreen/admin"
	"github.com/callscreen/callscreen/config"
	"github.com/callscreen/callscreen/reputation/feed"
	"github.com/callscreen/callscreen/service"
)

func init() {
	register(command{name: "feed", summary: "pull or import the daily spam-report feed", run: runFeed})
}

const feedUsage = `usage:
  callscreen feed pull [--format json|ftc] [--tenant T] [--config FILE] [--wait D]
  callscreen feed import FILE [--format json|ftc] [--tenant T] [--config FILE] [--wait D]
  callscreen feed status [--config FILE]

pull fetches feed.url (with feed.headers) now, as the daily scheduler in
serve does at feed.time. import reads a JSON report or the FTC "Do Not Call
reported calls" CSV (FILE "-" is stdin). Reports merge into what is held:
each number keeps its latest report, its report count and whether a report
said robocall, for feed.retention. A malformed row is counted and skipped
with its line number; a file that cannot be read to the end changes
nothing.

pull and import read the configuration the server runs with and, when its
admin API answers, act through it (the reports apply to the next call);
otherwise they write the store themselves: Redis when redis.addrs is set
(running instances load it within seconds), else data_dir/feed.db under the
data_dir lock (see "callscreen lists -h" for the refusals). status reads
the store.`

// runFeed runs the feed subcommands.
func runFeed(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("callscreen feed", feedUsage, stderr)
	path := configFlag(fs)
	wait := waitFlag(fs)
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
	verb := pos[0]
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
	if verb == "pull" && cfg.Feed.URL == "" {
		fmt.Fprintln(stderr, "callscreen feed pull: feed.url is not set")
		return 1
	}
	var in io.Reader
	if verb == "import" {
		r, closeIn, err := openInput(pos[1])
		if err != nil {
			fmt.Fprintf(stderr, "callscreen feed import: %v\n", err)
			return 1
		}
		defer closeIn()
		in = r
	}

	var tgt *target
	if verb == "status" {
		// status reads the store, wherever a server runs.
		tgt, err = storeTarget(cfg, stderr, feed.BoltFile)
	} else {
		tgt, err = openTarget(ctx, cfg, reach{name: "callscreen feed " + verb, args: append([]string{"feed"}, args...), files: []string{feed.BoltFile}, wait: *wait, stderr: stderr})
	}
	if err != nil {
		fmt.Fprintf(stderr, "callscreen feed %s: %v\n", verb, err)
		return 1
	}
	defer tgt.close()
	var b admin.FeedLoader = apiFeed{tgt.client}
	var fd *feed.Feed
	if tgt.client == nil {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		fd = service.OpenFeed(lctx, cfg, tgt.rdb, slog.New(slog.DiscardHandler), nil)
		if !fd.Loaded() {
			fmt.Fprintf(stderr, "callscreen feed: cannot load the stored feed from %s\n", tgt.where)
			return 1
		}
		b = admin.Feed(fd, service.FeedPullOptions(cfg))
	}
	if verb == "status" {
		fmt.Fprintf(stdout, "feed: %d numbers in the shared feed (%s)\n", fd.Len(""), tgt.where)
		return 0
	}
	o := admin.FeedImport{Format: string(f), Tenant: *tenant}
	lctx, cancel := context.WithTimeout(ctx, time.Hour)
	defer cancel()
	var res admin.FeedLoaded
	name, did := "feed", "pulled"
	if verb == "pull" {
		res, err = b.Pull(lctx, o)
	} else {
		p := newProgress(stderr, "feed import")
		res, err = b.Import(lctx, p.reader(in), o)
		p.done()
		name, did = pos[1], "imported"
	}
	printRowErrors(stderr, name, res)
	if err != nil {
		fmt.Fprintf(stderr, "callscreen feed %s: %v; the feed held before is unchanged\n", verb, err)
		return 1
	}
	printFeedSummary(stdout, did, res, tgt.where)
	return 0
}

// apiFeed acts through the running server.
type apiFeed struct{ c *admin.Client }

func (a apiFeed) Import(ctx context.Context, r io.Reader, o admin.FeedImport) (admin.FeedLoaded, error) {
	return a.c.ImportFeed(ctx, r, o)
}

func (a apiFeed) Pull(ctx context.Context, o admin.FeedImport) (admin.FeedLoaded, error) {
	return a.c.PullFeed(ctx, o)
}

func printRowErrors(w io.Writer, name string, st admin.FeedLoaded) {
	for i, e := range st.Bad {
		if i == 20 {
			break
		}
		fmt.Fprintf(w, "%s:%d: %s\n", name, e.Line, e.Error)
	}
	if st.Rejected > 20 {
		fmt.Fprintf(w, "... and %d more rejected rows\n", st.Rejected-20)
	}
}

func printFeedSummary(w io.Writer, did string, st admin.FeedLoaded, where string) {
	rate := float64(st.Rows) / max(st.Seconds, 1e-3)
	fmt.Fprintf(w, "%s %d rows (%d accepted, %d rejected, %d numbers) in %s, %.0f rows/s; %d numbers held in %s\n",
		did, st.Rows, st.Accepted, st.Rejected, st.Numbers, (time.Duration(st.Seconds * float64(time.Second))).Round(time.Millisecond), rate, st.Held, where)
}
