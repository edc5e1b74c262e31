package redisconn_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/internal/promtest"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/stats"
	"github.com/callscreen/callscreen/tail"
)

// The shared statistics (stats/: per-minute and per-hour hashes written
// behind by a script per key, the generation key) and the live tail
// (tail/: pub/sub) of two instances, through a topology whose master is
// killed. The phases, each on a DID of its own:
//   - before: counts both instances recorded, written and replicated
//     before the kill, must all be there after it;
//   - down: counts recorded while the master is dead are kept in memory
//     (the writes fail, counted) and written once a replica took over;
//   - late: counts of calls that started 10 minutes before, recorded while
//     the master is dead, go into a bucket both readers have cached as
//     settled: written after the failover, they bump the generation key,
//     and both readers must read the bucket again;
//   - after: counts recorded after the failover;
//   - load: the calls callLoad screens through the kill, recorded by
//     instance a as serve records them. What the old master acknowledged
//     in its last instant and had not yet copied to its replica is lost
//     (Redis replicates asynchronously); such counts are logged, and
//     counting one twice fails the test.
//
// Every figure is read on both instances, from minute buckets (a 1-hour
// range) and from hour buckets (whole hours), and must be exact: a write
// half done when the master died (one key on the dead master, the other on
// a live one) must not be counted twice when it is sent again.
const (
	didBefore = "+18005550001"
	didDown   = "+18005550002"
	didAfter  = "+18005550003"
	didLate   = "+18005550004"
	didLoad   = "+15551230000" // callLoad's calls
)

var quiet = slog.New(slog.DiscardHandler)

// instance is one callscreen instance's statistics and live tail, as
// service builds them, on a Redis client of its own.
type instance struct {
	name  string
	stats *stats.Stats
	reg   *prometheus.Registry
	relay *tail.Relay
	inbox *inbox
	stop  func()
}

// inbox collects the decisions a relay delivers (the other instance's).
type inbox struct {
	mu  sync.Mutex
	ids []string
}

func (b *inbox) Record(r *decision.Result) {
	b.mu.Lock()
	b.ids = append(b.ids, r.ID)
	b.mu.Unlock()
}

func (b *inbox) has(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Contains(b.ids, id)
}

func (b *inbox) all() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.ids)
}

// sharedOptions are what the two instances share: the statistics' key
// prefix and the live tail's channel (a cluster test picks them so their
// slots are on the master it kills).
type sharedOptions struct {
	prefix, channel string
}

func startInstance(t *testing.T, name string, rdb redis.UniversalClient, so sharedOptions) *instance {
	t.Helper()
	in := &instance{name: name, reg: prometheus.NewRegistry(), inbox: &inbox{}}
	in.stats = stats.New(stats.Options{Redis: rdb, Prefix: so.prefix, FlushInterval: 20 * time.Millisecond,
		Metrics: stats.NewMetrics(in.reg), Logger: quiet})
	in.relay = tail.New(tail.Options{Redis: rdb, Channel: so.channel, Instance: name, Deliver: in.inbox,
		Metrics: tail.NewMetrics(in.reg), Logger: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); in.stats.Run(ctx) }()
	ready := make(chan struct{})
	go func() { defer wg.Done(); in.relay.Run(ctx, ready) }()
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: the live tail did not subscribe within 20s", name)
	}
	var once sync.Once
	in.stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(in.stop)
	return in
}

// record makes n decisions on did, each counted by the statistics and
// published on the live tail, as the flow's recorders do. Record never
// blocks, whatever Redis does.
func (in *instance) record(phase, did string, n int) []string {
	return in.recordAt(phase, did, n, time.Now())
}

// recordAt is record for calls that started at.
func (in *instance) recordAt(phase, did string, n int, at time.Time) []string {
	var ids []string
	for i := range n {
		r := &decision.Result{
			ID: fmt.Sprintf("%s-%s-%d", in.name, phase, i), Time: at, Profile: "topology", Caller: "+12125550100", Dialed: did,
			Decision: policy.Decision{Action: policy.Block, Mode: policy.ModeEnforce, Tier: policy.TierSpam, Reasons: []policy.Reason{policy.ListBlock}},
			Result:   policy.ResultBlock, Challenge: policy.OutcomeNone,
		}
		in.stats.Record(r)
		in.relay.Record(r)
		ids = append(ids, r.ID)
	}
	return ids
}

