package behavior

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
)

// Options configure Behavior.
type Options struct {
	// Counter counts calls; nil is a MemoryCounter of default size.
	Counter Counter
	// OwnNumbers are our DIDs (caller.own_number); Honeypots unassigned
	// DIDs (caller.honeypot); Customers known customers, never neighbour
	// spoofers. E.164 or national form in Region.
	OwnNumbers, Honeypots, Customers []string
	// Known, when set, also tells known customers, for example
	// (*lists.Lists).Allowed: must-pass entries are customers.
	Known func(tenant string, n number.Number) bool
	// Region reads national forms; "" is "US".
	Region string
	// Timeout bounds the counters on each call; 0 is 100ms.
	Timeout time.Duration
	// FlagKeep is how long flags are kept for repeat detection: at least
	// the longest profile repeat_window. 0 is 30 days.
	FlagKeep time.Duration
	// QueueSize bounds the flags waiting to be recorded; 0 is 4096.
	QueueSize int
	// Now is the clock for calls without a time and for Record; nil is
	// time.Now.
	Now func() time.Time
	// Logger, nil discards; Metrics, nil for none.
	Logger  *slog.Logger
	Metrics *Metrics
}

// Behavior is the behaviour source and the recorder that feeds its repeat
// detection. Close it to stop the recorder.
type Behavior struct {
	opts      Options
	counter   Counter
	log       *slog.Logger
	metrics   *Metrics
	now       func() time.Time
	own       map[string]bool
	honeypots map[string]bool
	customers map[string]bool

	queue chan flag
	stop  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
}

var (
	_ reputation.Local  = (*Behavior)(nil)
	_ decision.Recorder = (*Behavior)(nil)
)

type flag struct {
	tenant, caller, id string
	t                  time.Time
}

// SourceName is the name the behaviour checks report under in a chain.
const SourceName = "behavior"

