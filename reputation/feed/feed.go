package feed

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/lists/numset"
)

// Options configure a Feed.
type Options struct {
	// Store keeps the data; nil keeps it in memory only (NewMemStore).
	Store Store
	// Region reads numbers in national form; "" is "US".
	Region string
	// Retention is how long a report counts; 0 is 30 days. A profile's
	// report_window, when shorter, applies to its calls.
	Retention time.Duration
	// RefreshEvery is how often Watch checks the store for another
	// instance's or process's import; 0 is 10s.
	RefreshEvery time.Duration
	// LockTTL bounds an import's hold on a shared store's lock; 0 is 10m.
	LockTTL time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Logger, nil discards; Metrics, nil for none.
	Logger  *slog.Logger
	Metrics *Metrics
}

// Feed is the daily spam-report feed, a reputation.Source. All methods are
// safe for concurrent use.
type Feed struct {
	opts    Options
	store   Store
	log     *slog.Logger
	metrics *Metrics
	now     func() time.Time

	snap atomic.Pointer[snapshot]
	mu   sync.Mutex // serialises loads and imports
}

var _ reputation.Local = (*Feed)(nil)

// snapshot is the data Lookup reads, swapped atomically.
type snapshot struct {
	version string
	loaded  bool
	sets    map[string]*numset.Set // by tenant; "" applies to every tenant
}

// SourceName is the name the feed reports under in a chain.
const SourceName = "feed"

