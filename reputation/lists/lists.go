package lists

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
)

// Options configure Lists.
type Options struct {
	// AllowFile and BlockFile are the list files; "" is none.
	AllowFile, BlockFile string
	// Region reads numbers written in national form; "" is "US".
	Region string
	// Logger receives bad lines and reload failures; nil discards.
	Logger *slog.Logger
	// Metrics, nil for none.
	Metrics *Metrics
	// Now is the clock entries expire by; nil is time.Now.
	Now func() time.Time
	// Debounce is how long Watch waits after a file event before it
	// reloads, so an editor's several writes load once; 0 is 100ms.
	Debounce time.Duration
}

// Lists is the must-pass and must-block lists. It is a reputation.Source;
// all methods are safe for concurrent use.
type Lists struct {
	opts    Options
	log     *slog.Logger
	metrics *Metrics
	now     func() time.Time

	snap atomic.Pointer[snapshot]

	mu       sync.Mutex // serialises loads
	files    map[List]fileState
	problems []LineError
}

var _ reputation.Source = (*Lists)(nil)

// fileState is the last good load of one list file.
type fileState struct {
	path    string
	entries []Entry
	bad     []LineError
}

// snapshot is everything Lookup reads, swapped atomically on reload.
type snapshot struct {
	// global holds the file entries, which apply to every tenant.
	global map[List]*table
}

// SourceName is the name the lists report under in a chain.
const SourceName = "lists"

// New loads the list files. A file that cannot be read is an error; bad
// lines are logged with their line number, skipped, and kept for Problems.
func New(opts Options) (*Lists, error) {
	if opts.Region == "" {
		opts.Region = "US"
	}
	if opts.Debounce <= 0 {
		opts.Debounce = 100 * time.Millisecond
	}
	l := &Lists{
		opts:    opts,
		log:     opts.Logger,
		metrics: opts.Metrics,
		now:     opts.Now,
		files:   map[List]fileState{},
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
	if err := l.Reload(); err != nil {
		return nil, fmt.Errorf("lists: %w", err)
	}
	return l, nil
}

// Reload re-reads the list files and swaps the new lists in at once. A
// file that cannot be read keeps its last good entries and Reload returns
// the error; bad lines are logged, skipped and kept for Problems.
func (l *Lists) Reload() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for _, f := range []struct {
		list List
		path string
	}{{Allow, l.opts.AllowFile}, {Block, l.opts.BlockFile}} {
		if f.path == "" {
			continue
		}
		entries, bad, err := ParseFile(f.path, f.list, l.opts.Region)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		l.files[f.list] = fileState{path: f.path, entries: entries, bad: bad}
		for i := range bad {
			l.log.Warn("lists: bad line skipped", "list", f.list, "file", f.path, "line", bad[i].Line, "err", bad[i].Err)
		}
	}
	l.problems = l.problems[:0]
	for _, list := range []List{Allow, Block} {
		l.problems = append(l.problems, l.files[list].bad...)
	}
	l.swap()
	l.metrics.BadLines.Set(float64(len(l.problems)))
	if err := errors.Join(errs...); err != nil {
		l.metrics.Reloads.WithLabelValues("error").Inc()
		return err
	}
	l.metrics.Reloads.WithLabelValues("ok").Inc()
	return nil
}

// swap builds a snapshot from the loaded files and publishes it. l.mu held.
func (l *Lists) swap() {
	s := &snapshot{global: map[List]*table{Allow: newTable(), Block: newTable()}}
	for _, list := range []List{Allow, Block} {
		st := l.files[list]
		for i := range st.entries {
			s.global[list].add(&st.entries[i])
		}
		for k, n := range s.global[list].counts() {
			l.metrics.Entries.WithLabelValues(string(list), string(k)).Set(float64(n))
		}
	}
	l.snap.Store(s)
}

// Problems returns the bad lines of the last load of each file.
func (l *Lists) Problems() []LineError {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]LineError(nil), l.problems...)
}

// Lookup checks the caller against the lists. Must-pass wins over
// must-block; within a list an exact number wins over the longest prefix,
// then ranges, then name patterns. It returns:
//   - must-pass: list.allow, Final;
//   - must-block number, prefix or range: list.block, tier SPAM, Final;
//   - must-block name pattern: list.block_name, tier SPAM, Final;
//   - otherwise an empty verdict.
//
// It never fails and does no I/O.
func (l *Lists) Lookup(_ context.Context, q reputation.Query) (reputation.Verdict, error) {
	l.metrics.Lookups.Inc()
	s := l.snap.Load()
	now := l.now()
	key := q.Caller.Key()
	name := strings.ToUpper(strings.TrimSpace(q.Name))
	if e := s.global[Allow].matchNumber(key, now); e != nil {
		return l.hit(e, policy.ListAllow), nil
	}
	if e := s.global[Allow].matchName(name, now); e != nil {
		return l.hit(e, policy.ListAllow), nil
	}
	if e := s.global[Block].matchNumber(key, now); e != nil {
		return l.hit(e, policy.ListBlock), nil
	}
	if e := s.global[Block].matchName(name, now); e != nil {
		return l.hit(e, policy.ListBlockName), nil
	}
	return reputation.Verdict{Source: SourceName}, nil
}

func (l *Lists) hit(e *Entry, r policy.Reason) reputation.Verdict {
	l.metrics.Hits.WithLabelValues(string(r)).Inc()
	v := reputation.Verdict{
		Verdict: policy.Verdict{Reasons: []policy.Reason{r}},
		Source:  SourceName,
		Final:   true,
		Raw: map[string]string{
			"list":  string(e.List),
			"kind":  string(e.Kind),
			"entry": e.String(),
		},
	}
	if r != policy.ListAllow {
		v.Tier = policy.TierSpam
	}
	for k, val := range map[string]string{"note": e.Note, "origin": e.Origin, "added_by": e.AddedBy} {
		if val != "" {
			v.Raw[k] = val
		}
	}
	if !e.Expires.IsZero() {
		v.Raw["expires"] = e.Expires.UTC().Format(time.RFC3339)
	}
	return v
}

// Watch reloads the lists when a list file changes (written, replaced or
// renamed over, as editors do) and on SIGHUP, until ctx ends. Reload
// failures are logged and the last good lists stay in force. It returns
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

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	reload := func(why string) {
		if err := l.Reload(); err != nil {
			l.log.Error("lists: reload failed; keeping the last good lists", "trigger", why, "err", err)
			return
		}
		l.log.Info("lists: reloaded", "trigger", why, "bad_lines", len(l.Problems()))
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			reload("sighup")
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
			reload("file change")
		}
	}
}
