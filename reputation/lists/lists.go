package lists

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
)

// Options configure Lists.
type Options struct {
	// AllowFile and BlockFile are the list files; "" is none.
	AllowFile, BlockFile string
	// Region reads numbers written in national form; "" is "US".
	Region string
	// Store keeps the entries added at run time, per tenant; nil keeps
	// them in memory only (NewMemStore).
	Store Store
	// LoadTimeout bounds the first load from Store in New; 0 is 30s.
	LoadTimeout time.Duration
	// Logger receives bad lines and reload failures; nil discards.
	Logger *slog.Logger
	// Metrics, nil for none.
	Metrics *Metrics
	// Now is the clock entries expire by; nil is time.Now.
	Now func() time.Time
	// Debounce is how long Watch waits after a file event before it
	// reloads, so an editor's several writes load once; 0 is 100ms.
	Debounce time.Duration
	// Quiet is how long a list file must stay unchanged (same size and
	// modification time) before Watch lets a change take entries off its
	// list; 0 is 30s. A file rewritten in place (`cat > block.txt`, a
	// script, an editor that writes in place) is read while it is being
	// written; until it has been quiet this long, entries it gains apply
	// at once but entries it seems to have lost stay in force, and a last
	// line without its end of line is not read yet. So a write that
	// pauses mid-file never lets a listed caller through. Reload (and
	// SIGHUP) reads the file as it is, at once.
	Quiet time.Duration
}

// Lists is the must-pass and must-block lists. It is a reputation.Source;
// all methods are safe for concurrent use.
type Lists struct {
	opts    Options
	store   Store
	log     *slog.Logger
	metrics *Metrics
	now     func() time.Time

	snap atomic.Pointer[snapshot]

	mu         sync.Mutex // serialises changes to everything below
	files      map[List]fileState
	fileTables pair
	tenants    map[string]pair
	problems   []LineError
	loaded     bool   // the store has been loaded
	pos        string // change-log position (Follower stores)
}

var _ reputation.Local = (*Lists)(nil)

// fileState is the last good load of one list file.
type fileState struct {
	path    string
	entries []Entry
	bad     []LineError
	// st is the stamp the file was read under, seen when that stamp was
	// first read; held counts the entries kept from an earlier load
	// because the file has not been quiet long enough to drop them.
	st   stamp
	seen time.Time
	held int
}

// snapshot is everything Lookup reads, swapped atomically.
type snapshot struct {
	// files holds the list-file entries, which apply to every tenant.
	files pair
	// tenants holds the stored entries of each tenant.
	tenants map[string]pair
}

// pair holds one scope's two tables, indexed by List.index: allow, block.
type pair [2]*table

// index is the list's place in a pair.
func (l List) index() int {
	if l == Block {
		return 1
	}
	return 0
}

// SourceName is the name the lists report under in a chain.
const SourceName = "lists"

