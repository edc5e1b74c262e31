package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/callscreen/callscreen/config"
	"github.com/callscreen/callscreen/redisconn"
	"github.com/callscreen/callscreen/reputation/lists"
	"github.com/callscreen/callscreen/service"
)

func init() {
	register(command{name: "lists", summary: "import, export, add to, remove from and check the must-pass / must-block lists", run: runLists})
}

const listsUsage = `usage:
  callscreen lists import FILE [--list allow|block] [--tenant T] [--by NAME] [--config FILE]
  callscreen lists export [--tenant T | --all] [--format native|freepbx] [--config FILE]
  callscreen lists add ENTRY --list allow|block [--tenant T] [--note TEXT] [--expires WHEN] [--by NAME] [--config FILE]
  callscreen lists remove ENTRY --list allow|block [--tenant T] [--config FILE]
  callscreen lists check FILE [--list allow|block] [--config FILE]

ENTRY is a number (+12125551234, or national form), a prefix (+1900*), a
range (+12125550100..+12125550199) or a caller-name pattern
(name:*CAR WARRANTY*). import reads CSV: the native layout (header with
tenant, list, entry, note, added_by, added, expires) or the FreePBX
Blacklist export (number, description; rows go to --list, default block).
WHEN is a date (2026-12-31), a time (RFC 3339) or a duration from now (72h).
check validates a list file (lists.allow_file syntax) and prints bad lines.

Entries are stored in Redis when redis.addrs is set (every instance sees a
change within a second), else in data_dir/lists.db (a running serve loads
it on SIGHUP or restart). The list files are edited by hand and are not
touched.`

// runLists runs the lists subcommands.
func runLists(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("callscreen lists", listsUsage, stderr)
	path := configFlag(fs)
	listName := fs.String("list", "", "`list`: allow or block")
	tenant := fs.String("tenant", "", "`tenant` (default: the default tenant)")
	all := fs.Bool("all", false, "export every tenant")
	by := fs.String("by", os.Getenv("USER"), "`name` recorded as who added the entries")
	note := fs.String("note", "", "`text` kept with the entry")
	expires := fs.String("expires", "", "`when` the entry stops matching: date, RFC 3339 time or duration")
	format := fs.String("format", lists.LayoutNative, "export `layout`: native or freepbx")
	pos, ok := parseArgs(fs, args)
	if !ok {
		return 2
	}
	if len(pos) == 0 {
		fs.Usage()
		return 2
	}
	verb := pos[0]
	want := map[string]int{"import": 2, "export": 1, "add": 2, "remove": 2, "check": 2}
	if n, ok := want[verb]; !ok || len(pos) != n {
		fs.Usage()
		return 2
	}
	list := lists.List(*listName)
	if list != "" && !list.Valid() {
		fmt.Fprintf(stderr, "callscreen lists: --list %q: want allow or block\n", *listName)
		return 2
	}
	if (verb == "add" || verb == "remove") && list == "" {
		fmt.Fprintf(stderr, "callscreen lists %s: --list allow or --list block is required\n", verb)
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "callscreen lists: %v\n", err)
		return 1
	}
	region := cfg.Number.DefaultRegion

	if verb == "check" {
		return listsCheck(pos[1], list, region, stdout, stderr)
	}

	store, where, closeFn, err := openListStore(cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "callscreen lists: %v\n", err)
		return 1
	}
	defer closeFn()

	switch verb {
	case "import":
		return listsImport(ctx, store, where, pos[1], lists.CSVOptions{Region: region, List: list, Tenant: *tenant, AddedBy: *by, Added: time.Now().UTC()}, stdout, stderr)
	case "export":
		return listsExport(ctx, store, *tenant, *all, *format, region, stdout, stderr)
	}
	e, err := lists.ParseEntry(pos[1], region)
	if err != nil {
		fmt.Fprintf(stderr, "callscreen lists %s: %v\n", verb, err)
		return 1
	}
	e.List, e.Tenant = list, *tenant
	c := lists.Change{Entry: e}
	if verb == "remove" {
		c.Delete = true
	} else {
		e.Note, e.AddedBy, e.Added, e.Origin = *note, *by, time.Now().UTC().Truncate(time.Second), "cli"
		if *expires != "" {
			if e.Expires, err = parseWhen(*expires, time.Now()); err != nil {
				fmt.Fprintf(stderr, "callscreen lists add: --expires: %v\n", err)
				return 2
			}
		}
		c.Entry = e
	}
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := store.Apply(actx, []lists.Change{c}); err != nil {
		fmt.Fprintf(stderr, "callscreen lists %s: %v\n", verb, err)
		return 1
	}
	did := "added"
	if verb == "remove" {
		did = "removed"
	}
	fmt.Fprintf(stdout, "%s %s on the %s list of tenant %s (%s)\n", did, e.String(), list, tenantLabel(*tenant), where)
	return 0
}

func tenantLabel(t string) string {
	if t == "" {
		return "default"
	}
	return t
}

// parseWhen reads a date, an RFC 3339 time or a duration from now.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(d).UTC().Truncate(time.Second), nil
	}
	for _, l := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q: want a date (2026-12-31), an RFC 3339 time or a duration (72h)", s)
}