// counter reads one of the instance's metrics.
func (in *instance) counter(t *testing.T, name, label, value string) float64 {
	t.Helper()
	if label == "" {
		return promtest.Value(in.reg, name)
	}
	return promtest.Value(in.reg, name, label, value)
}

// calls reads the shared figures of did on the instance, from minute
// buckets (the last hour) and from hour buckets (the whole hours of the
// last day); ok is false when the answer did not come from Redis.
func (in *instance) calls(did string) (minutes, hours int64, ok bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := time.Now()
	m, err := in.stats.Summary(ctx, stats.Query{From: now.Add(-time.Hour), To: now.Add(time.Minute), DID: did})
	if err != nil {
		return 0, 0, false, err
	}
	h0 := now.Truncate(time.Hour)
	h, err := in.stats.Summary(ctx, stats.Query{From: h0.Add(-23 * time.Hour), To: h0.Add(time.Hour), Step: time.Hour, DID: did})
	if err != nil {
		return 0, 0, false, err
	}
	return m.Total.Calls, h.Total.Calls, m.Shared && h.Shared, nil
}

// waitCalls waits until every instance shows want calls on did, both from
// minutes and from hours, read from Redis; more than want fails at once.
func waitCalls(t *testing.T, what, did string, want int64, ins ...*instance) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, in := range ins {
		for {
			m, h, shared, err := in.calls(did)
			if err == nil && shared && (m > want || h > want) {
				t.Fatalf("%s: %s shows %d calls from minutes, %d from hours; want %d: counted twice", what, in.name, m, h, want)
			}
			if err == nil && shared && m == want && h == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s shows %d calls from minutes, %d from hours (shared %v, err %v); want %d", what, in.name, m, h, shared, err, want)
			}
			time.Sleep(20 * time.Millisecond) // polling interval
		}
	}
}