// New loads the list files and the store. A list file that cannot be read
// is an error; bad lines are logged with their line number, skipped, and
// kept for Problems. A store that cannot be loaded is not an error: the
// failure is logged, the file lists serve alone, and Watch (or Sync) loads
// the store once it answers.
func New(opts Options) (*Lists, error) {
	if opts.Region == "" {
		opts.Region = "US"
	}
	if opts.Debounce <= 0 {
		opts.Debounce = 100 * time.Millisecond
	}
	if opts.Quiet <= 0 {
		opts.Quiet = DefaultQuiet
	}
	if opts.LoadTimeout <= 0 {
		opts.LoadTimeout = 30 * time.Second
	}
	l := &Lists{
		opts:    opts,
		store:   opts.Store,
		log:     opts.Logger,
		metrics: opts.Metrics,
		now:     opts.Now,
		files:   map[List]fileState{},
		tenants: map[string]pair{},
	}
	if l.store == nil {
		l.store = NewMemStore()
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if l.metrics == nil {
		l.metrics = NewMetrics(nil)
	}
	if l.now == nil {
		l.now = time.Now
	}
	if _, err := l.reloadFiles(true); err != nil {
		return nil, fmt.Errorf("lists: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.LoadTimeout)
	defer cancel()
	if err := l.Sync(ctx); err != nil {
		l.log.Warn("lists: stored entries not loaded; serving the list files alone until the store answers", "err", err)
	}
	return l, nil
}

// DefaultQuiet is Options.Quiet's default.
const DefaultQuiet = 30 * time.Second

// Reload re-reads the list files as they are and swaps the new lists in
// at once. A file that cannot be read keeps its last good entries and
// Reload returns the error; bad lines are logged, skipped and kept for
// Problems.
func (l *Lists) Reload() error {
	_, err := l.reloadFiles(true)
	return err
}

// reloadFiles re-reads the list files. With force, each file is taken as
// it is. Without, a file that changed less than Quiet ago is taken as
// possibly half written (see Options.Quiet): its complete lines are read
// and every entry of the last load it lacks is kept; settle is then the
// time to read it again (zero when every file was read whole).
func (l *Lists) reloadFiles(force bool) (settle time.Time, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	now := time.Now()
	for _, f := range []struct {
		list List
		path string
	}{{Allow, l.opts.AllowFile}, {Block, l.opts.BlockFile}} {
		if f.path == "" {
			continue
		}
		data, st, stable, err := readStable(f.path)
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s list: %w", f.list, err))
			continue
		}
		old, hadOld := l.files[f.list]
		seen := now
		if hadOld && old.st == st {
			seen = old.seen
		}
		// Quiet since the later of: the modification time, or the first
		// read of this stamp (a clock ahead of ours cannot hold it back
		// for ever).
		quietSince := st.mtime
		if seen.Before(quietSince) {
			quietSince = seen
		}
		settledAt := quietSince.Add(l.opts.Quiet)
		whole := force || !hadOld || stable && !now.Before(settledAt)
		if !whole {
			data = completeLines(data)
		}
		entries, bad, err := Parse(bytes.NewReader(data), filepath.Base(f.path), f.list, l.opts.Region)
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s list %s: %w", f.list, f.path, err))
			continue
		}
		held := 0
		if !whole {
			have := make(map[string]struct{}, len(entries))
			for i := range entries {
				have[entries[i].String()] = struct{}{}
			}
			for _, e := range old.entries {
				if _, ok := have[e.String()]; !ok {
					entries = append(entries, e)
					held++
				}
			}
			if !stable {
				settledAt = now.Add(l.opts.Quiet)
			}
			if settle.IsZero() || settledAt.Before(settle) {
				settle = settledAt
			}
			if held > 0 {
				l.log.Info("lists: list file changed in the last moments; entries it lacks stay in force until it has been unchanged for the quiet time",
					"list", f.list, "file", f.path, "held", held, "quiet", l.opts.Quiet)
			}
		} else {
			for i := range bad {
				l.log.Warn("lists: bad line skipped", "list", f.list, "file", f.path, "line", bad[i].Line, "err", bad[i].Err)
			}
		}
		l.files[f.list] = fileState{path: f.path, entries: entries, bad: bad, st: st, seen: seen, held: held}
		l.fileTables[f.list.index()] = buildTable(f.list, "", func(yield func(*Entry) bool) {
			for i := range entries {
				if !yield(&entries[i]) {
					return
				}
			}
		})
	}
	l.problems = l.problems[:0]
	for _, list := range []List{Allow, Block} {
		l.problems = append(l.problems, l.files[list].bad...)
	}
	l.publish()
	l.metrics.BadLines.Set(float64(len(l.problems)))
	if err := errors.Join(errs...); err != nil {
		l.metrics.Reloads.WithLabelValues("error").Inc()
		return settle, err
	}
	l.metrics.Reloads.WithLabelValues("ok").Inc()
	return settle, nil
}

// ErrFromFile reports a change the lists refuse because the entry comes
// from a list file: only an edit of the file changes it.
var ErrFromFile = errors.New("entry comes from a list file")

// FileOrigin returns where the list files hold an entry with e's list,
// kind and value ("block.txt:3"), or "" when they hold none. List-file
// entries apply to every tenant.
func (l *Lists) FileOrigin(e Entry) string {
	if !e.List.Valid() {
		return ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, have := range l.files[e.List].entries {
		if have.Kind == e.Kind && have.Value == e.Value && have.High == e.High {
			return have.Origin
		}
	}
	return ""
}

// publish swaps in a snapshot of the current tables and updates the size
// metrics. l.mu held.
func (l *Lists) publish() {
	s := &snapshot{files: l.fileTables, tenants: maps.Clone(l.tenants)}
	l.snap.Store(s)
	bytes := 0
	for _, list := range []List{Allow, Block} {
		sum := l.fileTables[list.index()].counts()
		bytes += l.fileTables[list.index()].bytes()
		for _, m := range l.tenants {
			for k, n := range m[list.index()].counts() {
				sum[k] += n
			}
			bytes += m[list.index()].bytes()
		}
		for k, n := range sum {
			l.metrics.Entries.WithLabelValues(string(list), string(k)).Set(float64(n))
		}
	}
	l.metrics.Bytes.Set(float64(bytes))
}

// Sync loads every tenant's entries from the store again and swaps them in.
// On failure the entries loaded before stay in force.
func (l *Lists) Sync(ctx context.Context) error {
	pos := ""
	if f, ok := l.store.(Follower); ok {
		p, err := f.Position(ctx)
		if err != nil {
			return fmt.Errorf("lists: sync: %w", err)
		}
		pos = p
	}
	tenants, err := l.store.Tenants(ctx)
	if err != nil {
		return fmt.Errorf("lists: sync: %w", err)
	}
	loaded := make(map[string]pair, len(tenants))
	for _, t := range tenants {
		m, err := l.loadTenant(ctx, t)
		if err != nil {
			return fmt.Errorf("lists: sync: %w", err)
		}
		loaded[t] = m
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tenants = loaded
	l.pos, l.loaded = pos, true
	l.publish()
	return nil
}

// loadTenant reads one tenant's entries from the store into new tables.
func (l *Lists) loadTenant(ctx context.Context, tenant string) (pair, error) {
	allow, block := newTableBuilder(Allow, tenant), newTableBuilder(Block, tenant)
	now := l.now()
	err := l.store.Load(ctx, tenant, func(e Entry) error {
		switch {
		case e.Expired(now):
		case e.List == Block:
			block.add(&e)
		default:
			allow.add(&e)
		}
		return nil
	})
	if err != nil {
		return pair{}, fmt.Errorf("load tenant %q: %w", tenant, err)
	}
	return pair{allow.build(), block.build()}, nil
}

// Apply stores the changes and applies them here at once; other instances
// sharing the store see them through Watch. Entries must come from
// ParseEntry (or ReadCSV) with List and Tenant set. A change the store
// refuses is not applied.
func (l *Lists) Apply(ctx context.Context, changes []Change) error {
	for i := range changes {
		if err := checkChange(&changes[i]); err != nil {
			return fmt.Errorf("lists: apply: %w", err)
		}
	}
	if err := l.store.Apply(ctx, changes); err != nil {
		return fmt.Errorf("lists: apply: %w", err)
	}
	l.applyLocal(changes)
	return nil
}

// Add puts one entry on its list.
func (l *Lists) Add(ctx context.Context, e Entry) error {
	return l.Apply(ctx, []Change{{Entry: e}})
}

// Remove takes one entry off its list. An entry a list file holds is
// refused with an error wrapping ErrFromFile that names the file and line
// ("comes from block.txt:3; edit the file"): removing a stored copy would
// leave the caller listed all the same.
func (l *Lists) Remove(ctx context.Context, e Entry) error {
	if origin := l.FileOrigin(e); origin != "" {
		return fmt.Errorf("lists: %s list entry %s comes from %s; edit the file: %w", e.List, e.String(), origin, ErrFromFile)
	}
	return l.Apply(ctx, []Change{{Delete: true, Entry: e}})
}

// applyLocal applies changes to the in-memory tables and publishes them.
func (l *Lists) applyLocal(changes []Change) {
	type scope struct {
		tenant string
		list   List
	}
	byScope := map[scope][]*Change{}
	var order []scope
	for i := range changes {
		c := changes[i] // copy: tables keep pointers
		s := scope{c.Entry.Tenant, c.Entry.List}
		if _, ok := byScope[s]; !ok {
			order = append(order, s)
		}
		byScope[s] = append(byScope[s], &c)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range order {
		m, ok := l.tenants[s.tenant]
		if !ok {
			m = pair{buildTable(Allow, s.tenant, nil), buildTable(Block, s.tenant, nil)}
		}
		i := s.list.index()
		m[i] = m[i].with(byScope[s])
		l.tenants[s.tenant] = m
	}
	l.publish()
}

// Problems returns the bad lines of the last load of each list file.
func (l *Lists) Problems() []LineError {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]LineError(nil), l.problems...)
}

// Entries yields every entry in memory for tenant (the list files'
// entries are tenant ""), expired ones included.
func (l *Lists) Entries(tenant string) iter.Seq[*Entry] {
	s := l.snap.Load()
	return func(yield func(*Entry) bool) {
		var tables []*table
		if tenant == "" {
			tables = append(tables, s.files[0], s.files[1])
		}
		if m, ok := s.tenants[tenant]; ok {
			tables = append(tables, m[0], m[1])
		}
		for _, t := range tables {
			for e := range t.all() {
				if !yield(e) {
					return
				}
			}
		}
	}
}

// Allowed reports whether n is on tenant's must-pass list (by number,
// prefix or range). Behaviour checks use it to recognise known customers.
func (l *Lists) Allowed(tenant string, n number.Number) bool {
	s := l.snap.Load()
	c := &clock{now: l.now}
	key := newNumberKey(n.Key())
	return s.files[0].matchNumber(key, c) != nil || s.tenants[tenant][0].matchNumber(key, c) != nil
}

// Local reports true: lists answer from an in-memory snapshot.
func (l *Lists) Local() bool { return true }

// Lookup checks the caller against the list files and the caller's
// tenant's lists. Must-pass wins over must-block; within a list an exact
// number wins over the longest prefix, then ranges, then name patterns;
// expired entries never match. It returns:
//   - must-pass: list.allow, Final;
//   - must-block number, prefix or range: list.block, tier SPAM, Final;
//   - must-block name pattern: list.block_name, tier SPAM, Final;
//   - otherwise an empty verdict.
//
// It never fails and does no I/O.
func (l *Lists) Lookup(_ context.Context, q reputation.Query) (reputation.Verdict, error) {
	l.metrics.Lookups.Inc()
	s := l.snap.Load()
	c := clock{now: l.now}
	key := newNumberKey(q.Caller.Key())
	var name string
	if q.Name != "" {
		name = strings.ToUpper(strings.TrimSpace(q.Name))
	}
	tenant := s.tenants[q.Tenant]
	for li := range 2 { // allow first: must-pass wins
		scopes := [2]*table{s.files[li], tenant[li]}
		for _, t := range scopes {
			if e := t.matchNumber(key, &c); e != nil {
				return l.hit(e), nil
			}
		}
		if name == "" {
			continue
		}
		for _, t := range scopes {
			if e := t.matchName(name, &c); e != nil {
				return l.hit(e), nil
			}
		}
	}
	return reputation.Verdict{Source: SourceName}, nil
}

// Reason slices shared by every verdict; capacity equals length, so an
// append never writes into them.
var (
	allowReasons     = []policy.Reason{policy.ListAllow}
	blockReasons     = []policy.Reason{policy.ListBlock}
	blockNameReasons = []policy.Reason{policy.ListBlockName}
)

func (l *Lists) hit(e *Entry) reputation.Verdict {
	reasons := allowReasons
	switch {
	case e.List == Block && e.Kind == Name:
		reasons = blockNameReasons
	case e.List == Block:
		reasons = blockReasons
	}
	r := reasons[0]
	l.metrics.Hits.WithLabelValues(string(r)).Inc()
	raw := make(map[string]string, 6)
	raw["list"], raw["kind"], raw["entry"] = string(e.List), string(e.Kind), e.String()
	if e.Note != "" {
		raw["note"] = e.Note
	}
	if e.Origin != "" {
		raw["origin"] = e.Origin
	}
	if e.AddedBy != "" {
		raw["added_by"] = e.AddedBy
	}
	if !e.Expires.IsZero() {
		raw["expires"] = e.Expires.UTC().Format(time.RFC3339)
	}
	v := reputation.Verdict{
		Verdict: policy.Verdict{Reasons: reasons[:1:1]},
		Source:  SourceName,
		Final:   true,
		Raw:     raw,
	}
	if r != policy.ListAllow {
		v.Tier = policy.TierSpam
	}
	if !e.Added.IsZero() {
		v.Age = l.now().Sub(e.Added)
	}
	return v
}

// Watch keeps the lists current until ctx ends: it reloads the list files
// when one changes (written, replaced or renamed over, as editors do) and
// on SIGHUP (which also reloads a store that cannot report changes), and
// follows a shared store's changes as other instances make them. Failures
// are logged and retried; the last good lists stay in force. It returns
// nil when ctx ends, or an error if the files cannot be watched.
func (l *Lists) Watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("lists: watch: %w", err)
	}
	defer w.Close()
	watched := map[string]bool{}
	dirs := map[string]bool{}
	for _, p := range []string{l.opts.AllowFile, l.opts.BlockFile} {
		if p == "" {
			continue
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return fmt.Errorf("lists: watch %s: %w", p, err)
		}
		watched[abs] = true
		dirs[filepath.Dir(abs)] = true
	}
	// Watch the directories, not the files: editors and config managers
	// replace a file by renaming a new one over it.
	for d := range dirs {
		if err := w.Add(d); err != nil {
			return fmt.Errorf("lists: watch %s: %w", d, err)
		}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	follower, following := l.store.(Follower)
	if following {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.follow(ctx, follower)
		}()
	}

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	// settled fires when a file read while it was still changing has
	// been quiet long enough to be read whole.
	settled := time.NewTimer(time.Hour)
	settled.Stop()
	defer settled.Stop()
	reload := func(why string, force bool) {
		at, err := l.reloadFiles(force)
		if !at.IsZero() {
			settled.Reset(max(time.Until(at), 0) + 10*time.Millisecond)
		}
		if err != nil {
			l.log.Error("lists: reload failed; keeping the last good lists", "trigger", why, "err", err)
			return
		}
		l.log.Info("lists: reloaded", "trigger", why, "bad_lines", len(l.Problems()))
	}
	retry := time.NewTicker(5 * time.Second)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			reload("sighup", true)
			if !following {
				if err := l.Sync(ctx); err != nil {
					l.log.Error("lists: store reload failed; keeping the last good lists", "err", err)
				}
			}
		case <-retry.C:
			l.mu.Lock()
			loaded := l.loaded
			l.mu.Unlock()
			if !loaded && !following {
				if err := l.Sync(ctx); err == nil {
					l.log.Info("lists: stored entries loaded")
				}
			}
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if watched[filepath.Clean(ev.Name)] && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename|fsnotify.Remove) != 0 {
				timer.Reset(l.opts.Debounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			l.log.Warn("lists: file watch error", "err", err)
		case <-timer.C:
			reload("file change", false)
		case <-settled.C:
			reload("file quiet", false)
		}
	}
}

