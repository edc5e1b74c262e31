package reputation

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
	"golang.org/x/sync/singleflight"

	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
)

// The defaults NewProviders applies to zero ProvidersOptions fields.
const (
	// DefaultBudget is reputation.budget: how long all provider lookups of
	// one call may hold it, together.
	DefaultBudget = 400 * time.Millisecond
	// DefaultProviderTimeout is reputation.provider_timeout: how long one
	// provider request may run, detached from the calls waiting on it, to
	// fill the cache.
	DefaultProviderTimeout = 5 * time.Second
	// DefaultBreakerFailures consecutive failures open a provider's breaker.
	DefaultBreakerFailures = 5
	// DefaultBreakerOpenFor is how long an open breaker waits before it
	// lets one probe request through.
	DefaultBreakerOpenFor = 30 * time.Second
	// DefaultMaxRetryAfter caps the wait a provider's Retry-After imposes.
	DefaultMaxRetryAfter = 10 * time.Minute
)

// ErrBudget reports that the call's reputation budget ran out before any
// provider answered.
var ErrBudget = errors.New("reputation budget exceeded")

// Cache stores provider verdicts per tenant, number and provider.
// The implementation is package reputation/cache.
type Cache interface {
	// Get looks number up for each of sources. hit[i] reports whether
	// vs[i] holds the cached verdict of sources[i], with Age set to the
	// age of the data. A miss, an expired or corrupt entry and a failing
	// store all read as a miss; Get never returns an error and never
	// blocks past ctx's deadline.
	Get(ctx context.Context, tenant, number string, sources []string) (vs []Verdict, hit []bool)
	// Set stores source's verdict for number. The store picks the TTL from
	// the verdict. Failures are counted by the store, not returned.
	Set(ctx context.Context, tenant, number, source string, v Verdict)
}

// Provider is one external reputation service, by name.
type Provider struct {
	// Name is the provider's metric label and the prefix of its Raw
	// fields ("callerapi").
	Name string
	// Source does the lookup. It returns ErrNotCovered, without sending
	// anything, for callers it does not cover.
	Source Source
}

// ProvidersOptions configure NewProviders. Zero values select the defaults.
type ProvidersOptions struct {
	// Budget is reputation.budget (default 400ms).
	Budget time.Duration
	// ProviderTimeout is reputation.provider_timeout (default 5s).
	ProviderTimeout time.Duration
	// BreakerFailures and BreakerOpenFor tune every provider's circuit
	// breaker (reputation.breaker.failures, reputation.breaker.open_for).
	BreakerFailures int
	BreakerOpenFor  time.Duration
	// MaxRetryAfter caps a provider's Retry-After (default 10m).
	MaxRetryAfter time.Duration
	// Cache is the verdict cache; nil runs without one.
	Cache Cache
	// States keeps each provider's breaker and Retry-After hold by name,
	// across Providers built one after another (a reload); nil keeps them
	// in this Providers alone.
	States *ProviderStates
	// Metrics receives the provider metrics; nil uses unregistered ones.
	Metrics *Metrics
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Providers is the last stage of the chain: every enabled provider, asked
// in parallel through the cache under one shared budget per call.
//
// For each provider, in order: a cached verdict (L1, then L2) answers at
// once. Otherwise one request per tenant, number and provider is in flight
// at a time, however many calls ask (singleflight); it runs detached from
// the calls that wait on it, through the provider's circuit breaker, for at
// most ProviderTimeout, and its answer fills the cache even when every call
// has stopped waiting. Each call waits for its answers until its budget (or
// its own deadline) runs out and then goes on with what it has plus
// provider.unavailable.
type Providers struct {
	list    []*provider
	names   []string
	opts    ProvidersOptions
	m       *Metrics
	flights singleflight.Group
	// inflight counts calls waiting on a provider request that has not
	// finished; zero means no request is running.
	inflight atomic.Int64
}

type provider struct {
	name string
	src  Source
	// breaker is state's breaker when this Providers was built (a later
	// build with other settings gives state a new one).
	breaker *gobreaker.CircuitBreaker[Verdict]
	state   *providerState
}

// ProviderStates keeps what a provider has learnt about its service, by
// provider name, outside any Providers: its circuit breaker (open after
// failures) and its Retry-After hold. A reload that builds new Providers
// with the same States finds them again, so a provider that answered 429
// with Retry-After is not asked again before that time, and an open
// breaker stays open. A breaker whose settings (failures, open_for)
// changed starts closed; the hold stays. Safe for concurrent use.
type ProviderStates struct {
	mu sync.Mutex
	m  map[string]*providerState
}

// NewProviderStates returns an empty set of states.
func NewProviderStates() *ProviderStates {
	return &ProviderStates{m: map[string]*providerState{}}
}

type providerState struct {
	breaker  *gobreaker.CircuitBreaker[Verdict]
	failures uint32
	openFor  time.Duration
	// holdUntil is the unix-nano time before which Retry-After forbids
	// requests; 0 when none.
	holdUntil atomic.Int64
}

// state returns name's state and its breaker, one of these settings.
func (s *ProviderStates) state(name string, failures uint32, openFor time.Duration, gauge prometheus.Gauge) (*providerState, *gobreaker.CircuitBreaker[Verdict]) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.m[name]
	if !ok {
		st = &providerState{}
		s.m[name] = st
	}
	if st.breaker == nil || st.failures != failures || st.openFor != openFor {
		st.failures, st.openFor = failures, openFor
		st.breaker = gobreaker.NewCircuitBreaker[Verdict](gobreaker.Settings{
			Name:        name,
			MaxRequests: 1,
			Timeout:     openFor,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
			OnStateChange: func(_ string, _, to gobreaker.State) {
				gauge.Set(float64(to))
			},
			// A caller outside coverage is not a provider fault.
			IsExcluded: func(err error) bool { return errors.Is(err, ErrNotCovered) },
		})
	}
	gauge.Set(float64(st.breaker.State()))
	return st, st.breaker
}