// New returns a Behavior and starts its recorder. A number in OwnNumbers,
// Honeypots or Customers that cannot be read is an error naming it.
func New(opts Options) (*Behavior, error) {
	if opts.Region == "" {
		opts.Region = "US"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 100 * time.Millisecond
	}
	if opts.FlagKeep <= 0 {
		opts.FlagKeep = 30 * 24 * time.Hour
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 4096
	}
	b := &Behavior{
		opts: opts, counter: opts.Counter, log: opts.Logger, metrics: opts.Metrics, now: opts.Now,
		queue: make(chan flag, opts.QueueSize), stop: make(chan struct{}),
	}
	if b.counter == nil {
		b.counter = NewMemoryCounter(0, 0)
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.metrics == nil {
		b.metrics = NewMetrics(nil)
	}
	if b.now == nil {
		b.now = time.Now
	}
	var err error
	for _, s := range []struct {
		name string
		in   []string
		out  *map[string]bool
	}{{"own_numbers", opts.OwnNumbers, &b.own}, {"honeypots", opts.Honeypots, &b.honeypots}, {"customers", opts.Customers, &b.customers}} {
		if *s.out, err = numberSet(s.name, s.in, opts.Region); err != nil {
			return nil, err
		}
	}
	b.wg.Add(1)
	go b.record()
	return b, nil
}

func numberSet(name string, in []string, region string) (map[string]bool, error) {
	out := make(map[string]bool, len(in))
	for i, s := range in {
		n := number.Parse(s, region)
		if n.Key() == "" || n.Kind == number.Anonymous {
			return nil, fmt.Errorf("behavior: %s[%d] %q: not a number", name, i, s)
		}
		out[n.Key()] = true
	}
	return out, nil
}

// Close stops the recorder after writing the flags already queued (within
// a few seconds). Record after Close drops.
func (b *Behavior) Close() {
	b.once.Do(func() { close(b.stop) })
	b.wg.Wait()
}

// Lookup counts the call and returns the behaviour signals it raises (see
// the package documentation); never Final. When the counters fail or are
// too slow it still returns the configuration checks, with
// provider.unavailable, and a nil error: the call fails open.
func (b *Behavior) Lookup(ctx context.Context, q reputation.Query) (reputation.Verdict, error) {
	b.metrics.Checks.Inc()
	th := q.Profile.Thresholds
	t := q.Time
	if t.IsZero() {
		t = b.now()
	}
	caller := q.Caller.E164
	dialed := q.Dialed.Key()
	var reasons []policy.Reason
	raise := func(r policy.Reason) {
		if !slices.Contains(reasons, r) {
			reasons = append(reasons, r)
			b.metrics.Signals.WithLabelValues(string(r)).Inc()
		}
	}
	own := caller != "" && b.own[caller]
	if own {
		raise(policy.CallerOwnNumber)
	}
	if !own && b.neighbor(q) {
		raise(policy.CallerNeighbor)
	}
	honeypotDial := dialed != "" && b.honeypots[dialed]

	obs := Observation{Tenant: q.Tenant, Caller: caller, Dialed: dialed, ID: q.CallID, Time: t,
		BurstWindow: th.BurstWindow, RepeatWindow: th.RepeatWindow,
		Honeypot: honeypotDial && th.HoneypotFor > 0, HoneypotFor: th.HoneypotFor}
	if th.BurstCalls > 0 && th.BurstWindow > 0 {
		obs.BurstCap = th.BurstCalls + 1
	}
	start := time.Now()
	var counts Counts
	var err error
	if b.Local() {
		// It only looks at ctx on entry: a timer of its own would change
		// nothing.
		counts, err = b.counter.Observe(ctx, obs)
	} else {
		cctx, cancel := context.WithTimeout(ctx, b.opts.Timeout)
		counts, err = b.counter.Observe(cctx, obs)
		cancel()
	}
	b.metrics.CountSeconds.Observe(time.Since(start).Seconds())
	raw := map[string]string{}
	if err != nil {
		b.metrics.CounterErrors.Inc()
		if honeypotDial {
			raise(policy.CallerHoneypot)
		}
		reasons = append(reasons, policy.ProviderUnavailable)
		raw["counters"] = "unavailable"
		return reputation.Verdict{Verdict: policy.Verdict{Reasons: reasons}, Source: SourceName, Raw: raw}, nil
	}
	if obs.BurstCap > 0 && counts.Burst > th.BurstCalls {
		raise(policy.VelocityCallerBurst)
	}
	limit := th.FloodPerMinute
	if th.FloodPerMinuteAfterHours > 0 && !q.Profile.InHours(t) {
		limit = th.FloodPerMinuteAfterHours
	}
	if limit > 0 && dialed != "" && counts.Flood > limit {
		raise(policy.VelocityDIDFlood)
	}
	if th.RepeatGray > 0 && th.RepeatWindow > 0 && counts.Gray >= th.RepeatGray {
		raise(policy.VelocityRepeatGray)
	}
	if honeypotDial || counts.Honeypot {
		raise(policy.CallerHoneypot)
	}
	if caller != "" {
		raw["calls_in_burst_window"] = strconv.Itoa(counts.Burst)
		raw["repeat_flags"] = strconv.Itoa(counts.Gray)
	}
	if dialed != "" {
		raw["dialed_calls_per_minute"] = strconv.Itoa(counts.Flood)
	}
	return reputation.Verdict{Verdict: policy.Verdict{Reasons: reasons}, Source: SourceName, Raw: raw}, nil
}

// Local reports whether the counters are in this process's memory (a
// MemoryCounter); Redis counters are not local.
func (b *Behavior) Local() bool {
	_, ok := b.counter.(*MemoryCounter)
	return ok
}

// neighbor reports whether the caller shares NPA-NXX with the dialed
// number without being the dialed number or a known customer.
func (b *Behavior) neighbor(q reputation.Query) bool {
	c, d := q.Caller.NPANXX(), q.Dialed.NPANXX()
	if c == "" || c != d || q.Caller.E164 == q.Dialed.E164 {
		return false
	}
	if b.customers[q.Caller.E164] {
		return false
	}
	return b.opts.Known == nil || !b.opts.Known(q.Tenant, q.Caller)
}

// Record implements decision.Recorder: a call that was challenged or
// blocked (or would have been, in monitor mode) is queued as a flag for
// its caller. It never blocks: when the queue is full the flag is dropped
// and counted.
func (b *Behavior) Record(r *decision.Result) {
	if r == nil || len(r.Caller) < 2 || r.Caller[0] != '+' {
		return
	}
	act := r.Decision.Action
	if r.Decision.Held != "" {
		act = r.Decision.Held
	}
	if act != policy.Challenge && act != policy.Block {
		return
	}
	for _, reason := range r.Decision.Reasons {
		switch reason {
		case policy.ListAllow, policy.EmergencyExempt, policy.LoopAlreadyScreened:
			return
		}
	}
	t := r.Time
	if t.IsZero() {
		t = b.now()
	}
	f := flag{tenant: r.Tenant, caller: r.Caller, id: r.ID, t: t}
	select {
	case <-b.stop:
		b.metrics.Flags.WithLabelValues("dropped").Inc()
	case b.queue <- f:
	default:
		b.metrics.Flags.WithLabelValues("dropped").Inc()
	}
}

// record writes queued flags until Close.
func (b *Behavior) record() {
	defer b.wg.Done()
	write := func(f flag) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := b.counter.Flag(ctx, f.tenant, f.caller, f.id, f.t, b.opts.FlagKeep); err != nil {
			b.metrics.Flags.WithLabelValues("error").Inc()
			b.log.Debug("behavior: flag not recorded", "err", err)
			return
		}
		b.metrics.Flags.WithLabelValues("ok").Inc()
	}
	for {
		select {
		case f := <-b.queue:
			write(f)
		case <-b.stop:
			deadline := time.Now().Add(3 * time.Second)
			for time.Now().Before(deadline) {
				select {
				case f := <-b.queue:
					write(f)
				default:
					return
				}
			}
			return
		}
	}
}
