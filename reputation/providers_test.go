package reputation_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/callscreen/callscreen/internal/redistest"
	"github.com/callscreen/callscreen/internal/timingtest"
	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/redisconn"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/cache"
	"github.com/callscreen/callscreen/reputation/callerapi"
	"github.com/callscreen/callscreen/reputation/httpsource"
	"github.com/callscreen/callscreen/reputation/httpsource/httpsourcetest"
	"github.com/callscreen/callscreen/reputation/youmail"
)

const caller = "+12125551234"

func query(raw string) reputation.Query {
	return reputation.Query{CallID: "test", Caller: number.Parse(raw, "US"), Dialed: number.Parse("+15551230000", "US"), Profile: policy.Default()}
}

// adapters builds each provider adapter against a URL, with the body of a
// clean answer and of a spam answer in its own dialect.
var adapters = []struct {
	name  string
	new   func(t *testing.T, url string) reputation.Source
	clean string
	spam  string
}{
	{
		name: callerapi.Name,
		new: func(t *testing.T, url string) reputation.Source {
			s, err := callerapi.New(callerapi.Config{URL: url, Key: "k"})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		clean: `{"status":"success","data":{"reputation":"safe","entity_type":"business","is_spam":false,"spam_score":2}}`,
		spam:  `{"status":"success","data":{"reputation":"spam","is_spam":true,"spam_score":95}}`,
	},
	{
		name: youmail.Name,
		new: func(t *testing.T, url string) reputation.Source {
			s, err := youmail.New(youmail.Config{URL: url, SID: "s", Key: "k"})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		clean: `{"statusCode":10000,"recordFound":true,"spamRisk":{"level":0}}`,
		spam:  `{"statusCode":10000,"recordFound":true,"spamRisk":{"level":2}}`,
	},
	{
		name: httpsource.Name,
		new: func(t *testing.T, url string) reputation.Source {
			s, err := httpsource.New(httpsource.Config{URL: url})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		clean: `{"tier":"BUSINESS","reasons":["provider.business"]}`,
		spam:  `{"tier":"SPAM","score":97}`,
	},
}

type stage struct {
	p *reputation.Providers
	c *cache.Cache
	m *reputation.Metrics
}

// newStage builds a provider stage. Unless o sets them, the budget and
// the provider timeout are far longer than any answer here takes: only
// the tests of the budget set one, and no other test may fail because a
// busy machine stalled a loopback request.
func newStage(t *testing.T, o reputation.ProvidersOptions, ps ...reputation.Provider) stage {
	t.Helper()
	if o.Budget == 0 {
		o.Budget = 10 * time.Second
	}
	if o.ProviderTimeout == 0 {
		o.ProviderTimeout = max(o.Budget, 20*time.Second)
	}
	if o.Cache == nil {
		c, err := cache.New(cache.Options{})
		if err != nil {
			t.Fatal(err)
		}
		o.Cache = c
	}
	if o.Metrics == nil {
		o.Metrics = reputation.NewMetrics(nil)
	}
	p, err := reputation.NewProviders(o, ps...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Drain(ctx); err != nil {
			t.Errorf("drain: %v", err)
		}
	})
	c, _ := o.Cache.(*cache.Cache)
	return stage{p: p, c: c, m: o.Metrics}
}

func (s stage) drain(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.p.Drain(ctx); err != nil {
		t.Fatal(err)
	}
}

func (s stage) cached(source string) (reputation.Verdict, bool) {
	vs, hit := s.c.Get(context.Background(), "", caller, []string{source})
	return vs[0], hit[0]
}

// TestFaults runs every provider against every way a provider fails. Each
// time the call's decision carries provider.unavailable (policy default:
// allow) and nothing is cached as spam. A provider that never answers by
// itself leaves the call to its budget alone: the call ends (a hang is
// caught, not a speed measured) with the budget as that provider's
// report, and the slow answer, let go only then, fills the cache.
func TestFaults(t *testing.T) {
	const budget = 100 * time.Millisecond
	wantClass := map[string]reputation.ErrorClass{
		"500":                  reputation.ClassStatus5xx,
		"503":                  reputation.ClassStatus5xx,
		"429 with Retry-After": reputation.ClassStatus429,
		"invalid JSON":         reputation.ClassInvalidJSON,
		"not JSON":             reputation.ClassInvalidJSON,
		"10 MB body":           reputation.ClassTooLarge,
		"body that trickles":   reputation.ClassTimeout,
		"connection refused":   reputation.ClassConnection,
	}
	for _, a := range adapters {
		for _, f := range httpsourcetest.Faults(a.clean) {
			t.Run(a.name+"/"+f.Name, func(t *testing.T) {
				url := httpsourcetest.RefusedURL(t)
				if f.Handler != nil {
					url = httpsourcetest.Start(t, f.Handler).URL
				}
				// The held answer must still arrive, after the call, within
				// the provider timeout; the others end within a second
				// (the trickle is cut by it: class timeout).
				timeout := time.Second
				if f.Release != nil {
					timeout = time.Minute
				}
				s := newStage(t, reputation.ProvidersOptions{Budget: budget, ProviderTimeout: timeout},
					reputation.Provider{Name: a.name, Source: a.new(t, url)})
				chain := reputation.Chain{{Name: "providers", Source: s.p}}
				q := query(caller)
				var v reputation.Verdict
				var err error
				timingtest.Returns(t, "the lookup", func() { v, err = chain.Lookup(context.Background(), q) })
				if f.Release != nil {
					close(f.Release)
				}
				if err != nil {
					t.Fatal(err)
				}
				s.drain(t)
				if !slices.Contains(v.Reasons, policy.ProviderUnavailable) || v.Tier == policy.TierSpam {
					t.Errorf("verdict tier %s reasons %v; want provider.unavailable, not spam", v.Tier, v.Reasons)
				}
				if f.Release != nil {
					if len(v.Sources) != 1 || !errors.Is(v.Sources[0].Err, reputation.ErrBudget) {
						t.Errorf("reports %+v; want the budget as the held provider's", v.Sources)
					}
				}
				if d := policy.Decide(policy.Call{Caller: q.Caller, Time: time.Now()}, v.Verdict, policy.Default()); d.Action != policy.Allow {
					t.Errorf("decision %s %v; want allow (fail-open)", d.Action, d.Reasons)
				}

				cv, hit := s.cached(a.name)
				if hit && (cv.Tier == policy.TierSpam || cache.Class(cv) == "spam") {
					t.Errorf("cached %+v after a fault; nothing may be cached as spam", cv)
				}
				if class, ok := wantClass[f.Name]; ok {
					if hit {
						t.Errorf("a failure was cached: %+v", cv)
					}
					if got := testutil.ToFloat64(s.m.Errors.WithLabelValues(a.name, string(class))); got != 1 {
						t.Errorf("errors{class=%s} = %v; want 1", class, got)
					}
				} else if !hit || cv.Source != a.name || cache.Class(cv) != "clean" {
					// Slower than the budget: the late answer fills the cache.
					t.Errorf("late answer not cached: %+v %v", cv, hit)
				}
			})
		}
	}
}

// TestLateAnswerFillsCache: an answer the call stopped waiting for (held
// until then) fills the cache, and the next call reads it from there
// without a request.
func TestLateAnswerFillsCache(t *testing.T) {
	a := adapters[0]
	release := make(chan struct{})
	srv := httpsourcetest.Start(t, httpsourcetest.Held(release, httpsourcetest.JSON(a.spam)))
	s := newStage(t, reputation.ProvidersOptions{Budget: 50 * time.Millisecond}, reputation.Provider{Name: a.name, Source: a.new(t, srv.URL)})
	var v reputation.Verdict
	var err error
	timingtest.Returns(t, "the first lookup", func() { v, err = s.p.Lookup(context.Background(), query(caller)) })
	close(release)
	if err == nil || !errors.Is(err, reputation.ErrBudget) || !slices.Contains(v.Reasons, policy.ProviderUnavailable) {
		t.Fatalf("first call: %+v, %v; want ErrBudget and provider.unavailable", v, err)
	}
	if got := testutil.ToFloat64(s.m.BudgetExceeded); got != 1 {
		t.Fatalf("budget exceeded = %v; want 1", got)
	}
	s.drain(t)
	if got := testutil.ToFloat64(s.m.LateFills.WithLabelValues(a.name)); got != 1 {
		t.Fatalf("late fills = %v; want 1", got)
	}
	v, err = s.p.Lookup(context.Background(), query(caller))
	if err != nil || v.Tier != policy.TierSpam || !slices.Contains(v.Reasons, policy.ProviderSpam) {
		t.Fatalf("second call: %+v, %v; want the cached spam verdict", v, err)
	}
	if got := testutil.ToFloat64(s.m.Lookups.WithLabelValues(a.name, "cached")); got != 1 || srv.Requests() != 1 {
		t.Fatalf("second call: %v cached lookups and %d requests; want a cache hit", got, srv.Requests())
	}
	if v.Raw["callerapi.reputation"] != "spam" || v.Source != a.name || len(v.Sources) != 1 {
		t.Fatalf("verdict raw %v source %q reports %d", v.Raw, v.Source, len(v.Sources))
	}
}

// TestThousandConcurrentLookups: 1,000 calls from one uncached number make
// exactly one provider request, and the first caller hanging up does not
// fail the others.
func TestThousandConcurrentLookups(t *testing.T) {
	a := adapters[0]
	release := make(chan struct{})
	srv := httpsourcetest.Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		httpsourcetest.JSON(a.spam)(w, r)
	}))
	s := newStage(t, reputation.ProvidersOptions{Budget: 5 * time.Second, ProviderTimeout: 10 * time.Second},
		reputation.Provider{Name: a.name, Source: a.new(t, srv.URL)})

	// The first caller starts the request, then hangs up.
	q := query(caller)
	firstCtx, hangup := context.WithCancel(context.Background())
	firstErr := make(chan error, 1)
	go func() {
		_, err := s.p.Lookup(firstCtx, q)
		firstErr <- err
	}()
	deadline := time.Now().Add(20 * time.Second)
	for srv.Requests() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the first lookup sent no request")
		}
		time.Sleep(time.Millisecond)
	}

	const n = 999
	var wg sync.WaitGroup
	var spam, other atomic.Int64
	var firstBad atomic.Value
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := s.p.Lookup(context.Background(), q)
			if err == nil && v.Tier == policy.TierSpam {
				spam.Add(1)
				return
			}
			other.Add(1)
			firstBad.CompareAndSwap(nil, fmt.Sprintf("%+v %v", v.Verdict, err))
		}()
	}
	// Every other caller has joined the request (it is held until
	// release): n+1 lookups waiting.
	timingtest.WaitFor(t, "every caller to join the request", func() bool { return s.p.InFlight() == n+1 })
	hangup()
	if err := <-firstErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("the caller who hung up got %v; want context.Canceled", err)
	}
	close(release)
	wg.Wait()
	if spam.Load() != n {
		t.Fatalf("%d of %d callers got the spam verdict; first other: %v", spam.Load(), n, firstBad.Load())
	}
	if got := srv.Requests(); got != 1 {
		t.Fatalf("%d provider requests; want exactly 1", got)
	}
	// Callers that started after the answer was cached read the cache;
	// the others shared the one request.
	if shared := testutil.ToFloat64(s.m.Shared.WithLabelValues(a.name)); shared == 0 {
		t.Fatal("no caller shared the request")
	}
}

