package admin

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/policy"
)

// Defaults for Recent.
const (
	DefaultRecentSize      = 10000
	DefaultStatsRetention  = 8 * 24 * time.Hour
	DefaultSubscriberQueue = 256
	MaxQueryLimit          = 5000
)

// ProfileStats counts the decisions of one profile over a time range.
type ProfileStats struct {
	Profile    string `json:"profile"`
	Total      int    `json:"total"`
	Allowed    int    `json:"allowed"`
	Blocked    int    `json:"blocked"`
	Voicemail  int    `json:"voicemail"`
	Challenged int    `json:"challenged"`
	Passed     int    `json:"passed"`
	Failed     int    `json:"failed"`
	Abandoned  int    `json:"abandoned"`
	// Held counts monitor-mode decisions that would have blocked or
	// challenged.
	Held int `json:"held"`
	// InterceptionRate is the share of calls kept from ringing (blocked or
	// sent to voicemail, challenge failures included).
	InterceptionRate float64 `json:"interception_rate"`
	// PassThrough is the share of challenged callers who passed.
	PassThrough float64 `json:"challenge_pass_through"`
}

func (p *ProfileStats) add(r *decision.Result) {
	p.Total++
	switch r.Result {
	case policy.ResultBlock:
		p.Blocked++
	case policy.ResultVoicemail:
		p.Voicemail++
	default:
		p.Allowed++
	}
	if r.Decision.Action == policy.Challenge {
		p.Challenged++
		switch r.Challenge {
		case policy.OutcomePassed:
			p.Passed++
		case policy.OutcomeFailed:
			p.Failed++
		case policy.OutcomeAbandoned:
			p.Abandoned++
		}
	}
	if r.Decision.Held == policy.Block || r.Decision.Held == policy.Challenge {
		p.Held++
	}
}

func (p *ProfileStats) merge(o *ProfileStats) {
	p.Total += o.Total
	p.Allowed += o.Allowed
	p.Blocked += o.Blocked
	p.Voicemail += o.Voicemail
	p.Challenged += o.Challenged
	p.Passed += o.Passed
	p.Failed += o.Failed
	p.Abandoned += o.Abandoned
	p.Held += o.Held
}

func (p *ProfileStats) rates() {
	if p.Total > 0 {
		p.InterceptionRate = float64(p.Blocked+p.Voicemail) / float64(p.Total)
	}
	if p.Challenged > 0 {
		p.PassThrough = float64(p.Passed) / float64(p.Challenged)
	}
}

// Recent keeps the latest decisions in memory for the admin API: a ring of
// the last Size results, per-minute counts per profile for the stats, and
// the live stream. It is a decision.Recorder; Record never blocks: a
// subscriber whose queue is full is dropped.
type Recent struct {
	size      int
	retention time.Duration
	subQueue  int
	m         *Metrics

	mu      sync.RWMutex
	ring    []*decision.Result
	next    int
	full    bool
	minutes map[int64]map[string]*ProfileStats
	oldest  int64
	subs    map[*subscriber]struct{}
}

type subscriber struct {
	ch   chan *Event
	done bool
	stop func() bool // stops the context watch
}

// Event is one decision on the live stream. Every subscriber receives the
// same *Event; SSE encodes it on first use, once for all of them, and not
// on the call path that recorded it.
type Event struct {
	Result *decision.Result
	once   sync.Once
	msg    []byte
}

// SSE returns the event as a server-sent event: "event: decision", the
// decision id, and the Decision JSON as data.
func (e *Event) SSE() []byte {
	e.once.Do(func() { e.msg = encodeSSE(e.Result) })
	return e.msg
}

func encodeSSE(res *decision.Result) []byte {
	data, err := json.Marshal(View(res))
	if err != nil {
		return nil
	}
	id := strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, res.ID)
	msg := make([]byte, 0, len(data)+len(id)+40)
	msg = append(msg, "event: decision\nid: "...)
	msg = append(msg, id...)
	msg = append(msg, "\ndata: "...)
	msg = append(msg, data...)
	msg = append(msg, "\n\n"...)
	return msg
}

var (
	_ decision.Recorder = (*Recent)(nil)
	_ Decisions         = (*Recent)(nil)
	_ Stream            = (*Recent)(nil)
)

// RecentOptions configures NewRecent; zero fields take the defaults.
type RecentOptions struct {
	// Size is how many decisions the ring keeps.
	Size int
	// Retention is how far back the per-minute stats go.
	Retention time.Duration
	// SubscriberQueue is how many decisions a stream subscriber may lag
	// before it is dropped.
	SubscriberQueue int
	Metrics         *Metrics
}

