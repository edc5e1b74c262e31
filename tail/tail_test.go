package tail

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/internal/redistest"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/redisconn"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// inbox collects delivered decisions.
type inbox struct {
	mu  sync.Mutex
	got []*decision.Result
}

func (b *inbox) Record(r *decision.Result) {
	b.mu.Lock()
	b.got = append(b.got, r)
	b.mu.Unlock()
}

func (b *inbox) ids() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, r := range b.got {
		out = append(out, r.ID)
	}
	return out
}

func client(t *testing.T, addr string) redis.UniversalClient {
	t.Helper()
	// The call path's client, as serve uses it.
	rdb, err := redisconn.New(redisconn.Options{Addrs: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func start(t *testing.T, r *Relay) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() { r.Run(ctx, ready); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("not subscribed within 10s")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func decisionFor(id string) *decision.Result {
	return &decision.Result{
		ID: id, Time: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC), Profile: "sales", Caller: "+12125550100",
		CallerName: `<b>name</b>`, Dialed: "+18005550100",
		Decision: policy.Decision{Action: policy.Block, Mode: policy.ModeEnforce, Tier: policy.TierSpam, Reasons: []policy.Reason{policy.ListBlock}},
		Result:   policy.ResultBlock, Challenge: policy.OutcomeNone,
	}
}

func TestRelay(t *testing.T) {
	srv := redistest.Start(t)
	var inA, inB inbox
	a := New(Options{Redis: client(t, srv.Addr()), Deliver: &inA, Logger: quiet, Instance: "a"})
	b := New(Options{Redis: client(t, srv.Addr()), Deliver: &inB, Logger: quiet, Instance: "b"})
	start(t, a)
	start(t, b)

	a.Record(decisionFor("from-a"))
	b.Record(decisionFor("from-b"))
	waitFor(t, "both decisions delivered", func() bool { return len(inA.ids()) == 1 && len(inB.ids()) == 1 })
	if got := inB.ids(); got[0] != "from-a" {
		t.Fatalf("b got %v", got)
	}
	if got := inA.ids(); got[0] != "from-b" {
		t.Fatalf("a got %v (its own decisions must not come back)", got)
	}
	inB.mu.Lock()
	r := inB.got[0]
	inB.mu.Unlock()
	if r.CallerName != "<b>name</b>" || r.Result != policy.ResultBlock || r.Decision.Reasons[0] != policy.ListBlock || !r.Time.Equal(decisionFor("").Time) {
		t.Fatalf("delivered %+v", r)
	}

	// What is not a decision is counted and dropped.
	raw := client(t, srv.Addr())
	for _, p := range []string{"not json", `{"v":2,"instance":"x","record":{"id":"z"}}`, `{"v":1,"instance":"x","record":{}}`, strings.Repeat("x", MaxMessage+1)} {
		if err := raw.Publish(context.Background(), DefaultChannel, p).Err(); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "bad messages counted", func() bool { return testutil.ToFloat64(b.m.errors.WithLabelValues("decode")) == 4 })
	if n := len(inB.ids()); n != 1 {
		t.Fatalf("bad messages delivered: %d", n)
	}
	if testutil.ToFloat64(a.m.published) != 1 || testutil.ToFloat64(b.m.received) != 1 {
		t.Fatalf("published %v received %v", testutil.ToFloat64(a.m.published), testutil.ToFloat64(b.m.received))
	}
}

// TestRelayNeverBlocks: with nobody publishing, Record drops rather than
// waits once the queue is full; with Redis gone, publishing fails and is
// counted.
func TestRelayNeverBlocks(t *testing.T) {
	srv := redistest.Start(t)
	var in inbox
	r := New(Options{Redis: client(t, srv.Addr()), Deliver: &in, Logger: quiet})
	for range queueSize + 10 {
		r.Record(decisionFor("x"))
	}
	if got := testutil.ToFloat64(r.m.dropped); got != 10 {
		t.Fatalf("dropped %v; want 10", got)
	}
	srv.Kill()
	start(t, r)
	waitFor(t, "publish errors", func() bool { return testutil.ToFloat64(r.m.errors.WithLabelValues("publish")) > 0 })
}

// TestRelayIdle: a subscription outlives the client's read timeout (50ms)
// with nothing to read.
func TestRelayIdle(t *testing.T) {
	srv := redistest.Start(t)
	var in inbox
	a := New(Options{Redis: client(t, srv.Addr()), Deliver: &inbox{}, Logger: quiet})
	b := New(Options{Redis: client(t, srv.Addr()), Deliver: &in, Logger: quiet})
	start(t, a)
	start(t, b)
	time.Sleep(300 * time.Millisecond) // idle for several read timeouts: the condition under test, not a synchronisation
	a.Record(decisionFor("late"))
	waitFor(t, "a decision after an idle time", func() bool { return len(in.ids()) == 1 })
}

// TestRelayResubscribes: after Redis restarts, the relay subscribes again,
// counts the gap and delivers the decisions published from then on.
func TestRelayResubscribes(t *testing.T) {
	srv := redistest.Start(t)
	var inB inbox
	a := New(Options{Redis: client(t, srv.Addr()), Deliver: &inbox{}, Logger: quiet, Instance: "a"})
	b := New(Options{Redis: client(t, srv.Addr()), Deliver: &inB, Logger: quiet, Instance: "b"})
	start(t, a)
	start(t, b)
	a.Record(decisionFor("before"))
	waitFor(t, "a decision before the restart", func() bool { return len(inB.ids()) == 1 })
	if n := testutil.ToFloat64(b.m.resubscribed); n != 0 {
		t.Fatalf("resubscribed %v before any restart", n)
	}

	srv.Restart()
	waitFor(t, "b to subscribe again", func() bool { return testutil.ToFloat64(b.m.resubscribed) >= 1 })
	// a's first publish may meet its dead pooled connection: publish
	// until one arrives.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; len(inB.ids()) < 2; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("no decision delivered after the restart; b has %v", inB.ids())
		}
		a.Record(decisionFor(fmt.Sprintf("after%d", i)))
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	if got := inB.ids(); got[0] != "before" || !strings.HasPrefix(got[1], "after") {
		t.Fatalf("b got %v", got)
	}
}
