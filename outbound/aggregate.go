package outbound

import (
	"slices"
	"strings"
	"time"

	"github.com/axiomhq/hyperloglog"

	"github.com/callscreen/callscreen/cdr"
	"github.com/callscreen/callscreen/number"
)

// Defaults of Options.
const (
	DefaultMaxNumbers = 100
	// DefaultMergeWindow is how many recent calls are kept open for more
	// rows of the same call (one per Dial attempt).
	DefaultMergeWindow = 4096
)

// Options configure an Aggregator.
type Options struct {
	// Own are our outbound numbers (E.164 or national form); only calls
	// presenting one of them count. Empty: every number seen placing
	// outbound calls counts, up to MaxNumbers.
	Own []string
	// Contexts are the dialplan contexts of outbound calls: a row counts
	// when its dcontext is one of them. Empty: a row counts when its
	// lastapp is Dial (and, from a FreePBX table, its outbound_cnum is
	// set).
	Contexts []string
	// Region reads numbers written in national form; "" is US.
	Region string
	// Location draws the day boundaries; nil is UTC.
	Location *time.Location
	// Thresholds judge the numbers; the zero value is DefaultThresholds.
	Thresholds Thresholds
	// MaxNumbers caps the numbers tracked when Own is empty
	// (DefaultMaxNumbers when 0); calls from more are counted in
	// Counts.OverCap.
	MaxNumbers int
	// MergeWindow is DefaultMergeWindow when 0.
	MergeWindow int
}

// Counts say what happened to the rows an Aggregator was given.
type Counts struct {
	Rows          int64 `json:"rows"`           // rows given
	Calls         int64 `json:"calls"`          // calls counted
	OtherRows     int64 `json:"other_rows"`     // rows that did not place an outbound call (far ends, Local halves, inbound)
	MergedRows    int64 `json:"merged_rows"`    // more rows of a call already counted
	BeforeWindow  int64 `json:"before_window"`  // calls that started before the window
	NotOwn        int64 `json:"not_own"`        // calls from numbers not in Own
	OverCap       int64 `json:"over_cap"`       // calls from numbers past MaxNumbers
	DroppedByDays int64 `json:"dropped_by_day"` // calls dropped as their day left the window
}

// outcome is what became of one call, ordered by how far it got.
type outcome uint8

const (
	unreachable outcome = iota + 1
	noAnswer
	busy
	answered
)

// call is a call still open to more rows.
type call struct {
	key     string
	number  string
	dst     string
	day     int32
	outcome outcome
	billsec int
}

// dayStats are one number's calls on one day.
type dayStats struct {
	calls, answered, short, unreachable, busy, noAnswer int
	dests                                               *hyperloglog.Sketch
}

func (d *dayStats) add(c *call, shortCall int) {
	d.calls++
	switch c.outcome {
	case answered:
		d.answered++
		if c.billsec < shortCall {
			d.short++
		}
	case busy:
		d.busy++
	case noAnswer:
		d.noAnswer++
	default:
		d.unreachable++
	}
	if c.dst != "" {
		d.dests.Insert([]byte(c.dst))
	}
}

// Aggregator counts outbound calls per number and day. It is not safe for
// concurrent use.
type Aggregator struct {
	opts      Options
	shortCall int
	own       map[string]bool
	contexts  map[string]bool
	numbers   map[string]map[int32]*dayStats
	norm      map[string]string // raw caller number → normalised, bounded
	firstDay  int32             // calls before this day are not counted
	open      map[string]*call
	order     []string // keys of open calls, oldest first (a ring)
	head      int
	counts    Counts
}