// TestParallelProvidersPartial: one provider answers, the other is held
// until the call has returned: the call goes on at its budget with what it
// has plus provider.unavailable, and the held answer, let go then, fills
// the cache for the next call.
func TestParallelProvidersPartial(t *testing.T) {
	release := make(chan struct{})
	fast := httpsourcetest.Start(t, httpsourcetest.JSON(adapters[0].spam))
	slow := httpsourcetest.Start(t, httpsourcetest.Held(release, httpsourcetest.JSON(adapters[1].clean)))
	// The fast provider has the whole budget to answer, on any machine;
	// the held one can only be ended by it.
	s := newStage(t, reputation.ProvidersOptions{Budget: 2 * time.Second, ProviderTimeout: time.Minute},
		reputation.Provider{Name: adapters[1].name, Source: adapters[1].new(t, slow.URL)},
		reputation.Provider{Name: adapters[0].name, Source: adapters[0].new(t, fast.URL)},
	)
	q := query(caller)
	var v reputation.Verdict
	var err error
	timingtest.Returns(t, "the lookup", func() { v, err = s.p.Lookup(context.Background(), q) })
	close(release)
	if err != nil {
		t.Fatalf("partial answer returned error %v", err)
	}
	if v.Tier != policy.TierSpam || !slices.Contains(v.Reasons, policy.ProviderSpam) || !slices.Contains(v.Reasons, policy.ProviderUnavailable) {
		t.Fatalf("verdict %s %v; want callerapi's spam plus provider.unavailable for youmail", v.Tier, v.Reasons)
	}
	if v.Source != callerapi.Name || v.Raw["callerapi.spam_score"] != "95" {
		t.Fatalf("source %q raw %v", v.Source, v.Raw)
	}
	if len(v.Sources) != 2 || v.Sources[0].Source != youmail.Name || !errors.Is(v.Sources[0].Err, reputation.ErrBudget) || v.Sources[1].Err != nil {
		t.Fatalf("reports %+v", v.Sources)
	}
	s.drain(t)
	// Both are cached now: the next call is complete, without a request.
	v, err = s.p.Lookup(context.Background(), query(caller))
	if err != nil || slices.Contains(v.Reasons, policy.ProviderUnavailable) || v.Raw["youmail.spam_risk_level"] != "0" {
		t.Fatalf("after the late answer: %+v, %v", v, err)
	}
	if fast.Requests() != 1 || slow.Requests() != 1 {
		t.Fatalf("%d and %d requests; want one each, then the cache", fast.Requests(), slow.Requests())
	}
}

