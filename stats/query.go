package stats

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Query selects what a summary or the DID table covers: calls that started
// in [From, To), of Profile and DID when set.
type Query struct {
	From, To time.Time
	// Step is the width of a point of the series; 0 chooses one that gives
	// at most MaxPoints points.
	Step         time.Duration
	Profile, DID string
}

// MaxPoints bounds the points of a series.
const MaxPoints = 2000

// targetPoints is how many points a chosen step aims at.
const targetPoints = 120

// steps are the widths a chosen step is one of.
var steps = []time.Duration{
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// niceStep is the smallest of steps that cuts d into at most n points.
func niceStep(d time.Duration, n int) time.Duration {
	for _, s := range steps {
		if d <= s*time.Duration(n) {
			return s
		}
	}
	return steps[len(steps)-1]
}

// ErrInvalid wraps the errors of a query that cannot be answered as asked.
var ErrInvalid = errors.New("invalid statistics query")

// ParseRange reads a range: a duration such as 1h, 90m, 24h or 7d, or
// "all" (the whole retention). It must not exceed retention.
func ParseRange(s string, retention time.Duration) (time.Duration, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "all" || s == "retention" {
		return retention, nil
	}
	var d time.Duration
	var err error
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		days, err = strconv.Atoi(n)
		d = time.Duration(days) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(s)
	}
	switch {
	case err != nil || d <= 0:
		return 0, fmt.Errorf("%w: range %q: want a duration such as 1h, 24h or 7d, or all", ErrInvalid, s)
	case d < time.Minute:
		return 0, fmt.Errorf("%w: range %q: at least 1m", ErrInvalid, s)
	case d > retention:
		return 0, fmt.Errorf("%w: range %q: statistics go back %s (stats.retention); use all for the whole of it", ErrInvalid, s, FormatDuration(retention))
	}
	return d, nil
}

// FormatDuration writes whole days as "7d", else as time.Duration does,
// without trailing zero units ("1h", "90m").
func FormatDuration(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	return strings.TrimSuffix(s, "0m")
}

// check validates q against the retention and picks its step.
func (s *Stats) check(q *Query) error {
	if q.From.IsZero() || q.To.IsZero() || !q.To.After(q.From) {
		return fmt.Errorf("%w: to must be after from", ErrInvalid)
	}
	if q.Step == 0 {
		q.Step = niceStep(q.To.Sub(q.From), targetPoints)
	}
	if q.Step < time.Minute || q.Step%time.Minute != 0 {
		return fmt.Errorf("%w: step %s: want whole minutes, at least 1m", ErrInvalid, q.Step)
	}
	if n := q.To.Sub(q.From) / q.Step; n > MaxPoints {
		return fmt.Errorf("%w: step %s gives %d points over the range, at most %d", ErrInvalid, q.Step, n, MaxPoints)
	}
	return nil
}

// fine reports whether a step needs minute buckets all through.
func fine(step time.Duration) bool { return step%time.Hour != 0 }

// minuteFloor is the first minute (on an hour boundary) from which minute
// buckets are kept.
func (s *Stats) minuteFloor(now time.Time) int64 {
	return ceilDiv(now.Add(-s.opts.MinuteKeep).Unix(), 3600) * 60
}

// Source says where an answer came from.
type Source struct {
	// Shared is true when the figures are the sum of every instance
	// (Redis), false when they are this instance's own.
	Shared bool `json:"shared"`
	// Warning says why figures that should be shared are not.
	Warning string `json:"warning,omitempty"`
	// Rebuilding is true while this instance still reads its decision log.
	Rebuilding bool `json:"rebuilding"`
}