// NewRecent makes an empty store.
func NewRecent(o RecentOptions) *Recent {
	if o.Size <= 0 {
		o.Size = DefaultRecentSize
	}
	if o.Retention <= 0 {
		o.Retention = DefaultStatsRetention
	}
	if o.SubscriberQueue <= 0 {
		o.SubscriberQueue = DefaultSubscriberQueue
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	return &Recent{
		size: o.Size, retention: o.Retention, subQueue: o.SubscriberQueue, m: o.Metrics,
		ring:    make([]*decision.Result, o.Size),
		minutes: map[int64]map[string]*ProfileStats{},
		subs:    map[*subscriber]struct{}{},
	}
}

// Record stores a copy of r and hands it to every subscriber.
func (rc *Recent) Record(r *decision.Result) {
	cp := *r
	res := &cp
	minute := res.Time.Unix() / 60
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.ring[rc.next] = res
	rc.next = (rc.next + 1) % rc.size
	if rc.next == 0 {
		rc.full = true
	}
	byProfile := rc.minutes[minute]
	if byProfile == nil {
		byProfile = map[string]*ProfileStats{}
		rc.minutes[minute] = byProfile
		rc.prune(minute)
	}
	ps := byProfile[res.Profile]
	if ps == nil {
		ps = &ProfileStats{Profile: res.Profile}
		byProfile[res.Profile] = ps
	}
	ps.add(res)
	if len(rc.subs) == 0 {
		return
	}
	ev := &Event{Result: res}
	for s := range rc.subs {
		select {
		case s.ch <- ev:
		default: // too slow: drop it rather than wait
			rc.drop(s)
			rc.m.streamDropped.Inc()
		}
	}
}

// prune forgets minutes older than the retention, at most once a minute.
func (rc *Recent) prune(now int64) {
	limit := now - int64(rc.retention/time.Minute)
	if rc.oldest >= limit {
		return
	}
	for m := range rc.minutes {
		if m < limit {
			delete(rc.minutes, m)
		}
	}
	rc.oldest = limit
}

func (rc *Recent) drop(s *subscriber) {
	if !s.done {
		s.done = true
		close(s.ch)
		delete(rc.subs, s)
		rc.m.streamSubscribers.Dec()
		if s.stop != nil {
			s.stop()
		}
	}
}

// Subscribe implements Stream.
func (rc *Recent) Subscribe(ctx context.Context) <-chan *Event {
	s := &subscriber{ch: make(chan *Event, rc.subQueue)}
	rc.mu.Lock()
	rc.subs[s] = struct{}{}
	rc.m.streamSubscribers.Inc()
	// No goroutine per subscriber: the end of ctx drops it.
	s.stop = context.AfterFunc(ctx, func() {
		rc.mu.Lock()
		rc.drop(s)
		rc.mu.Unlock()
	})
	rc.mu.Unlock()
	return s.ch
}

// Recent implements Decisions.
func (rc *Recent) Recent(_ context.Context, q Query) ([]*decision.Result, error) {
	limit := q.Limit
	if limit <= 0 || limit > MaxQueryLimit {
		limit = MaxQueryLimit
	}
	callerDigits := digits(q.Caller)
	rc.mu.RLock()
	defer rc.mu.RUnlock()
	var out []*decision.Result
	n := rc.next
	if rc.full {
		n = rc.size
	}
	for i := 1; i <= n && len(out) < limit; i++ {
		r := rc.ring[(rc.next-i+rc.size)%rc.size]
		if match(r, q, callerDigits) {
			out = append(out, r)
		}
	}
	return out, nil
}

func match(r *decision.Result, q Query, callerDigits string) bool {
	switch {
	case q.Result != "" && string(r.Result) != q.Result,
		q.Profile != "" && r.Profile != q.Profile,
		q.Tenant != "" && r.Tenant != q.Tenant,
		!q.From.IsZero() && r.Time.Before(q.From),
		!q.To.IsZero() && !r.Time.Before(q.To),
		q.Reason != "" && !slices.Contains(r.Decision.Reasons, policy.Reason(q.Reason)):
		return false
	}
	if q.Caller != "" {
		return callerDigits != "" && (strings.Contains(digits(r.Caller), callerDigits) || strings.Contains(digits(r.CallerRaw), callerDigits))
	}
	return true
}

func digits(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// Stats implements Decisions, at minute resolution: a minute counts when
// it starts within [from, to).
func (rc *Recent) Stats(_ context.Context, from, to time.Time) ([]ProfileStats, error) {
	lo, hi := (from.Unix()+59)/60, (to.Unix()+59)/60 // minute m covers [60m, 60m+60)
	sums := map[string]*ProfileStats{}
	rc.mu.RLock()
	for m, byProfile := range rc.minutes {
		if m < lo || m >= hi {
			continue
		}
		for name, ps := range byProfile {
			s := sums[name]
			if s == nil {
				s = &ProfileStats{Profile: name}
				sums[name] = s
			}
			s.merge(ps)
		}
	}
	rc.mu.RUnlock()
	out := make([]ProfileStats, 0, len(sums))
	for _, s := range sums {
		s.rates()
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Profile < out[j].Profile })
	return out, nil
}
