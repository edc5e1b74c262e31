package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/callscreen/callscreen/admin"
	"github.com/callscreen/callscreen/config"
	"github.com/callscreen/callscreen/reputation/lists"
	"github.com/callscreen/callscreen/service"
)

func init() {
	register(command{name: "lists", summary: "import, export, add to, remove from and check the must-pass / must-block lists", run: runLists})
}

const listsUsage = `usage:
  callscreen lists import FILE [--list allow|block] [--tenant T] [--by NAME] [--config FILE] [--wait D]
  callscreen lists export [--tenant T | --all] [--format native|freepbx] [--config FILE]
  callscreen lists add ENTRY --list allow|block [--tenant T] [--note TEXT] [--expires WHEN] [--by NAME] [--config FILE] [--wait D]
  callscreen lists remove ENTRY --list allow|block [--tenant T] [--config FILE] [--wait D]
  callscreen lists check FILE [--list allow|block] [--config FILE]

ENTRY is a number (+12125551234, or national form), a prefix (+1900*), a
range (+12125550100..+12125550199) or a caller-name pattern
(name:*CAR WARRANTY*). import reads CSV: the native layout (header with
tenant, list, entry, note, added_by, added, expires) or the FreePBX
Blacklist export (number, description; rows go to --list, default block).
FILE "-" is stdin. WHEN is a date (2026-12-31), a time (RFC 3339) or a
duration from now (72h). check validates a list file (lists.allow_file
syntax) and prints bad lines.

The commands read the configuration the server runs with (--config,
default $CALLSCREEN_CONFIG, else /etc/callscreen/callscreen.yaml when it
exists). When that server's admin API answers (admin.listen, with
admin.token or CALLSCREEN_ADMIN_TOKEN), they act through it: a change
applies to the next call. Otherwise they write the store themselves:
Redis when redis.addrs is set (every instance sees a change within a
second), else data_dir/lists.db under the data_dir lock (waiting up to
--wait for another command that holds it). They refuse to write data_dir
as a user other than its owner when that would leave the server a file it
cannot read, and when a server holds data_dir but does not answer. The
list files are edited by hand and are not touched.`

// listsBackend is where the lists commands act: the running server
// (apiLists) or the store (storeLists).
type listsBackend interface {
	Add(ctx context.Context, e admin.ListEntry) (admin.ListEntry, error)
	Remove(ctx context.Context, tenant, list, value string) error
	admin.ListTransfer
}

// listsArgs is what each lists subcommand takes besides its flags.
var listsArgs = map[string]string{"import": "FILE", "export": "", "add": "ENTRY", "remove": "ENTRY", "check": "FILE"}

// listsArgsError says what is wrong with a subcommand's arguments, or "".
func listsArgsError(verb string, args []string) string {
	want, ok := listsArgs[verb]
	switch {
	case !ok:
		return fmt.Sprintf("callscreen lists: unknown command %q: want import, export, add, remove or check (-h for help)", verb)
	case want == "" && len(args) > 0:
		return fmt.Sprintf("callscreen lists %s: unexpected argument %q", verb, args[0])
	case want == "" || len(args) == 1:
		return ""
	case len(args) == 0:
		return fmt.Sprintf("callscreen lists %s: want one %s argument (-h for help)", verb, want)
	}
	msg := fmt.Sprintf("callscreen lists %s: want one %s argument, got %d: %q", verb, want, len(args), args)
	if (verb == "add" || verb == "remove") && len(args) == 2 && lists.List(args[0]).Valid() {
		msg += fmt.Sprintf("; the list is a flag: callscreen lists %s %s --list %s", verb, args[1], args[0])
	}
	return msg
}

