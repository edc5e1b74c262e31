package behavior

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/internal/redistest"
	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
)

// start is a Monday, 10:00 UTC: inside the test profile's hours.
var start = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func profile() policy.Profile {
	p := policy.Default()
	p.Hours = []policy.Window{{Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}, Open: 9 * time.Hour, Close: 17 * time.Hour}}
	return p
}

// counters returns a fresh Counter of each kind.
func counters(t *testing.T) map[string]func() Counter {
	srv := redistest.Start(t)
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{srv.Addr()}})
	t.Cleanup(func() { rdb.Close() })
	n := 0
	return map[string]func() Counter{
		"memory": func() Counter { return NewMemoryCounter(0, 0) },
		"redis": func() Counter {
			n++ // a fresh key space per use
			return NewRedisCounter(rdb, fmt.Sprintf("test%d:bh", n))
		},
	}
}

type harness struct {
	t   *testing.T
	b   *Behavior
	c   *clock
	seq int
}

func newHarness(t *testing.T, counter Counter, opts Options) *harness {
	c := &clock{t: start}
	opts.Counter, opts.Now = counter, c.Now
	opts.Timeout = 2 * time.Second
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return &harness{t: t, b: b, c: c}
}

func (h *harness) call(tenant, caller, dialed string) []policy.Reason {
	h.t.Helper()
	h.seq++
	q := reputation.Query{
		CallID: fmt.Sprintf("call-%d", h.seq), Tenant: tenant,
		Caller: number.Parse(caller, "US"), Dialed: number.Parse(dialed, "US"),
		Profile: profile(), Time: h.c.Now(),
	}
	v, err := h.b.Lookup(context.Background(), q)
	if err != nil {
		h.t.Fatal(err)
	}
	if v.Final {
		h.t.Fatal("behaviour verdicts are never final")
	}
	return v.Reasons
}

const (
	caller = "+13135550101"
	dialed = "+12125550000"
)

func TestBurst(t *testing.T) {
	for name, mk := range counters(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, mk(), Options{})
			for i := 1; i <= 4; i++ {
				if r := h.call("", caller, dialed); slices.Contains(r, policy.VelocityCallerBurst) {
					t.Fatalf("call %d of 4 in the window raised a burst", i)
				}
				h.c.Add(time.Minute)
			}
			if r := h.call("", caller, dialed); !slices.Contains(r, policy.VelocityCallerBurst) {
				t.Fatalf("5th call within 10 minutes: %v, want a burst", r)
			}
			// Another tenant, another caller: separate counts.
			if r := h.call("acme", caller, dialed); slices.Contains(r, policy.VelocityCallerBurst) {
				t.Fatal("tenants share burst counts")
			}
			if r := h.call("", "+13135550102", dialed); slices.Contains(r, policy.VelocityCallerBurst) {
				t.Fatal("callers share burst counts")
			}
			// 10 minutes after the first calls, the window has moved on.
			h.c.Add(8 * time.Minute)
			if r := h.call("", caller, dialed); slices.Contains(r, policy.VelocityCallerBurst) {
				t.Fatalf("calls older than the window still count: %v", r)
			}
		})
	}
}

func TestFlood(t *testing.T) {
	for name, mk := range counters(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, mk(), Options{})
			// 30 calls a minute is the limit in business hours.
			h.c.Add(-h.c.Now().Sub(start.Truncate(time.Minute))) // minute start
			var last []policy.Reason
			for i := range 31 {
				last = h.call("", fmt.Sprintf("+1313555%04d", i), dialed)
				if i < 30 && slices.Contains(last, policy.VelocityDIDFlood) {
					t.Fatalf("call %d raised a flood", i+1)
				}
			}
			if !slices.Contains(last, policy.VelocityDIDFlood) {
				t.Fatalf("31st call in a minute: %v, want a flood", last)
			}
			// Everyone is challenged during the flood, not just repeat callers.
			if r := h.call("", "+14155550100", dialed); !slices.Contains(r, policy.VelocityDIDFlood) {
				t.Fatal("a new caller during the flood is not flagged")
			}
			// Another dialed number is not flooded.
			if r := h.call("", "+14155550100", "+12125550001"); slices.Contains(r, policy.VelocityDIDFlood) {
				t.Fatal("flood leaked to another DID")
			}
			// Two minutes later it is over.
			h.c.Add(2 * time.Minute)
			if r := h.call("", "+14155550101", dialed); slices.Contains(r, policy.VelocityDIDFlood) {
				t.Fatal("flood outlived its minute")
			}
			// After hours the limit is 10 a minute.
			h.c.Add(12 * time.Hour) // 22:02
			for i := range 11 {
				last = h.call("", fmt.Sprintf("+1313556%04d", i), dialed)
			}
			if !slices.Contains(last, policy.VelocityDIDFlood) {
				t.Fatalf("11th call in a minute after hours: %v, want a flood", last)
			}
		})
	}
}