// scanAll scans [from, to) in the shared store and, when that fails, in
// this instance's memory, saying so in src.
func (s *Stats) scanAll(ctx context.Context, src *Source, from, to time.Time, fineGrained bool, fn func(start int64, d Dim, c *Counts)) error {
	floor := s.minuteFloor(s.now())
	if s.shared != nil && src.Warning == "" {
		var buf []func()
		err := scan(ctx, s.shared, from, to, fineGrained, floor, func(start int64, d Dim, c *Counts) {
			cp := *c
			buf = append(buf, func() { fn(start, d, &cp) })
		})
		if err == nil {
			src.Shared = true
			for _, f := range buf {
				f()
			}
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		src.Warning = "shared statistics unavailable (" + err.Error() + "): this instance's own calls only"
		src.Shared = false
	}
	return scan(ctx, s.local, from, to, fineGrained, floor, fn)
}

// ProfileRow is the figures of one profile ("*" for all of them).
type ProfileRow struct {
	Profile string `json:"profile"`
	Figures
}

// Series are the points of the charts, one per step, as columns: Time[i]
// is the start of point i (Unix seconds). A rate is null where nothing was
// there to divide.
type Series struct {
	Time               []int64    `json:"time"`
	Calls              []int64    `json:"calls"`
	ResultAllow        []int64    `json:"result_allow"`
	ResultBlock        []int64    `json:"result_block"`
	ResultVoicemail    []int64    `json:"result_voicemail"`
	InterceptionRate   []*float64 `json:"interception_rate"`
	PassThrough        []*float64 `json:"challenge_pass_through"`
	WouldBlockRate     []*float64 `json:"would_block_rate"`
	WouldChallengeRate []*float64 `json:"would_challenge_rate"`
	JunkShare          []*float64 `json:"junk_share"`
}

// Summary is the answer to GET /api/v1/stats.
type Summary struct {
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	StepSeconds int64     `json:"step_seconds"`
	// RetentionSeconds is how far back statistics go.
	RetentionSeconds int64 `json:"retention_seconds"`
	Source
	Profiles []ProfileRow `json:"profiles"`
	Total    ProfileRow   `json:"total"`
	Series   Series       `json:"series"`
}

// slots lays out the points of a series: the first starts at from rounded
// down to a multiple of step.
type slots struct {
	start, step int64
	n           int
}

func newSlots(from, to time.Time, step time.Duration) slots {
	st := int64(step / time.Second)
	start := floorDiv(from.Unix(), st) * st
	return slots{start: start, step: st, n: int(ceilDiv(to.Unix()-start, st))}
}

func (sl slots) index(t int64) int {
	i := floorDiv(t-sl.start, sl.step)
	if i < 0 || i >= int64(sl.n) {
		return -1
	}
	return int(i)
}

func rate(a, b int64) *float64 {
	if b <= 0 {
		return nil
	}
	r := float64(a) / float64(b)
	return &r
}

// Summary answers q: figures per profile and in all, and the series of
// the charts.
func (s *Stats) Summary(ctx context.Context, q Query) (*Summary, error) {
	if err := s.check(&q); err != nil {
		return nil, err
	}
	sl := newSlots(q.From, q.To, q.Step)
	points := make([]Counts, sl.n)
	byProfile := map[string]*Counts{}
	var total Counts
	out := &Summary{
		From: q.From.UTC(), To: q.To.UTC(), StepSeconds: sl.step, RetentionSeconds: int64(s.opts.Retention / time.Second),
		Source: Source{Rebuilding: s.Rebuilding()},
	}
	err := s.scanAll(ctx, &out.Source, q.From, q.To, fine(q.Step), func(start int64, d Dim, c *Counts) {
		if (q.Profile != "" && d.Profile != q.Profile) || (q.DID != "" && d.DID != q.DID) {
			return
		}
		p := byProfile[d.Profile]
		if p == nil {
			p = &Counts{}
			byProfile[d.Profile] = p
		}
		p.merge(c)
		total.merge(c)
		if i := sl.index(start); i >= 0 {
			points[i].mergeCounters(c)
		}
	})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(byProfile))
	for name := range byProfile {
		names = append(names, name)
	}
	slices.Sort(names)
	out.Profiles = make([]ProfileRow, 0, len(names))
	for _, name := range names {
		out.Profiles = append(out.Profiles, ProfileRow{Profile: name, Figures: figures(byProfile[name])})
	}
	out.Total = ProfileRow{Profile: "*", Figures: figures(&total)}
	ser := &out.Series
	for i := range sl.n {
		c := &points[i]
		ser.Time = append(ser.Time, sl.start+int64(i)*sl.step)
		ser.Calls = append(ser.Calls, c.Calls)
		blocked := c.Intercepted - c.Voicemail
		ser.ResultAllow = append(ser.ResultAllow, c.Calls-c.Intercepted)
		ser.ResultBlock = append(ser.ResultBlock, blocked)
		ser.ResultVoicemail = append(ser.ResultVoicemail, c.Voicemail)
		ser.InterceptionRate = append(ser.InterceptionRate, rate(c.Intercepted, c.Calls))
		ser.PassThrough = append(ser.PassThrough, rate(c.Passed, c.Passed+c.Failed+c.Abandoned))
		ser.WouldBlockRate = append(ser.WouldBlockRate, rate(c.HeldBlock, c.Monitored))
		ser.WouldChallengeRate = append(ser.WouldChallengeRate, rate(c.HeldChallenge, c.Monitored))
		ser.JunkShare = append(ser.JunkShare, rate(c.Junk(), c.Calls))
	}
	return out, nil
}

// TrendPoint is one point of a DID's trend.
type TrendPoint struct {
	Time      time.Time `json:"time"`
	Calls     int64     `json:"calls"`
	JunkShare *float64  `json:"junk_share"`
}

// trendPoints is how many points a DID's trend has at most.
const trendPoints = 12