// runLists runs the lists subcommands.
func runLists(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("callscreen lists", listsUsage, stderr)
	path := configFlag(fs)
	wait := waitFlag(fs)
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
	if msg := listsArgsError(verb, pos[1:]); msg != "" {
		fmt.Fprintln(stderr, msg)
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
	if verb == "export" && *format != lists.LayoutNative && *format != lists.LayoutFreePBX {
		fmt.Fprintf(stderr, "callscreen lists export: --format %q: want %s or %s\n", *format, lists.LayoutNative, lists.LayoutFreePBX)
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
	// What the command changes is read before anything is opened: a bad
	// entry waits for nothing.
	var entry admin.ListEntry
	if verb == "add" || verb == "remove" {
		e, err := lists.ParseEntry(pos[1], region)
		if err != nil {
			fmt.Fprintf(stderr, "callscreen lists %s: %v\n", verb, err)
			return 1
		}
		entry = admin.ListEntry{List: string(list), Value: e.String(), Tenant: *tenant}
		if verb == "add" {
			entry.Note, entry.AddedBy = *note, *by
			if *expires != "" {
				if entry.Expires, err = parseWhen(*expires, time.Now()); err != nil {
					fmt.Fprintf(stderr, "callscreen lists add: --expires: %v\n", err)
					return 2
				}
			}
		}
	}
	var in io.Reader
	if verb == "import" {
		r, closeIn, err := openInput(pos[1])
		if err != nil {
			fmt.Fprintf(stderr, "callscreen lists import: %v\n", err)
			return 1
		}
		defer closeIn()
		in = r
	}

	r := reach{name: "callscreen lists " + verb, args: append([]string{"lists"}, args...), wait: *wait, stderr: stderr}
	if verb != "export" {
		r.files = []string{lists.BoltFile}
	}
	tgt, err := openTarget(ctx, cfg, r)
	if err != nil {
		fmt.Fprintf(stderr, "callscreen lists %s: %v\n", verb, err)
		return 1
	}
	defer tgt.close()
	var b listsBackend = apiLists{tgt.client}
	if tgt.client == nil {
		store := service.ListStore(cfg, tgt.rdb)
		b = storeLists{ListTransfer: admin.ListTransfers(store, store, region), store: store, region: region}
	}

	switch verb {
	case "import":
		return listsImport(ctx, b, tgt.where, pos[1], in, admin.ListImport{List: string(list), Tenant: *tenant, AddedBy: *by}, stdout, stderr)
	case "export":
		ectx, cancel := context.WithTimeout(ctx, time.Hour)
		defer cancel()
		res, err := b.Export(ectx, stdout, admin.ListExport{Tenant: *tenant, All: *all, Layout: *format})
		if err != nil {
			fmt.Fprintf(stderr, "callscreen lists export: %v\n", err)
			return 1
		}
		if res.Skipped > 0 {
			fmt.Fprintf(stderr, "exported %d entries; %d left out (the FreePBX layout holds must-block numbers only)\n", res.Written, res.Skipped)
		}
		return 0
	}
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	did := "added"
	if verb == "remove" {
		did = "removed"
		err = b.Remove(actx, entry.Tenant, entry.List, entry.Value)
	} else {
		entry, err = b.Add(actx, entry)
	}
	if err != nil {
		fmt.Fprintf(stderr, "callscreen lists %s: %v\n", verb, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s %s on the %s list of tenant %s (%s)\n", did, entry.Value, list, tenantLabel(*tenant), tgt.where)
	return 0
}

// apiLists acts through the running server.
type apiLists struct{ c *admin.Client }

func (a apiLists) Add(ctx context.Context, e admin.ListEntry) (admin.ListEntry, error) {
	return a.c.AddListEntry(ctx, e)
}

func (a apiLists) Remove(ctx context.Context, tenant, list, value string) error {
	return a.c.RemoveListEntry(ctx, tenant, list, value)
}

func (a apiLists) Import(ctx context.Context, r io.Reader, o admin.ListImport) (admin.ListImported, error) {
	return a.c.ImportLists(ctx, r, o)
}

func (a apiLists) Export(ctx context.Context, w io.Writer, o admin.ListExport) (admin.ListExported, error) {
	return a.c.ExportLists(ctx, w, o)
}

// storeLists writes the store itself, with no server running.
type storeLists struct {
	admin.ListTransfer
	store  lists.Store
	region string
}

func (s storeLists) change(e admin.ListEntry, del bool) (lists.Change, error) {
	le, err := lists.ParseEntry(e.Value, s.region)
	if err != nil {
		return lists.Change{}, err
	}
	le.List, le.Tenant = lists.List(e.List), e.Tenant
	if !del {
		le.Note, le.AddedBy, le.Expires, le.Origin = e.Note, e.AddedBy, e.Expires, "cli"
		le.Added = time.Now().UTC().Truncate(time.Second)
	}
	return lists.Change{Entry: le, Delete: del}, nil
}

func (s storeLists) Add(ctx context.Context, e admin.ListEntry) (admin.ListEntry, error) {
	c, err := s.change(e, false)
	if err == nil {
		err = s.store.Apply(ctx, []lists.Change{c})
	}
	return e, err
}

func (s storeLists) Remove(ctx context.Context, tenant, list, value string) error {
	c, err := s.change(admin.ListEntry{List: list, Value: value, Tenant: tenant}, true)
	if err == nil {
		err = s.store.Apply(ctx, []lists.Change{c})
	}
	return err
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

func listsImport(ctx context.Context, b listsBackend, where, name string, in io.Reader, o admin.ListImport, stdout, stderr io.Writer) int {
	p := newProgress(stderr, "lists import")
	ictx, cancel := context.WithTimeout(ctx, time.Hour)
	defer cancel()
	res, err := b.Import(ictx, p.reader(in), o)
	p.done()
	for i, e := range res.Bad {
		if i == 20 {
			break
		}
		fmt.Fprintf(stderr, "%s:%d: %s\n", name, e.Line, e.Error)
	}
	if res.Rejected > 20 {
		fmt.Fprintf(stderr, "... and %d more bad rows\n", res.Rejected-20)
	}
	if err != nil {
		fmt.Fprintf(stderr, "callscreen lists import: %v (%d entries stored before the error, in %s)\n", err, res.Stored, where)
		return 1
	}
	fmt.Fprintf(stdout, "imported %d entries (%s layout), %d rows rejected, in %s into %s\n",
		res.Stored, res.Layout, res.Rejected, p.elapsed().Round(time.Millisecond), where)
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

// progress shows an import's progress on a terminal (bytes read and the
// rate), refreshed twice a second; elsewhere it stays quiet and the
// command prints one summary line.
type progress struct {
	w     io.Writer
	what  string
	tty   bool
	start time.Time
	mu    sync.Mutex
	read  int64
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

// reader counts what is read from r.
func (p *progress) reader(r io.Reader) io.Reader { return progressReader{r, p} }

type progressReader struct {
	r io.Reader
	p *progress
}

func (pr progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.p.update(int64(n))
	return n, err
}

func (p *progress) update(n int64) {
	if !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.read += n
	now := time.Now()
	if now.Sub(p.last) < 500*time.Millisecond {
		return
	}
	p.last = now
	rate := float64(p.read) / max(now.Sub(p.start).Seconds(), 1e-3)
	fmt.Fprintf(p.w, "\r%s: %.1f MB read, %.1f MB/s   ", p.what, float64(p.read)/1e6, rate/1e6)
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