func TestNeighborAndOwnNumber(t *testing.T) {
	h := newHarness(t, NewMemoryCounter(0, 0), Options{
		OwnNumbers: []string{"(212) 555-0000", "+12125550001"},
		Customers:  []string{"2125559999"},
		Known:      func(tenant string, n number.Number) bool { return tenant == "acme" && n.E164 == "+12125558888" },
	})
	tests := []struct {
		name, tenant, caller, dialed string
		want                         []policy.Reason
	}{
		{"neighbour", "", "+12125551234", "+12125550000", []policy.Reason{policy.CallerNeighbor}},
		{"different exchange", "", "+12125561234", "+12125550000", nil},
		{"different area code", "", "+13135551234", "+12125550000", nil},
		{"configured customer", "", "+12125559999", "+12125550000", nil},
		{"must-pass customer of the tenant", "acme", "+12125558888", "+12125550000", nil},
		{"must-pass customer of another tenant", "", "+12125558888", "+12125550000", []policy.Reason{policy.CallerNeighbor}},
		{"own number (not also a neighbour)", "", "+12125550001", "+12125550000", []policy.Reason{policy.CallerOwnNumber}},
		{"own number in national form", "", "2125550000", "+13135550000", []policy.Reason{policy.CallerOwnNumber}},
		{"international", "", "+442079460000", "+12125550000", nil},
		{"anonymous", "", "anonymous", "+12125550000", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := h.call(tt.tenant, tt.caller, tt.dialed); !slices.Equal(got, tt.want) {
				t.Fatalf("reasons = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBadConfig(t *testing.T) {
	if _, err := New(Options{Honeypots: []string{"+12125550000", "not a number"}}); err == nil || err.Error() != `behavior: honeypots[1] "not a number": not a number` {
		t.Fatalf("err = %v", err)
	}
}

func result(caller string, act policy.Action, reasons ...policy.Reason) *decision.Result {
	return &decision.Result{ID: caller + string(act), Caller: caller, Decision: policy.Decision{Action: act, Reasons: reasons}}
}

func TestRepeatGray(t *testing.T) {
	for name, mk := range counters(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, mk(), Options{})
			flagged := func(want float64) {
				t.Helper()
				deadline := time.Now().Add(20 * time.Second)
				for testutil.ToFloat64(h.b.metrics.Flags.WithLabelValues("ok")) < want {
					if time.Now().After(deadline) {
						t.Fatalf("flags recorded: %v, want %v", testutil.ToFloat64(h.b.metrics.Flags.WithLabelValues("ok")), want)
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			rec := func(r *decision.Result) {
				r.Time = h.c.Now()
				r.ID = fmt.Sprintf("r%d", h.seq)
				h.seq++
				h.b.Record(r)
			}
			// Allowed, must-pass and emergency calls are not flags.
			rec(result(caller, policy.Allow))
			rec(result(caller, policy.Allow, policy.ListAllow))
			rec(result(caller, policy.Block, policy.EmergencyExempt))
			rec(result("anonymous", policy.Challenge))
			for i := range 3 {
				if r := h.call("", caller, dialed); slices.Contains(r, policy.VelocityRepeatGray) {
					t.Fatalf("escalated after %d flags", i)
				}
				res := result(caller, policy.Challenge, policy.ProviderRiskMedium)
				if i == 2 {
					// Monitor mode holds the challenge back: still a flag.
					res.Decision = policy.Decision{Action: policy.Allow, Held: policy.Challenge}
				}
				rec(res)
				flagged(float64(i + 1))
				h.c.Add(24 * time.Hour)
			}
			if r := h.call("", caller, dialed); !slices.Contains(r, policy.VelocityRepeatGray) {
				t.Fatalf("3 flags in 7 days: %v, want repeat_gray", r)
			}
			if r := h.call("acme", caller, dialed); slices.Contains(r, policy.VelocityRepeatGray) {
				t.Fatal("flags leaked across tenants")
			}
			// A week after the first flag it no longer counts.
			h.c.Add(4*24*time.Hour + time.Hour)
			if r := h.call("", caller, dialed); slices.Contains(r, policy.VelocityRepeatGray) {
				t.Fatalf("flags older than the window still count: %v", r)
			}
		})
	}
}

func TestHoneypot(t *testing.T) {
	for name, mk := range counters(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, mk(), Options{Honeypots: []string{"+12125550999"}})
			if r := h.call("", caller, dialed); slices.Contains(r, policy.CallerHoneypot) {
				t.Fatal("flagged before dialing a honeypot")
			}
			if r := h.call("", caller, "+12125550999"); !slices.Contains(r, policy.CallerHoneypot) {
				t.Fatalf("call to a honeypot: %v", r)
			}
			h.c.Add(29 * 24 * time.Hour)
			if r := h.call("", caller, dialed); !slices.Contains(r, policy.CallerHoneypot) {
				t.Fatalf("29 days after dialing a honeypot: %v, want caller.honeypot", r)
			}
			if r := h.call("acme", caller, dialed); slices.Contains(r, policy.CallerHoneypot) {
				t.Fatal("honeypot mark leaked across tenants")
			}
			h.c.Add(2 * 24 * time.Hour)
			if r := h.call("", caller, dialed); slices.Contains(r, policy.CallerHoneypot) {
				t.Fatalf("31 days after: %v, want no mark", r)
			}
		})
	}
}

// TestRedisDown: counters unavailable still answer the configuration
// checks, with provider.unavailable, and no error (fail-open).
func TestRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{srv.Addr()}, MaxRetries: -1})
	defer rdb.Close()
	h := newHarness(t, NewRedisCounter(rdb, ""), Options{OwnNumbers: []string{"+12125550001"}, Honeypots: []string{"+12125550999"}})
	srv.Kill()
	want := []policy.Reason{policy.CallerOwnNumber, policy.CallerHoneypot, policy.ProviderUnavailable}
	if got := h.call("", "+12125550001", "+12125550999"); !slices.Equal(got, want) {
		t.Fatalf("reasons with Redis down = %v, want %v", got, want)
	}
	if testutil.ToFloat64(h.b.metrics.CounterErrors) != 1 {
		t.Fatal("counter error not counted")
	}
	// Back, empty, scripts gone: works again.
	srv.Restart()
	if got := h.call("", caller, dialed); slices.Contains(got, policy.ProviderUnavailable) {
		t.Fatalf("after Redis came back: %v", got)
	}
}