func TestCoverage(t *testing.T) {
	srv := httpsourcetest.Start(t, httpsourcetest.JSON(adapters[1].clean))
	s := newStage(t, reputation.ProvidersOptions{}, reputation.Provider{Name: youmail.Name, Source: adapters[1].new(t, srv.URL)})
	chain := reputation.Chain{{Name: "providers", Source: s.p}}
	v, _ := chain.Lookup(context.Background(), query("+442079460000"))
	if !slices.Contains(v.Reasons, policy.CallerOutOfCoverage) || slices.Contains(v.Reasons, policy.ProviderUnavailable) {
		t.Fatalf("UK caller with YouMail only: reasons %v; want caller.out_of_coverage only", v.Reasons)
	}
	q := query("+442079460000")
	q.Profile.Coverage = policy.CoverageNANP
	if _, err := s.p.Lookup(context.Background(), q); !errors.Is(err, reputation.ErrNotCovered) {
		t.Fatalf("nanp profile, UK caller: %v; want ErrNotCovered", err)
	}
	for _, raw := range []string{"anonymous", "unknown", ""} {
		v, err := s.p.Lookup(context.Background(), query(raw))
		if err != nil || len(v.Reasons) != 0 {
			t.Fatalf("caller %q: %+v, %v; want nothing known and nothing asked", raw, v, err)
		}
	}
	s.drain(t)
	if srv.Requests() != 0 {
		t.Fatalf("%d requests for callers that must not be sent", srv.Requests())
	}
}