var _ Source = (*Providers)(nil)

// Validate reports what NewProviders refuses in o, zero fields read as
// their defaults: a negative duration or count, and a provider timeout
// shorter than the budget (the late answers that fill the cache would
// never arrive).
func (o ProvidersOptions) Validate() error {
	switch {
	case o.Budget < 0:
		return fmt.Errorf("reputation.budget: %s: must not be negative", o.Budget)
	case o.ProviderTimeout < 0:
		return fmt.Errorf("reputation.provider_timeout: %s: must not be negative", o.ProviderTimeout)
	case o.BreakerFailures < 0:
		return fmt.Errorf("reputation.breaker.failures: %d: must not be negative", o.BreakerFailures)
	case o.BreakerOpenFor < 0:
		return fmt.Errorf("reputation.breaker.open_for: %s: must not be negative", o.BreakerOpenFor)
	}
	budget, timeout := o.Budget, o.ProviderTimeout
	if budget == 0 {
		budget = DefaultBudget
	}
	if timeout == 0 {
		timeout = DefaultProviderTimeout
	}
	if timeout < budget {
		return fmt.Errorf("reputation.provider_timeout: %s: must not be shorter than reputation.budget (%s)", timeout, budget)
	}
	return nil
}

// NewProviders builds the provider stage. A provider without a name or
// source, or two with the same name, is an error; no providers at all is
// valid (the stage then knows nothing).
func NewProviders(o ProvidersOptions, ps ...Provider) (*Providers, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Budget == 0 {
		o.Budget = DefaultBudget
	}
	if o.ProviderTimeout == 0 {
		o.ProviderTimeout = DefaultProviderTimeout
	}
	if o.BreakerFailures == 0 {
		o.BreakerFailures = DefaultBreakerFailures
	}
	if o.BreakerOpenFor == 0 {
		o.BreakerOpenFor = DefaultBreakerOpenFor
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.States == nil {
		o.States = NewProviderStates()
	}
	p := &Providers{opts: o, m: o.Metrics}
	if p.m == nil {
		p.m = NewMetrics(nil)
	}
	seen := map[string]bool{}
	for _, pr := range ps {
		switch {
		case pr.Name == "":
			return nil, errors.New("reputation providers: a provider has no name")
		case pr.Source == nil:
			return nil, fmt.Errorf("reputation providers: provider %q has no source", pr.Name)
		case seen[pr.Name]:
			return nil, fmt.Errorf("reputation providers: provider %q configured twice", pr.Name)
		}
		seen[pr.Name] = true
		p.list = append(p.list, p.newProvider(pr))
		p.names = append(p.names, pr.Name)
	}
	return p, nil
}

func (p *Providers) newProvider(pr Provider) *provider {
	gauge := p.m.BreakerState.WithLabelValues(pr.Name)
	st, breaker := p.opts.States.state(pr.Name, uint32(p.opts.BreakerFailures), p.opts.BreakerOpenFor, gauge)
	return &provider{name: pr.Name, src: pr.Source, breaker: breaker, state: st}
}

// Drain waits until no provider request is running (late answers included,
// their cache writes done) or ctx ends. Shutdown calls it so that answers
// already paid for are kept; tests call it to see what a late answer left.
func (p *Providers) Drain(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for p.inflight.Load() > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("reputation providers: drain: %d requests still running: %w", p.inflight.Load(), ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Names lists the providers in the order they are asked.
func (p *Providers) Names() []string { return append([]string(nil), p.names...) }

// Budget is the per-call budget in force.
func (p *Providers) Budget() time.Duration { return p.opts.Budget }

// outcome is one provider's part in one call.
type outcome struct {
	i       int
	v       Verdict
	err     error
	shared  bool
	latency time.Duration
}

// Lookup asks every provider about q.Caller under the call's budget.
//
// Outcomes, beyond the Source contract:
//   - a caller without a valid number (anonymous, invalid) is not looked
//     up: (empty verdict, nil);
//   - a profile with coverage "nanp" and a caller outside it, or every
//     provider saying so: ErrNotCovered;
//   - some providers answered: their merged verdict, with
//     provider.unavailable added if another failed or ran out of time,
//     and nil error;
//   - none answered: a verdict with provider.unavailable and the reports,
//     and an error (ErrBudget, or the providers' classified errors);
//   - ctx cancelled (the caller hung up): ctx.Err(), wrapped.
//
// v.Sources holds one report per provider; v.Raw holds each provider's raw
// fields prefixed with its name ("callerapi.spam_score").
func (p *Providers) Lookup(ctx context.Context, q Query) (Verdict, error) {
	start := time.Now()
	defer func() { p.m.LookupSeconds.Observe(time.Since(start).Seconds()) }()
	if len(p.list) == 0 || q.Caller.Kind != number.Valid || q.Caller.E164 == "" {
		return Verdict{}, nil
	}
	if q.Profile.Coverage == policy.CoverageNANP && !q.Caller.NANP() {
		return Verdict{}, ErrNotCovered
	}
	key := q.Caller.E164
	n := len(p.list)
	results := make([]outcome, n)
	done := make([]bool, n)
	var cached []bool
	if p.opts.Cache != nil {
		var vs []Verdict
		// The cache bounds its Redis reads itself (L2 timeout, well under
		// the budget); the budget's timer is only armed for a miss.
		vs, cached = p.opts.Cache.Get(ctx, q.Tenant, key, p.names)
		for i := range p.list {
			if i < len(cached) && cached[i] {
				results[i] = outcome{i: i, v: vs[i]}
				done[i] = true
				p.m.Lookups.WithLabelValues(p.list[i].name, "cached").Inc()
			}
		}
	}

	type waiting struct {
		i  int
		ch <-chan singleflight.Result
	}
	var waits []waiting
	for i, pr := range p.list {
		if done[i] {
			continue
		}
		p.inflight.Add(1)
		ch := p.flights.DoChan(pr.name+"\x00"+q.Tenant+"\x00"+key, func() (any, error) {
			return p.fetch(ctx, pr, q)
		})
		waits = append(waits, waiting{i, ch})
	}
	toOutcome := func(i int, r singleflight.Result) outcome {
		o := outcome{i: i, err: r.Err, shared: r.Shared}
		if f, ok := r.Val.(fetched); ok {
			o.v, o.latency = f.v, f.latency
		}
		return o
	}
	arrived := func(o outcome) {
		results[o.i] = o
		done[o.i] = true
		if o.shared {
			p.m.Shared.WithLabelValues(p.list[o.i].name).Inc()
		}
	}
	pending := len(waits)
	bctx := ctx
	if pending > 0 {
		var cancel context.CancelFunc
		bctx, cancel = context.WithDeadline(ctx, start.Add(p.opts.Budget))
		defer cancel()
	}
	switch pending {
	case 0:
	case 1:
		// The common case (one provider, or one not cached) waits on the
		// flight directly: no goroutine per call.
		w := waits[0]
		select {
		case r := <-w.ch:
			p.inflight.Add(-1)
			arrived(toOutcome(w.i, r))
			pending = 0
		case <-bctx.Done():
			go func() {
				<-w.ch // the flight always delivers: it is bounded by ProviderTimeout
				p.inflight.Add(-1)
			}()
		}
	default:
		arrivals := make(chan outcome, len(waits))
		for _, w := range waits {
			go func() {
				// The flight always delivers (it is bounded by
				// ProviderTimeout) and arrivals has room for every
				// provider: this never leaks.
				r := <-w.ch
				p.inflight.Add(-1)
				arrivals <- toOutcome(w.i, r)
			}()
		}
	wait:
		for pending > 0 {
			select {
			case o := <-arrivals:
				arrived(o)
				pending--
			case <-bctx.Done():
				break wait
			}
		}
	}
	if pending > 0 && ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return Verdict{}, fmt.Errorf("reputation providers: %w", ctx.Err())
	}
	if pending > 0 {
		p.m.BudgetExceeded.Inc()
	}
	return p.merge(results, done, cached)
}

// fetched is what a flight returns.
type fetched struct {
	v       Verdict
	latency time.Duration
}

// fetch runs one provider request, detached from the calls waiting on it:
// it keeps ctx's values but not its cancellation or deadline.
func (p *Providers) fetch(ctx context.Context, pr *provider, q Query) (fetched, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.ProviderTimeout)
	defer cancel()
	if p.opts.Cache != nil {
		// A call that missed the cache just before the previous flight for
		// this number filled it and ended starts a new flight: look again
		// so it does not send a second request.
		if vs, hit := p.opts.Cache.Get(ctx, q.Tenant, q.Caller.E164, []string{pr.name}); len(hit) == 1 && hit[0] {
			return fetched{v: vs[0]}, nil
		}
	}
	now := p.opts.Now()
	if until := pr.state.holdUntil.Load(); until != 0 && now.UnixNano() < until {
		err := &ProviderError{Provider: pr.name, Class: ClassRateLimited,
			Err: fmt.Errorf("retry-after holds requests until %s", time.Unix(0, until).UTC().Format(time.RFC3339))}
		p.m.Errors.WithLabelValues(pr.name, string(ClassRateLimited)).Inc()
		return fetched{}, err
	}
	start := time.Now()
	v, err := pr.breaker.Execute(func() (Verdict, error) { return safeLookup(ctx, pr, q) })
	latency := time.Since(start)
	if !errors.Is(err, gobreaker.ErrOpenState) && !errors.Is(err, gobreaker.ErrTooManyRequests) {
		p.m.RequestSeconds.WithLabelValues(pr.name).Observe(latency.Seconds())
	}
	if err != nil {
		if errors.Is(err, ErrNotCovered) {
			return fetched{latency: latency}, err
		}
		class := Classify(err)
		p.m.Errors.WithLabelValues(pr.name, string(class)).Inc()
		var pe *ProviderError
		if errors.As(err, &pe) && pe.RetryAfter > 0 {
			wait := min(pe.RetryAfter, p.opts.MaxRetryAfter)
			pr.state.holdUntil.Store(p.opts.Now().Add(wait).UnixNano())
		}
		if class == ClassBreakerOpen && !errors.As(err, &pe) {
			err = &ProviderError{Provider: pr.name, Class: ClassBreakerOpen, Err: err}
		}
		return fetched{latency: latency}, err
	}
	v.Final = false
	v.Sources = nil
	if v.Source == "" {
		v.Source = pr.name
	}
	if latency > p.opts.Budget {
		p.m.LateFills.WithLabelValues(pr.name).Inc()
	}
	if p.opts.Cache != nil {
		// The cache write has its own short deadline: the answer is worth
		// keeping even though every caller may be gone.
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		p.opts.Cache.Set(cctx, q.Tenant, q.Caller.E164, pr.name, v)
		ccancel()
	}
	return fetched{v: v, latency: latency}, nil
}

// merge folds the providers' outcomes into one verdict, in provider order.
func (p *Providers) merge(results []outcome, done, cached []bool) (Verdict, error) {
	var out Verdict
	out.Tier = policy.TierUnknown
	answered, notCovered := 0, 0
	var errs []error
	for i, pr := range p.list {
		o := results[i]
		rep := Report{Source: pr.name, Verdict: o.v, Err: o.err, Latency: o.latency}
		lookups := p.m.Lookups.WithLabelValues(pr.name, "answered")
		switch {
		case !done[i]:
			rep.Err = &ProviderError{Provider: pr.name, Class: ClassTimeout, Err: ErrBudget}
			errs = append(errs, rep.Err)
			lookups = p.m.Lookups.WithLabelValues(pr.name, "late")
		case errors.Is(o.err, ErrNotCovered):
			notCovered++
			lookups = p.m.Lookups.WithLabelValues(pr.name, "not_covered")
		case o.err != nil:
			errs = append(errs, o.err)
			lookups = p.m.Lookups.WithLabelValues(pr.name, "error")
		default:
			answered++
			pv := o.v
			raw := pv.Raw
			pv.Raw = nil
			out.merge(pr.name, pv)
			if len(raw) > 0 {
				if out.Raw == nil {
					out.Raw = make(map[string]string, len(raw)*len(p.list))
				}
				for k, val := range raw {
					out.Raw[pr.name+"."+k] = val
				}
			}
		}
		if i >= len(cached) || !cached[i] {
			lookups.Inc()
		}
		out.Sources = append(out.Sources, rep)
	}
	switch {
	case len(errs) == 0 && answered == 0 && notCovered > 0:
		return out, ErrNotCovered
	case len(errs) == 0:
		return out, nil
	}
	out.addReason(policy.ProviderUnavailable)
	if answered > 0 {
		return out, nil
	}
	return out, fmt.Errorf("reputation providers: %w", errors.Join(errs...))
}

// safeLookup turns a panicking provider into a failed lookup: a detached
// flight that panicked would take the whole process down.
func safeLookup(ctx context.Context, pr *provider, q Query) (v Verdict, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &ProviderError{Provider: pr.name, Class: ClassOther, Err: fmt.Errorf("provider panicked: %v", r)}
		}
	}()
	return pr.src.Lookup(ctx, q)
}