// FollowStore only follows a shared store's changes (no file watching, no
// SIGHUP), until ctx ends; it returns at once for a store that cannot
// report changes. Use it instead of Watch when the list files are not to
// be watched: other instances' changes still arrive within a second.
func (l *Lists) FollowStore(ctx context.Context) {
	if f, ok := l.store.(Follower); ok {
		l.follow(ctx, f)
	}
}

// follow applies a shared store's changes until ctx ends, loading
// everything again whenever the change log cannot be followed.
func (l *Lists) follow(ctx context.Context, f Follower) {
	const maxBackoff = 5 * time.Second
	backoff := 100 * time.Millisecond
	sleep := func() {
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
	for ctx.Err() == nil {
		l.mu.Lock()
		loaded, pos := l.loaded, l.pos
		l.mu.Unlock()
		if !loaded {
			if err := l.Sync(ctx); err != nil {
				if ctx.Err() == nil {
					l.log.Warn("lists: store not loaded; retrying", "err", err, "in", backoff)
				}
				sleep()
				continue
			}
			l.log.Info("lists: stored entries loaded")
			continue
		}
		err := f.Follow(ctx, pos, func(b Batch) error {
			backoff = 100 * time.Millisecond
			if len(b.Changes) > 0 {
				l.applyLocal(b.Changes)
			}
			for _, t := range b.Resync {
				m, err := l.loadTenant(ctx, t)
				if err != nil {
					return err
				}
				l.mu.Lock()
				l.tenants[t] = m
				l.publish()
				l.mu.Unlock()
			}
			l.mu.Lock()
			l.pos = b.Pos
			l.mu.Unlock()
			return nil
		})
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, ErrLost) {
			l.log.Warn("lists: change log lost; loading all entries again")
			l.mu.Lock()
			l.loaded = false
			l.mu.Unlock()
			continue
		}
		l.log.Warn("lists: following store changes failed; retrying", "err", err, "in", backoff)
		sleep()
	}
}