func TestBreaker(t *testing.T) {
	var healthy atomic.Bool
	srv := httpsourcetest.Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if healthy.Load() {
			httpsourcetest.JSON(adapters[0].clean)(w, r)
			return
		}
		httpsourcetest.Status(http.StatusInternalServerError, "")(w, r)
	}))
	s := newStage(t, reputation.ProvidersOptions{BreakerFailures: 3, BreakerOpenFor: time.Second},
		reputation.Provider{Name: callerapi.Name, Source: adapters[0].new(t, srv.URL)})
	for i := range 6 {
		_, err := s.p.Lookup(context.Background(), query(caller))
		want := reputation.ClassStatus5xx
		if i >= 3 {
			want = reputation.ClassBreakerOpen
		}
		if !errors.Is(err, want) {
			t.Fatalf("lookup %d: %v; want %s", i, err, want)
		}
	}
	if srv.Requests() != 3 {
		t.Fatalf("%d requests; the open breaker must stop them after 3", srv.Requests())
	}
	if got := testutil.ToFloat64(s.m.BreakerState.WithLabelValues(callerapi.Name)); got != 2 {
		t.Fatalf("breaker gauge = %v; want 2 (open)", got)
	}
	healthy.Store(true)
	// Poll until open_for (1 s) has passed: lookups meanwhile are refused
	// by the open breaker without a request; then one probe goes out.
	var (
		v   reputation.Verdict
		err error
	)
	deadline := time.Now().Add(timingtest.WaitTimeout)
	for {
		v, err = s.p.Lookup(context.Background(), query(caller))
		if !errors.Is(err, reputation.ClassBreakerOpen) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("breaker still open after %s", timingtest.WaitTimeout)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	if err != nil || v.Tier != policy.TierBusiness {
		t.Fatalf("probe after open_for: %+v, %v", v, err)
	}
	if srv.Requests() != 4 {
		t.Fatalf("%d requests; want 3 and one probe", srv.Requests())
	}
	if got := testutil.ToFloat64(s.m.BreakerState.WithLabelValues(callerapi.Name)); got != 0 {
		t.Fatalf("breaker gauge = %v; want 0 (closed) after a good probe", got)
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestRetryAfterHonoured(t *testing.T) {
	var limited atomic.Bool
	limited.Store(true)
	srv := httpsourcetest.Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if limited.Load() {
			httpsourcetest.Status(http.StatusTooManyRequests, "120")(w, r)
			return
		}
		httpsourcetest.JSON(adapters[0].clean)(w, r)
	}))
	clk := &clock{t: time.Now()}
	s := newStage(t, reputation.ProvidersOptions{Now: clk.Now}, reputation.Provider{Name: callerapi.Name, Source: adapters[0].new(t, srv.URL)})
	if _, err := s.p.Lookup(context.Background(), query(caller)); !errors.Is(err, reputation.ClassStatus429) {
		t.Fatalf("first lookup: %v; want status_429", err)
	}
	limited.Store(false)
	clk.Advance(119 * time.Second)
	if _, err := s.p.Lookup(context.Background(), query(caller)); !errors.Is(err, reputation.ClassRateLimited) {
		t.Fatalf("lookup inside Retry-After: %v; want rate_limited", err)
	}
	if srv.Requests() != 1 {
		t.Fatalf("%d requests; none may be sent before Retry-After ends", srv.Requests())
	}
	clk.Advance(2 * time.Second)
	if v, err := s.p.Lookup(context.Background(), query(caller)); err != nil || v.Tier != policy.TierBusiness {
		t.Fatalf("lookup after Retry-After: %+v, %v", v, err)
	}
}