// openListStore opens the store serve uses for cfg. A store in memory would
// lose the entries when the command exits, so it is refused.
func openListStore(cfg *config.Config, stderr io.Writer) (lists.Store, string, func(), error) {
	redisconn.UseSlog(config.NewLogger(config.Log{Level: "warn", Format: cfg.Log.Format}, stderr))
	rdb, err := redisconn.New(service.RedisOptions(cfg))
	if err != nil {
		return nil, "", nil, fmt.Errorf("redis: %w", err)
	}
	if rdb == nil && cfg.DataDir == "" {
		return nil, "", nil, errors.New("neither redis.addrs nor data_dir is set: the entries would be lost; set one of them")
	}
	closeFn := func() {
		if rdb != nil {
			_ = rdb.Close()
		}
	}
	if rdb != nil {
		return service.ListStore(cfg, rdb), "redis " + service.RedisOptions(cfg).Mode(), closeFn, nil
	}
	return service.ListStore(cfg, nil), cfg.DataDir + "/" + lists.BoltFile, closeFn, nil
}

func listsCheck(path string, list lists.List, region string, stdout, stderr io.Writer) int {
	if list == "" {
		list = lists.Block
	}
	entries, bad, err := lists.ParseFile(path, list, region)
	if err != nil {
		fmt.Fprintf(stderr, "callscreen lists check: %v\n", err)
		return 1
	}
	for _, b := range bad {
		fmt.Fprintf(stdout, "%s:%d: %v\n", path, b.Line, b.Err)
	}
	fmt.Fprintf(stdout, "%s: %d entries, %d bad lines\n", path, len(entries), len(bad))
	if len(bad) > 0 {
		return 1
	}
	return 0
}

// importBatch is how many changes one store write carries.
const importBatch = 10_000

func listsImport(ctx context.Context, store lists.Store, where, path string, opts lists.CSVOptions, stdout, stderr io.Writer) int {
	in, closeIn, err := openInput(path)
	if err != nil {
		fmt.Fprintf(stderr, "callscreen lists import: %v\n", err)
		return 1
	}
	defer closeIn()
	p := newProgress(stderr, "lists import")
	rejected := 0
	opts.OnBad = func(lists.LineError) { rejected++ }
	var batch []lists.Change
	stored := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		actx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		if err := store.Apply(actx, batch); err != nil {
			return err
		}
		stored += len(batch)
		batch = batch[:0]
		return nil
	}
	rows := 0
	layout, bad, err := lists.ReadCSV(in, opts, func(e lists.Entry) error {
		rows++
		batch = append(batch, lists.Change{Entry: e})
		p.update(rows+rejected, rejected)
		if len(batch) == importBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	p.done()
	for i, b := range bad {
		if i == 20 {
			fmt.Fprintf(stderr, "... and %d more bad rows\n", len(bad)-20)
			break
		}
		fmt.Fprintf(stderr, "%s:%d: %v\n", path, b.Line, b.Err)
	}
	if err != nil {
		fmt.Fprintf(stderr, "callscreen lists import: %v (%d entries stored before the error)\n", err, stored)
		return 1
	}
	fmt.Fprintf(stdout, "imported %d entries (%s layout), %d rows rejected, in %s into %s\n",
		stored, layout, len(bad), p.elapsed().Round(time.Millisecond), where)
	return 0
}

func listsExport(ctx context.Context, store lists.Store, tenant string, all bool, layout, region string, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	tenants := []string{tenant}
	if all {
		ts, err := store.Tenants(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "callscreen lists export: %v\n", err)
			return 1
		}
		tenants = ts
	}
	var loadErr error
	entries := func(yield func(*lists.Entry) bool) {
		for _, t := range tenants {
			stop := errors.New("stop")
			err := store.Load(ctx, t, func(e lists.Entry) error {
				if !yield(&e) {
					return stop
				}
				return nil
			})
			if err != nil {
				if err != stop {
					loadErr = err
				}
				return
			}
		}
	}
	n, skipped, err := lists.WriteCSV(stdout, layout, region, entries)
	if err == nil {
		err = loadErr
	}
	if err != nil {
		fmt.Fprintf(stderr, "callscreen lists export: %v\n", err)
		return 1
	}
	if skipped > 0 {
		fmt.Fprintf(stderr, "exported %d entries; %d left out (the FreePBX layout holds must-block numbers only)\n", n, skipped)
	}
	return 0
}

// openInput opens a file, or stdin for "-".
func openInput(path string) (io.Reader, func(), error) {
	if path == "-" {
		return os.Stdin, func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { _ = f.Close() }, nil
}

// progress shows an import's progress on a terminal (rows, rows/s,
// rejected), refreshed twice a second; elsewhere it stays quiet and the
// command prints one summary line.
type progress struct {
	w     io.Writer
	what  string
	tty   bool
	start time.Time
	mu    sync.Mutex
	last  time.Time
	shown bool
}

func newProgress(w io.Writer, what string) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return &progress{w: w, what: what, tty: tty, start: time.Now()}
}

func (p *progress) update(rows, rejected int) {
	if !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < 500*time.Millisecond {
		return
	}
	p.last = now
	rate := float64(rows) / max(now.Sub(p.start).Seconds(), 1e-3)
	fmt.Fprintf(p.w, "\r%s: %d rows, %.0f rows/s, %d rejected   ", p.what, rows, rate, rejected)
	p.shown = true
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r"+strings.Repeat(" ", 72)+"\r")
	}
}

func (p *progress) elapsed() time.Duration { return time.Since(p.start) }