// waitDelivered waits until in's live tail has delivered every id.
func waitDelivered(t *testing.T, what string, in *instance, ids []string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		missing := 0
		for _, id := range ids {
			if !in.inbox.has(id) {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s's live tail is missing %d of %d decisions", what, in.name, missing, len(ids))
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

// sharedFailover is the test of the statistics and the live tail through a
// failover. kill kills the master (and no more); failover waits until a
// replica has taken over; replicated waits until the replicas have what
// the masters wrote. load screens calls through the kill with the given
// recorders and reports how many it made.
type sharedFailover struct {
	a, b *instance
}

func startShared(t *testing.T, a, b redis.UniversalClient, so sharedOptions) *sharedFailover {
	t.Helper()
	return &sharedFailover{a: startInstance(t, "a", a, so), b: startInstance(t, "b", b, so)}
}

// before records on both instances, waits until both show the sum from
// Redis and each one's live tail has the other's decisions.
func (sf *sharedFailover) before(t *testing.T) {
	t.Helper()
	fromA := sf.a.record("before", didBefore, 5)
	fromB := sf.b.record("before", didBefore, 3)
	waitCalls(t, "before the failover", didBefore, 8, sf.a, sf.b)
	// The readers have cached the settled minutes of the last hour,
	// didLate's among them, empty.
	waitCalls(t, "before the failover", didLate, 0, sf.a, sf.b)
	waitDelivered(t, "before the failover", sf.b, fromA)
	waitDelivered(t, "before the failover", sf.a, fromB)
}

// down records on instance a while the master is dead (after kill, before
// failover) and waits until a write has failed: the counts are then in
// memory only.
func (sf *sharedFailover) down(t *testing.T) {
	t.Helper()
	sf.a.record("down", didDown, 4)
	// Settled for the readers (older than stats.DefaultSettle), which
	// cached it empty before the kill.
	sf.a.recordAt("late", didLate, 2, time.Now().Add(-10*time.Minute))
	deadline := time.Now().Add(30 * time.Second)
	for sf.a.counter(t, "callscreen_stats_shared_errors_total", "op", "write") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no statistics write failed while the master was dead")
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}

// after records on instance b after the failover and checks every phase on
// both instances; loadCalls is how many calls callLoad made (recorded by
// a, on didLoad). It ends with both instances stopped and flushed.
func (sf *sharedFailover) after(t *testing.T, loadCalls int) {
	t.Helper()
	sf.b.record("after", didAfter, 3)
	waitCalls(t, "after the failover", didBefore, 8, sf.a, sf.b)
	waitCalls(t, "counts recorded while the master was dead", didDown, 4, sf.a, sf.b)
	waitCalls(t, "late counts recorded while the master was dead", didLate, 2, sf.a, sf.b)
	waitCalls(t, "after the failover", didAfter, 3, sf.a, sf.b)

	// The live tail resumes: a decision made now reaches the other
	// instance. Those published while a relay was cut off are not
	// replayed (pub/sub keeps nothing); keep publishing until one arrives.
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		id := sf.a.record(fmt.Sprintf("resume%d", i), didAfter, 1)[0]
		if waitUntil(200*time.Millisecond, func() bool { return sf.b.inbox.has(id) }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b's live tail never received a decision of a after the failover (it has %d in all)", len(sf.b.inbox.all()))
		}
	}
	for _, in := range []*instance{sf.a, sf.b} {
		// The gap is counted: the relay subscribed again after the kill.
		deadline := time.Now().Add(30 * time.Second)
		for in.counter(t, "callscreen_tail_resubscribed_total", "", "") == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: callscreen_tail_resubscribed_total still 0 after the failover", in.name)
			}
			time.Sleep(10 * time.Millisecond) // polling interval
		}
		ids := in.inbox.all()
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[id] {
				t.Errorf("%s's live tail delivered %s twice", in.name, id)
			}
			seen[id] = true
			if strings.HasPrefix(id, in.name+"-") {
				t.Errorf("%s's live tail delivered its own decision %s", in.name, id)
			}
		}
	}

	// Stop both as serve does (the writer, then a last flush), and read
	// again: nothing more was written, nothing twice.
	for _, in := range []*instance{sf.a, sf.b} {
		in.stop()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := in.stats.Close(ctx)
		cancel()
		if err != nil {
			t.Fatalf("%s: last flush: %v", in.name, err)
		}
	}
	for _, c := range []struct {
		did  string
		want int64
	}{{didBefore, 8}, {didDown, 4}, {didLate, 2}} {
		waitCalls(t, "after both stopped", c.did, c.want, sf.a, sf.b)
	}
	m, h, shared, err := sf.b.calls(didLoad)
	if err != nil || !shared {
		t.Fatalf("calls screened through the failover: %v (shared %v)", err, shared)
	}
	if m > int64(loadCalls) || h > int64(loadCalls) {
		t.Fatalf("calls screened through the failover: %d made, %d counted from minutes, %d from hours: counted twice", loadCalls, m, h)
	}
	t.Logf("statistics: %d calls screened through the failover, %d counted (minutes), %d (hours); %d writes of a failed meanwhile, their counts waited in memory",
		loadCalls, m, h, int(sf.a.counter(t, "callscreen_stats_shared_errors_total", "op", "write")))
	t.Logf("live tail: a published %v, b received %v, a's publish errors %v",
		sf.a.counter(t, "callscreen_tail_published_total", "", ""), sf.b.counter(t, "callscreen_tail_received_total", "", ""),
		sf.a.counter(t, "callscreen_tail_errors_total", "op", "publish"))
	if d := sf.a.counter(t, "callscreen_stats_dropped_total", "", ""); d != 0 {
		t.Errorf("%v counts dropped", d)
	}
}

// waitUntil polls cond for at most d.
func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	return true
}