// New returns a Feed and loads the store. A store that cannot be loaded
// is logged, not an error: the feed starts empty and Watch (or Refresh)
// loads it once the store answers.
func New(ctx context.Context, opts Options) *Feed {
	if opts.Region == "" {
		opts.Region = "US"
	}
	if opts.Retention <= 0 {
		opts.Retention = 30 * 24 * time.Hour
	}
	if opts.RefreshEvery <= 0 {
		opts.RefreshEvery = 10 * time.Second
	}
	if opts.LockTTL <= 0 {
		opts.LockTTL = 10 * time.Minute
	}
	f := &Feed{opts: opts, store: opts.Store, log: opts.Logger, metrics: opts.Metrics, now: opts.Now}
	if f.store == nil {
		f.store = NewMemStore()
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	if f.metrics == nil {
		f.metrics = NewMetrics(nil)
	}
	if f.now == nil {
		f.now = time.Now
	}
	f.snap.Store(&snapshot{sets: map[string]*numset.Set{}})
	if err := f.Refresh(ctx); err != nil {
		f.log.Warn("feed: stored reports not loaded; the feed is empty until the store answers", "err", err)
	}
	return f
}

// Len returns how many numbers tenant's feed holds ("" the shared feed).
func (f *Feed) Len(tenant string) int { return f.snap.Load().sets[tenant].Len() }

// Loaded reports whether the store has been loaded at least once.
func (f *Feed) Loaded() bool { return f.snap.Load().loaded }

// Local reports true: the feed answers from an in-memory snapshot.
func (f *Feed) Local() bool { return true }

// Lookup reports whether the caller was reported within the retention
// window (or the profile's report_window if shorter), in the shared feed
// or the caller's tenant's: feed.daily_report, plus feed.robocall when a
// report said robocall, Final. Otherwise an empty verdict. It never fails
// and does no I/O.
func (f *Feed) Lookup(_ context.Context, q reputation.Query) (reputation.Verdict, error) {
	f.metrics.Lookups.Inc()
	k, ok := numset.Encode(q.Caller.E164)
	if !ok {
		return reputation.Verdict{Source: SourceName}, nil
	}
	s := f.snap.Load()
	var v value
	if got, ok := s.sets[""].Get(k); ok {
		v = value(got)
	}
	if q.Tenant != "" {
		if got, ok := s.sets[q.Tenant].Get(k); ok {
			v = merge(v, value(got))
		}
	}
	if v == 0 {
		return reputation.Verdict{Source: SourceName}, nil
	}
	window := f.opts.Retention
	if rw := q.Profile.Thresholds.ReportWindow; rw > 0 && rw < window {
		window = rw
	}
	now := q.Time
	if now.IsZero() {
		now = f.now()
	}
	if v.day() < dayOf(now.Add(-window)) {
		return reputation.Verdict{Source: SourceName}, nil
	}
	out := reputation.Verdict{
		// In the daily spam report: SPAM, as a must-block entry is.
		Verdict:       policy.Verdict{Tier: policy.TierSpam, Reasons: []policy.Reason{policy.FeedDailyReport}},
		RecentReports: v.count(),
		Source:        SourceName,
		Final:         true,
		Age:           now.Sub(v.day().time()),
		Raw: map[string]string{
			"feed_last_report": v.day().time().Format(time.DateOnly),
			"feed_reports":     strconv.Itoa(v.count()),
			"feed_robocall":    yesNo(v.robocall()),
		},
	}
	f.metrics.Hits.WithLabelValues(string(policy.FeedDailyReport)).Inc()
	if v.robocall() {
		out.Reasons = append(out.Reasons, policy.FeedRobocall)
		f.metrics.Hits.WithLabelValues(string(policy.FeedRobocall)).Inc()
	}
	return out, nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// Refresh loads the store again if its version changed since the last
// load. On failure the data loaded before stays in force.
func (f *Feed) Refresh(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refreshLocked(ctx)
}

func (f *Feed) refreshLocked(ctx context.Context) error {
	cur := f.snap.Load()
	ver, err := f.store.Version(ctx)
	if err != nil {
		return fmt.Errorf("feed: refresh: %w", err)
	}
	if cur.loaded && ver == cur.version {
		return nil
	}
	type kv struct {
		keys []uint64
		vals []uint32
	}
	data := map[string]*kv{}
	ver, err = f.store.Load(ctx, func(t string, r Record) error {
		d := data[t]
		if d == nil {
			d = &kv{}
			data[t] = d
		}
		d.keys = append(d.keys, r.Key)
		d.vals = append(d.vals, r.Value)
		return nil
	})
	if err != nil {
		return fmt.Errorf("feed: refresh: %w", err)
	}
	s := &snapshot{version: ver, loaded: true, sets: make(map[string]*numset.Set, len(data))}
	for t, d := range data {
		s.sets[t] = numset.Build(d.keys, d.vals)
	}
	f.publish(s)
	return nil
}

func (f *Feed) publish(s *snapshot) {
	f.snap.Store(s)
	n := 0
	for _, set := range s.sets {
		n += set.Len()
	}
	f.metrics.Numbers.Set(float64(n))
}

// Watch refreshes the feed from the store every RefreshEvery until ctx
// ends, so one instance's (or one command's) import reaches the others.
// Failures are logged and the data loaded before stays in force.
func (f *Feed) Watch(ctx context.Context) {
	t := time.NewTicker(f.opts.RefreshEvery)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := f.Refresh(ctx); err != nil {
			if !failing && ctx.Err() == nil {
				f.log.Warn("feed: refresh failed; keeping the data loaded before", "err", err)
			}
			failing = true
			continue
		}
		if failing {
			f.log.Info("feed: refreshed from the store again")
		}
		failing = false
	}
}

// ImportOptions configure one import.
type ImportOptions struct {
	// Format of the input; "" is JSON.
	Format Format
	// Tenant the reports are for; "" is the shared feed every tenant uses.
	Tenant string
	// Progress, when not nil, is called every 50,000 rows while reading.
	Progress func(Stats)
}

// Import reads reports from r and merges them into the feed: each number
// keeps its latest report day, its report count and whether any report
// said robocall; numbers whose last report is older than the retention
// window are dropped. The whole input is read before anything is stored:
// if it cannot be read to the end (ErrSyntax, a read error), nothing
// changes. Bad rows are counted in Stats and skipped.
func (f *Feed) Import(ctx context.Context, r io.Reader, o ImportOptions) (Stats, error) {
	return f.doImport(ctx, r, o, true)
}

// combine sorts records by key and merges the records of each number
// into one.
func combine(recs []Record) []Record {
	sortRecords(recs)
	if len(recs) < 2 {
		return recs
	}
	j := 0
	for i := 1; i < len(recs); i++ {
		if recs[i].Key == recs[j].Key {
			recs[j].Value = uint32(merge(value(recs[j].Value), value(recs[i].Value)))
			continue
		}
		j++
		recs[j] = recs[i]
	}
	return recs[:j+1]
}

// sortRecords sorts by key: LSD radix, 14 bits a pass, over the 55 bits
// numset keys use; small inputs with the standard sort.
func sortRecords(recs []Record) {
	if len(recs) < 1024 {
		slices.SortFunc(recs, func(a, b Record) int { return cmp.Compare(a.Key, b.Key) })
		return
	}
	const bits = 14
	buf := make([]Record, len(recs))
	src, dst := recs, buf
	var count [1 << bits]int
	for shift := uint(0); shift < 56; shift += bits {
		clear(count[:])
		for _, r := range src {
			count[(r.Key>>shift)&(1<<bits-1)]++
		}
		sum := 0
		for i, c := range count {
			count[i], sum = sum, sum+c
		}
		for _, r := range src {
			d := (r.Key >> shift) & (1<<bits - 1)
			dst[count[d]] = r
			count[d]++
		}
		src, dst = dst, src
	}
	// Four passes: the sorted records are back in recs.
}

// sizeHint guesses how many rows r holds from its size, so the import map
// does not grow step by step: rows are rarely shorter than 40 bytes.
func sizeHint(r io.Reader) int {
	var size int64
	switch v := r.(type) {
	case interface{ Len() int }:
		size = int64(v.Len())
	case *os.File:
		if fi, err := v.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
	case *limitedReader:
		return sizeHint(v.r)
	}
	return int(min(size/40, 20_000_000))
}

// doImport imports; lock says whether to take a shared store's lock (Pull
// takes it itself, before downloading).
func (f *Feed) doImport(ctx context.Context, r io.Reader, o ImportOptions, lock bool) (Stats, error) {
	start := time.Now()
	if o.Format == "" {
		o.Format = JSON
	}
	var st Stats
	now := f.now()
	cutoff := dayOf(now.Add(-f.opts.Retention))
	reports := make([]Record, 0, sizeHint(r))
	err := parse(r, o.Format, f.opts.Region, &st, func(rep Report, key uint64) {
		t := rep.Created
		if t.IsZero() || (!rep.Violation.IsZero() && rep.Violation.After(t)) {
			t = rep.Violation
		}
		if t.After(now) {
			t = now // a report from the future counts as today's
		}
		reports = append(reports, Record{key, uint32(pack(dayOf(t), rep.Robocall, 1))})
	}, o.Progress)
	st.Elapsed = time.Since(start)
	f.metrics.Rows.WithLabelValues("accepted").Add(float64(st.Accepted))
	f.metrics.Rows.WithLabelValues("rejected").Add(float64(st.Rejected))
	if err != nil {
		return st, fmt.Errorf("feed: import: %w", err)
	}
	reports = combine(reports)
	st.Numbers = len(reports)

	f.mu.Lock()
	defer f.mu.Unlock()
	if l, ok := f.store.(Locker); ok && lock {
		unlock, err := l.Lock(ctx, f.opts.LockTTL)
		if err != nil {
			return st, fmt.Errorf("feed: import: %w", err)
		}
		defer unlock()
	}
	if err := f.refreshLocked(ctx); err != nil {
		return st, fmt.Errorf("feed: import: %w", err)
	}
	cur := f.snap.Load()
	old := cur.sets[o.Tenant]
	// What was held and what came in, merged number by number (merge is
	// commutative), without the numbers whose last report is too old.
	recs := make([]Record, 0, old.Len()+len(reports))
	for k, v := range old.All() {
		recs = append(recs, Record{k, v})
	}
	recs = append(recs, reports...)
	reports = nil
	recs = slices.DeleteFunc(combine(recs), func(r Record) bool { return value(r.Value).day() < cutoff })
	ver, err := f.store.Replace(ctx, o.Tenant, recs)
	if err != nil {
		return st, fmt.Errorf("feed: import: %w", err)
	}
	keys := make([]uint64, len(recs))
	vals := make([]uint32, len(recs))
	for i, r := range recs {
		keys[i], vals[i] = r.Key, r.Value
	}
	recs = nil
	sets := maps.Clone(cur.sets)
	sets[o.Tenant] = numset.Build(keys, vals)
	f.publish(&snapshot{version: ver, loaded: true, sets: sets})
	st.Elapsed = time.Since(start)
	f.metrics.ImportSeconds.Observe(st.Elapsed.Seconds())
	return st, nil
}