// New returns an empty Aggregator.
func New(opts Options) *Aggregator {
	if opts.Region == "" {
		opts.Region = "US"
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.Thresholds == (Thresholds{}) {
		opts.Thresholds = DefaultThresholds()
	}
	if opts.MaxNumbers <= 0 {
		opts.MaxNumbers = DefaultMaxNumbers
	}
	if opts.MergeWindow <= 0 {
		opts.MergeWindow = DefaultMergeWindow
	}
	a := &Aggregator{
		opts: opts, shortCall: int(opts.Thresholds.ShortCall / time.Second),
		numbers: map[string]map[int32]*dayStats{}, norm: map[string]string{},
		open: map[string]*call{}, firstDay: -1 << 30,
	}
	if len(opts.Own) > 0 {
		a.own = map[string]bool{}
		for _, n := range opts.Own {
			a.own[normalize(n, opts.Region)] = true
		}
	}
	if len(opts.Contexts) > 0 {
		a.contexts = map[string]bool{}
		for _, c := range opts.Contexts {
			a.contexts[c] = true
		}
	}
	return a
}

// normalize writes a number in E.164 when it is one, else its digits, else
// as given.
func normalize(raw, region string) string {
	n := number.Parse(raw, region)
	switch {
	case n.E164 != "":
		return n.E164
	case n.Digits != "":
		return n.Digits
	}
	return strings.TrimSpace(raw)
}

// number normalises a caller number through a bounded memo: there are few
// distinct ones, and parsing is the costliest step per row.
func (a *Aggregator) number(raw string) string {
	if n, ok := a.norm[raw]; ok {
		return n
	}
	n := normalize(raw, a.opts.Region)
	if len(a.norm) < 10000 {
		a.norm[raw] = n
	}
	return n
}

// Day is the day index (days since 1970-01-01 in the Aggregator's zone).
func (a *Aggregator) Day(t time.Time) int32 {
	y, m, d := t.In(a.opts.Location).Date()
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// dayDate is the date of a day index, YYYY-MM-DD.
func dayDate(day int32) string {
	return time.Unix(int64(day)*86400, 0).UTC().Format(time.DateOnly)
}

// places reports whether the row is the one that placed an outbound call.
func (a *Aggregator) places(r *cdr.Record) bool {
	if r.CallerNumber() == "" {
		return false
	}
	if a.contexts != nil {
		return a.contexts[r.DContext]
	}
	if !strings.EqualFold(r.LastApp, "Dial") {
		return false
	}
	return !r.HasOutboundCNum || r.OutboundCNum != ""
}

func classify(r *cdr.Record) outcome {
	switch r.Disposition {
	case cdr.Answered:
		return answered
	case cdr.Busy:
		return busy
	case cdr.NoAnswer:
		// cdr_csv keeps no hangup cause: an unallocated number (cause 1)
		// ends with no ring time at all, a call nobody answered after
		// ringing (see the fixture's README).
		if r.Duration == 0 {
			return unreachable
		}
		return noAnswer
	}
	return unreachable // FAILED, CONGESTION
}

// Add counts one row; r is not kept.
func (a *Aggregator) Add(r *cdr.Record) {
	a.counts.Rows++
	if !a.places(r) {
		a.counts.OtherRows++
		return
	}
	day := a.Day(r.Start)
	if day < a.firstDay {
		a.counts.BeforeWindow++
		return
	}
	c := call{key: r.CallKey(), dst: r.Dst, day: day, outcome: classify(r), billsec: r.BillSec}
	if c.key != "" {
		if prev, ok := a.open[c.key]; ok {
			a.counts.MergedRows++
			if c.outcome > prev.outcome || (c.outcome == prev.outcome && c.billsec > prev.billsec) {
				prev.outcome, prev.billsec, prev.dst = c.outcome, c.billsec, c.dst
			}
			return
		}
	}
	c.number = a.number(r.CallerNumber())
	if a.own != nil && !a.own[c.number] {
		a.counts.NotOwn++
		return
	}
	if a.own == nil {
		if _, ok := a.numbers[c.number]; !ok && len(a.numbers) >= a.opts.MaxNumbers {
			a.counts.OverCap++
			return
		}
	}
	if _, ok := a.numbers[c.number]; !ok {
		a.numbers[c.number] = map[int32]*dayStats{}
	}
	a.counts.Calls++
	if c.key == "" {
		a.commit(&c)
		return
	}
	a.hold(&c)
}

// hold keeps c open for more rows, committing the oldest open call when
// the window is full.
func (a *Aggregator) hold(c *call) {
	if len(a.order) < a.opts.MergeWindow {
		a.order = append(a.order, c.key)
	} else {
		old := a.order[a.head]
		if oc, ok := a.open[old]; ok {
			a.commit(oc)
			delete(a.open, old)
		}
		a.order[a.head] = c.key
		a.head = (a.head + 1) % len(a.order)
	}
	a.open[c.key] = c
}

func (a *Aggregator) commit(c *call) {
	days := a.numbers[c.number]
	if days == nil {
		return // its number's days were all dropped
	}
	if c.day < a.firstDay {
		a.counts.DroppedByDays++
		return
	}
	d := days[c.day]
	if d == nil {
		d = &dayStats{dests: hyperloglog.New14()}
		days[c.day] = d
	}
	d.add(c, a.shortCall)
}

// Since drops the days before t's day and skips calls that start before
// it from now on: a long-running Aggregator calls it to slide its window.
func (a *Aggregator) Since(t time.Time) {
	a.firstDay = a.Day(t)
	for k, c := range a.open {
		if c.day < a.firstDay {
			a.counts.DroppedByDays++
			delete(a.open, k)
		}
	}
	for n, days := range a.numbers {
		for d, ds := range days {
			if d < a.firstDay {
				a.counts.DroppedByDays += int64(ds.calls)
				delete(days, d)
			}
		}
		if len(days) == 0 && !a.hasOpen(n) {
			delete(a.numbers, n)
		}
	}
}

func (a *Aggregator) hasOpen(number string) bool {
	for _, c := range a.open {
		if c.number == number {
			return true
		}
	}
	return false
}

// Counts says what happened to the rows so far.
func (a *Aggregator) Counts() Counts { return a.counts }

// Report judges every number over the days kept, open calls included.
// Numbers come sorted by calls, most first, then by number.
func (a *Aggregator) Report() Report {
	type key struct {
		number string
		day    int32
	}
	extra := map[key][]*call{}
	for _, c := range a.open {
		if c.day >= a.firstDay {
			extra[key{c.number, c.day}] = append(extra[key{c.number, c.day}], c)
		}
	}
	rep := Report{Thresholds: a.opts.Thresholds, Counts: a.counts, Numbers: []Health{}}
	for n, days := range a.numbers {
		h := Health{Number: n, Days: []Day{}}
		all := hyperloglog.New14()
		var dayKeys []int32
		for d := range days {
			dayKeys = append(dayKeys, d)
		}
		for k := range extra {
			if k.number == n && days[k.day] == nil {
				dayKeys = append(dayKeys, k.day)
			}
		}
		slices.Sort(dayKeys)
		for _, d := range dayKeys {
			var ds dayStats
			if have := days[d]; have != nil {
				ds = *have
				ds.dests = have.dests.Clone()
			} else {
				ds.dests = hyperloglog.New14()
			}
			for _, c := range extra[key{n, d}] {
				ds.add(c, a.shortCall)
			}
			_ = all.Merge(ds.dests)
			h.Days = append(h.Days, Day{
				Date: dayDate(d), Calls: ds.calls, Answered: ds.answered, Short: ds.short,
				Unreachable: ds.unreachable, Busy: ds.busy, NoAnswer: ds.noAnswer,
				Destinations: int(ds.dests.Estimate()),
			})
			h.Calls += ds.calls
			h.Answered += ds.answered
			h.Short += ds.short
			h.Unreachable += ds.unreachable
			h.Busy += ds.busy
			h.NoAnswer += ds.noAnswer
		}
		if h.Calls == 0 {
			continue
		}
		h.Destinations = int(all.Estimate())
		h.judge(a.opts.Thresholds)
		rep.Numbers = append(rep.Numbers, h)
	}
	slices.SortFunc(rep.Numbers, func(x, y Health) int {
		if x.Calls != y.Calls {
			return y.Calls - x.Calls
		}
		return strings.Compare(x.Number, y.Number)
	})
	return rep
}