// DIDRow is one dialed number's figures: the answer to "should we release
// this number?".
type DIDRow struct {
	DID      string   `json:"did"`
	Profiles []string `json:"profiles"`
	Figures
	// Trend is the DID's calls and junk share over the range, in up to 12
	// points.
	Trend []TrendPoint `json:"trend"`
	// PreviousJunkShare is the junk share over the same length of time
	// before the range, null when there were no calls then (or it is
	// beyond the retention).
	PreviousJunkShare *float64 `json:"previous_junk_share"`
	// TrendDirection compares JunkShare with PreviousJunkShare: up, down
	// or flat (within 5 points), "" when there is nothing to compare.
	TrendDirection string `json:"trend_direction"`
	// DaysAbove counts the days, from the latest back, whose junk share was
	// above the release threshold with enough calls.
	DaysAbove int `json:"days_above"`
	// ReleaseHint says, when DaysAbove reaches the configured days, that
	// releasing the number is worth a thought; "" otherwise.
	ReleaseHint string `json:"release_hint"`
}

type didAcc struct {
	total, prev Counts
	profiles    map[string]bool
	trend       []Counts
	days        []Counts
}

// DIDs answers q per dialed number: the DIDs that had calls in the range,
// most junk first. The Source says where the figures came from.
func (s *Stats) DIDs(ctx context.Context, q Query) ([]DIDRow, Source, error) {
	if err := s.check(&q); err != nil {
		return nil, Source{}, err
	}
	src := Source{Rebuilding: s.Rebuilding()}
	rng := q.To.Sub(q.From)
	trendStep := niceStep(rng, trendPoints)
	sl := newSlots(q.From, q.To, trendStep)
	acc := map[string]*didAcc{}
	get := func(did string) *didAcc {
		a := acc[did]
		if a == nil {
			a = &didAcc{profiles: map[string]bool{}, trend: make([]Counts, sl.n), days: make([]Counts, s.opts.Release.Days)}
			acc[did] = a
		}
		return a
	}
	match := func(d Dim) bool {
		return (q.Profile == "" || d.Profile == q.Profile) && (q.DID == "" || d.DID == q.DID)
	}
	err := s.scanAll(ctx, &src, q.From, q.To, fine(trendStep), func(start int64, d Dim, c *Counts) {
		if !match(d) {
			return
		}
		a := get(d.DID)
		a.total.merge(c)
		a.profiles[d.Profile] = true
		if i := sl.index(start); i >= 0 {
			a.trend[i].mergeCounters(c)
		}
	})
	if err != nil {
		return nil, src, err
	}
	now := s.now()
	if prevFrom := q.From.Add(-rng); !prevFrom.Before(now.Add(-s.opts.Retention)) {
		err = s.scanAll(ctx, &src, prevFrom, q.From, false, func(_ int64, d Dim, c *Counts) {
			if a := acc[d.DID]; a != nil && match(d) {
				a.prev.mergeCounters(c)
			}
		})
		if err != nil {
			return nil, src, err
		}
	}
	// The release hint looks at 24-hour windows ending with the current
	// hour, whatever the range.
	end := (floorDiv(now.Unix(), 3600) + 1) * 3600
	days := int64(s.opts.Release.Days)
	err = s.scanAll(ctx, &src, time.Unix(end-days*86400, 0), now, false, func(start int64, d Dim, c *Counts) {
		a := acc[d.DID]
		if a == nil || !match(d) || start >= end {
			return
		}
		if k := (end - 1 - start) / 86400; k >= 0 && k < days {
			a.days[k].mergeCounters(c)
		}
	})
	if err != nil {
		return nil, src, err
	}
	rel := s.opts.Release
	out := make([]DIDRow, 0, len(acc))
	for did, a := range acc {
		row := DIDRow{DID: did, Figures: figures(&a.total)}
		for p := range a.profiles {
			row.Profiles = append(row.Profiles, p)
		}
		slices.Sort(row.Profiles)
		for i := range a.trend {
			c := &a.trend[i]
			row.Trend = append(row.Trend, TrendPoint{Time: time.Unix(sl.start+int64(i)*sl.step, 0).UTC(), Calls: c.Calls, JunkShare: rate(c.Junk(), c.Calls)})
		}
		row.PreviousJunkShare = rate(a.prev.Junk(), a.prev.Calls)
		if p := row.PreviousJunkShare; p != nil {
			switch diff := row.JunkShare - *p; {
			case diff > 0.05:
				row.TrendDirection = "up"
			case diff < -0.05:
				row.TrendDirection = "down"
			default:
				row.TrendDirection = "flat"
			}
		}
		for i := range a.days {
			c := &a.days[i]
			if c.Calls < rel.MinCalls || ratio(c.Junk(), c.Calls) <= rel.JunkShare {
				break
			}
			row.DaysAbove++
		}
		if row.DaysAbove >= rel.Days {
			row.ReleaseHint = fmt.Sprintf("junk share above %.0f%% on each of the last %d days (at least %d calls a day): consider releasing this number",
				rel.JunkShare*100, rel.Days, rel.MinCalls)
		}
		out = append(out, row)
	}
	slices.SortFunc(out, func(a, b DIDRow) int {
		switch {
		case a.JunkShare != b.JunkShare:
			if a.JunkShare > b.JunkShare {
				return -1
			}
			return 1
		case a.Calls != b.Calls:
			if a.Calls > b.Calls {
				return -1
			}
			return 1
		}
		return strings.Compare(a.DID, b.DID)
	})
	return out, src, nil
}