// roundTrips counts what reaches Redis.
type roundTrips struct {
	trips, commands atomic.Int64
}

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.trips.Add(1)
		r.commands.Add(1)
		return next(ctx, cmd)
	}
}
func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.trips.Add(1)
		r.commands.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// TestOneRoundTrip: a call's behaviour check is one round trip to Redis,
// also after Redis lost its scripts (then two), never more.
func TestOneRoundTrip(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	rt := &roundTrips{}
	rdb.AddHook(rt)
	h := newHarness(t, NewRedisCounter(rdb, ""), Options{Honeypots: []string{"+12125550999"}})
	h.call("", caller, dialed) // loads the scripts
	rt.trips.Store(0)
	rt.commands.Store(0)
	const calls = 50
	for i := range calls {
		h.call("", fmt.Sprintf("+1313555%04d", i%7), dialed)
	}
	if got := rt.trips.Load(); got != calls {
		t.Fatalf("%d calls took %d round trips, want %d", calls, got, calls)
	}
	if got := rt.commands.Load(); got != 2*calls {
		t.Fatalf("%d calls sent %d commands, want %d", calls, got, 2*calls)
	}
	if _, err := srv.Do("SCRIPT", "FLUSH"); err != nil {
		t.Fatal(err)
	}
	rt.trips.Store(0)
	if r := h.call("", caller, dialed); slices.Contains(r, policy.ProviderUnavailable) {
		t.Fatalf("after SCRIPT FLUSH: %v", r)
	}
	if got := rt.trips.Load(); got != 2 {
		t.Fatalf("after SCRIPT FLUSH a call took %d round trips, want 2", got)
	}
}

// blockingCounter never answers Flag until released.
type blockingCounter struct {
	MemoryCounter
	release chan struct{}
}

func (b *blockingCounter) Flag(ctx context.Context, _, _, _ string, _ time.Time, _ time.Duration) error {
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	return ctx.Err()
}