// TestStatesSurviveRebuild: Providers built anew (as a reload does) with
// the same ProviderStates keep each provider's Retry-After hold and open
// breaker; without them they forget.
func TestStatesSurviveRebuild(t *testing.T) {
	tests := []struct {
		name string
		// answer is the provider's answer to every request.
		answer http.HandlerFunc
		// first and second are the options of the Providers built
		// before and after the rebuild.
		first, second reputation.ProvidersOptions
		shared        bool
		// before is how many lookups the first Providers makes; want
		// is the error of the second's lookup, sent its requests in all.
		before int
		want   error
		sent   int
	}{
		{
			name:   "a Retry-After hold stays",
			answer: httpsourcetest.Status(http.StatusTooManyRequests, "600"),
			shared: true, before: 1, want: reputation.ClassRateLimited, sent: 1,
		},
		{
			name:   "forgotten without shared states",
			answer: httpsourcetest.Status(http.StatusTooManyRequests, "600"),
			before: 1, want: reputation.ClassStatus429, sent: 2,
		},
		{
			name:   "an open breaker stays open",
			answer: httpsourcetest.Status(http.StatusInternalServerError, ""),
			first:  reputation.ProvidersOptions{BreakerFailures: 2, BreakerOpenFor: time.Hour},
			second: reputation.ProvidersOptions{BreakerFailures: 2, BreakerOpenFor: time.Hour},
			shared: true, before: 2, want: reputation.ClassBreakerOpen, sent: 2,
		},
		{
			name:   "a breaker with new settings starts closed",
			answer: httpsourcetest.Status(http.StatusInternalServerError, ""),
			first:  reputation.ProvidersOptions{BreakerFailures: 2, BreakerOpenFor: time.Hour},
			second: reputation.ProvidersOptions{BreakerFailures: 3, BreakerOpenFor: time.Hour},
			shared: true, before: 2, want: reputation.ClassStatus5xx, sent: 3,
		},
		{
			name:   "a hold stays when the breaker settings change",
			answer: httpsourcetest.Status(http.StatusTooManyRequests, "600"),
			second: reputation.ProvidersOptions{BreakerFailures: 9},
			shared: true, before: 1, want: reputation.ClassRateLimited, sent: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httpsourcetest.Start(t, tt.answer)
			states := reputation.NewProviderStates()
			build := func(o reputation.ProvidersOptions) stage {
				if tt.shared {
					o.States = states
				}
				// A new source each time, as a reload builds one.
				return newStage(t, o, reputation.Provider{Name: callerapi.Name, Source: adapters[0].new(t, srv.URL)})
			}
			first := build(tt.first)
			for i := range tt.before {
				if _, err := first.p.Lookup(context.Background(), query(caller)); err == nil {
					t.Fatalf("lookup %d before the rebuild succeeded", i)
				}
			}
			second := build(tt.second)
			_, err := second.p.Lookup(context.Background(), query(caller))
			if !errors.Is(err, tt.want) {
				t.Errorf("lookup after the rebuild: %v; want %s", err, tt.want)
			}
			if got := srv.Requests(); got != tt.sent {
				t.Errorf("%d requests sent; want %d", got, tt.sent)
			}
		})
	}
}