func TestRecordNeverBlocks(t *testing.T) {
	bc := &blockingCounter{MemoryCounter: *NewMemoryCounter(0, 0), release: make(chan struct{})}
	b, err := New(Options{Counter: bc, QueueSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		for range 100 {
			b.Record(result(caller, policy.Challenge))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Record blocked")
	}
	if d := testutil.ToFloat64(b.metrics.Flags.WithLabelValues("dropped")); d < 90 {
		t.Fatalf("dropped = %v, want most of 100", d)
	}
	close(bc.release)
	b.Close()
	b.Record(result(caller, policy.Challenge)) // after Close: dropped, no panic
}

func TestVerifier(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{srv.Addr()}, MaxRetries: -1})
	defer rdb.Close()
	v := NewRedisVerifier(rdb, "")
	ctx := context.Background()
	if ok, err := v.Verified(ctx, "", caller); ok || err != nil {
		t.Fatalf("Verified before marking = %v, %v", ok, err)
	}
	if err := v.MarkVerified(ctx, "", caller, 150*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if ok, _ := v.Verified(ctx, "", caller); !ok {
		t.Fatal("not verified after marking")
	}
	if ok, _ := v.Verified(ctx, "acme", caller); ok {
		t.Fatal("verification leaked across tenants")
	}
	// A second instance on the same Redis sees it.
	if ok, _ := NewRedisVerifier(rdb, "").Verified(ctx, "", caller); !ok {
		t.Fatal("another instance does not see the verification")
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, _ := v.Verified(ctx, "", caller)
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("verification never expired")
		}
		time.Sleep(20 * time.Millisecond)
	}
	srv.Kill()
	if _, err := v.Verified(ctx, "", caller); err == nil {
		t.Fatal("Verified with Redis down: want an error")
	}
	if err := v.MarkVerified(ctx, "", caller, time.Hour); err == nil {
		t.Fatal("MarkVerified with Redis down: want an error")
	}
}

// wrappedCounter is a MemoryCounter the Behavior does not recognise: it
// takes the path with a timer of its own, as Redis counters do.
type wrappedCounter struct{ *MemoryCounter }

// TestLocalCounterAgrees: in-memory counters asked without a timer of
// their own count and answer as with one, call after call (bursts, floods,
// repeat flags, honeypots, a call whose context has ended).
func TestLocalCounterAgrees(t *testing.T) {
	opts := Options{OwnNumbers: []string{dialed}, Honeypots: []string{"+12125550999"}}
	local := newHarness(t, NewMemoryCounter(0, 0), opts)
	timed := newHarness(t, wrappedCounter{NewMemoryCounter(0, 0)}, opts)
	if !local.b.Local() || timed.b.Local() {
		t.Fatalf("Local() = %v and %v; want true and false", local.b.Local(), timed.b.Local())
	}
	ask := func(h *harness, ctx context.Context, caller, dialed string) (reputation.Verdict, error) {
		h.seq++
		q := reputation.Query{CallID: fmt.Sprintf("call-%d", h.seq), Caller: number.Parse(caller, "US"),
			Dialed: number.Parse(dialed, "US"), Profile: profile(), Time: h.c.Now()}
		return h.b.Lookup(ctx, q)
	}
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	callers := []string{caller, "+13135550102", "+12125550101", dialed, "anonymous"}
	dials := []string{dialed, "+12125550999", "+15551230000"}
	seen := map[policy.Reason]bool{}
	for i := range 60 {
		ctx := context.Background()
		if i%17 == 16 {
			ctx = ended
		}
		c, d := callers[i%len(callers)], dials[i%len(dials)]
		if e := number.Parse(c, "US").E164; i%2 == 0 && e != "" {
			for _, h := range []*harness{local, timed} {
				if err := h.b.counter.Flag(context.Background(), "", e, "flag", h.c.Now(), time.Hour); err != nil {
					t.Fatal(err)
				}
			}
		}
		lv, lerr := ask(local, ctx, c, d)
		tv, terr := ask(timed, ctx, c, d)
		if !reflect.DeepEqual(lv, tv) || (lerr == nil) != (terr == nil) {
			t.Fatalf("call %d (%s → %s):\nwithout a timer %+v %v\nwith one        %+v %v", i, c, d, lv, lerr, tv, terr)
		}
		for _, r := range lv.Reasons {
			seen[r] = true
		}
		local.c.Add(20 * time.Second)
		timed.c.Add(20 * time.Second)
	}
	for _, r := range []policy.Reason{policy.VelocityCallerBurst, policy.VelocityRepeatGray, policy.CallerHoneypot,
		policy.CallerOwnNumber, policy.ProviderUnavailable} {
		if !seen[r] {
			t.Errorf("no call raised %s: the comparison does not cover it", r)
		}
	}
}