func TestPanickingProvider(t *testing.T) {
	s := newStage(t, reputation.ProvidersOptions{}, reputation.Provider{Name: "broken", Source: reputation.SourceFunc(
		func(context.Context, reputation.Query) (reputation.Verdict, error) { panic("boom") })})
	_, err := s.p.Lookup(context.Background(), query(caller))
	if !errors.Is(err, reputation.ClassOther) {
		t.Fatalf("panicking provider: %v; want a classified error", err)
	}
}

func TestNewProvidersRejects(t *testing.T) {
	src := reputation.SourceFunc(func(context.Context, reputation.Query) (reputation.Verdict, error) { return reputation.Verdict{}, nil })
	tests := []struct {
		o    reputation.ProvidersOptions
		ps   []reputation.Provider
		want string
	}{
		{reputation.ProvidersOptions{Budget: -1}, nil, "reputation.budget: -1ns: must not be negative"},
		{reputation.ProvidersOptions{Budget: time.Second, ProviderTimeout: 500 * time.Millisecond}, nil, "reputation.provider_timeout: 500ms: must not be shorter than reputation.budget (1s)"},
		{reputation.ProvidersOptions{}, []reputation.Provider{{Source: src}}, "reputation providers: a provider has no name"},
		{reputation.ProvidersOptions{}, []reputation.Provider{{Name: "x"}}, `reputation providers: provider "x" has no source`},
		{reputation.ProvidersOptions{}, []reputation.Provider{{Name: "x", Source: src}, {Name: "x", Source: src}}, `reputation providers: provider "x" configured twice`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if _, err := reputation.NewProviders(tt.o, tt.ps...); err == nil || err.Error() != tt.want {
				t.Fatalf("NewProviders = %v; want %q", err, tt.want)
			}
		})
	}
	p, err := reputation.NewProviders(reputation.ProvidersOptions{})
	if err != nil || p.Budget() != reputation.DefaultBudget {
		t.Fatalf("defaults: %v budget %s", err, p.Budget())
	}
	if v, err := p.Lookup(context.Background(), query(caller)); err != nil || len(v.Reasons) != 0 {
		t.Fatalf("no providers: %+v, %v; want nothing known", v, err)
	}
}

func newRedisStage(t *testing.T, addr, url string) stage {
	t.Helper()
	rdb, err := redisconn.New(redisconn.Options{Addrs: []string{addr}, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	// Seconds for each Redis operation, not the call path's 50ms: a late
	// write lost on a busy machine would send instance B to the provider.
	c, err := cache.New(cache.Options{Redis: rdb, L2Timeout: 10 * time.Second, L2PauseFor: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// A generous budget: these tests are about Redis, not the budget, and
	// must not fail because a loaded machine stalled a loopback request.
	return newStage(t, reputation.ProvidersOptions{Cache: c, Budget: 5 * time.Second, ProviderTimeout: 10 * time.Second},
		reputation.Provider{Name: callerapi.Name, Source: adapters[0].new(t, url)})
}

// TestSharedRedis: two instances share verdicts through Redis.
func TestSharedRedis(t *testing.T) {
	rs := redistest.Start(t)
	srv := httpsourcetest.Start(t, httpsourcetest.JSON(adapters[0].spam))
	a := newRedisStage(t, rs.Addr(), srv.URL)
	b := newRedisStage(t, rs.Addr(), srv.URL)
	if v, err := a.p.Lookup(context.Background(), query(caller)); err != nil || v.Tier != policy.TierSpam {
		t.Fatalf("instance A: %+v, %v", v, err)
	}
	a.drain(t)
	if v, err := b.p.Lookup(context.Background(), query(caller)); err != nil || v.Tier != policy.TierSpam {
		t.Fatalf("instance B: %+v, %v", v, err)
	}
	if srv.Requests() != 1 {
		t.Fatalf("%d provider requests; instance B must read A's answer from Redis", srv.Requests())
	}
}

// TestRedisKilledMidRun: lookups go on without a failure while Redis dies
// and comes back, and the cache uses Redis again by itself.
func TestRedisKilledMidRun(t *testing.T) {
	rs := redistest.Start(t)
	srv := httpsourcetest.Start(t, httpsourcetest.JSON(adapters[0].clean))
	s := newRedisStage(t, rs.Addr(), srv.URL)
	lookup := func(i int) {
		t.Helper()
		q := query(fmt.Sprintf("+1212555%04d", i))
		v, err := s.p.Lookup(context.Background(), q)
		if err != nil || slices.Contains(v.Reasons, policy.ProviderUnavailable) || v.Tier != policy.TierBusiness {
			t.Fatalf("lookup %d: %+v, %v; want a clean answer", i, v.Verdict, err)
		}
	}
	for i := range 20 {
		lookup(i)
	}
	rs.Kill()
	for i := 20; i < 60; i++ {
		lookup(i)
	}
	rs.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for i := 60; ; i++ {
		lookup(i)
		s.drain(t)
		if r, _ := rs.Do("EXISTS", cache.Key("", fmt.Sprintf("+1212555%04d", i), callerapi.Name)); r == ":1\r\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the cache did not write to Redis again within 10s of its restart")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want reputation.ErrorClass
	}{
		{nil, ""},
		{reputation.ErrNotCovered, ""},
		{context.DeadlineExceeded, reputation.ClassTimeout},
		{fmt.Errorf("x: %w", context.Canceled), reputation.ClassCancelled},
		{&reputation.ProviderError{Provider: "p", Class: reputation.ClassTooLarge}, reputation.ClassTooLarge},
		{fmt.Errorf("wrapped: %w", &reputation.ProviderError{Provider: "p", Class: reputation.ClassStatus429}), reputation.ClassStatus429},
		{errors.New("mystery"), reputation.ClassOther},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.err), func(t *testing.T) {
			if got := reputation.Classify(tt.err); got != tt.want {
				t.Fatalf("Classify(%v) = %q; want %q", tt.err, got, tt.want)
			}
		})
	}
	pe := &reputation.ProviderError{Provider: "youmail", Class: reputation.ClassStatus429, Status: 429, RetryAfter: time.Minute, Err: errors.New("slow down")}
	if pe.Error() != "youmail: status_429 (HTTP 429) (retry after 1m0s): slow down" {
		t.Fatalf("Error() = %q", pe.Error())
	}
}
