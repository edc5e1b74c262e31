package stats

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/callscreen/callscreen/internal/redistest"
	"github.com/callscreen/callscreen/redisconn"
)

func redisClient(t testing.TB, addr string) redis.UniversalClient {
	t.Helper()
	// Seconds, not the call path's milliseconds: a busy machine must not
	// fail a test about what is shared.
	rdb, err := redisconn.New(redisconn.Options{Addrs: []string{addr}, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func flush(t *testing.T, s *Stats) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func total(t *testing.T, s *Stats, q Query) (*Summary, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sum, err := s.Summary(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	return sum, sum.Total.Calls
}

// TestShared: two instances on one Redis each show the calls of both; with
// Redis gone each shows its own and says so, and counts made meanwhile are
// written once Redis is back.
func TestShared(t *testing.T) {
	srv := redistest.Start(t)
	c := &clock{t: t0}
	a := newStats(t, c, Options{Redis: redisClient(t, srv.Addr())})
	b := newStats(t, c, Options{Redis: redisClient(t, srv.Addr())})
	if !a.Shared() {
		t.Fatal("not shared")
	}
	for i := range 3 {
		a.Record(result("a", "sales", "+18005550100", t0.Add(-time.Duration(i)*time.Minute), blocked))
	}
	b.Record(result("b1", "sales", "+18005550100", t0.Add(-10*time.Minute), passed))
	b.Record(result("b2", "pilot", "+18005550200", t0.Add(-30*time.Hour), heldBlock))
	flush(t, a)
	flush(t, b)

	for _, q := range []Query{
		{From: t0.Add(-time.Hour), To: t0.Add(time.Minute)},
		{From: t0.Add(-7 * 24 * time.Hour), To: t0.Add(time.Minute)},
	} {
		sa, na := total(t, a, q)
		sb, nb := total(t, b, q)
		if !sa.Shared || !sb.Shared || sa.Warning != "" || na != nb || testutil.ToFloat64(a.m.sharedErrors.WithLabelValues("read")) != 0 {
			t.Fatalf("range %s: a %d (shared %v %q), b %d", q.To.Sub(q.From), na, sa.Shared, sa.Warning, nb)
		}
		if want := map[bool]int64{true: 4, false: 5}[q.To.Sub(q.From) < 2*time.Hour]; na != want {
			t.Fatalf("range %s: %d calls; want %d", q.To.Sub(q.From), na, want)
		}
		if sa.Total.Blocked != 3 || sa.Total.Passed != 1 {
			t.Fatalf("figures %+v", sa.Total)
		}
	}
	rowsA, srcA, err := a.DIDs(context.Background(), Query{From: t0.Add(-48 * time.Hour), To: t0.Add(time.Minute)})
	if err != nil || !srcA.Shared || len(rowsA) != 2 || rowsA[0].Calls+rowsA[1].Calls != 5 {
		t.Fatalf("DIDs: %+v %+v %v", rowsA, srcA, err)
	}

	// Redis gone: each instance answers with its own calls, saying so.
	srv.Kill()
	q := Query{From: t0.Add(-time.Hour), To: t0.Add(time.Minute)}
	sa, na := total(t, a, q)
	if sa.Shared || !strings.Contains(sa.Warning, "this instance's own calls only") || na != 3 {
		t.Fatalf("redis down: %d calls, shared %v, warning %q", na, sa.Shared, sa.Warning)
	}
	if testutil.ToFloat64(a.m.sharedErrors.WithLabelValues("read")) == 0 {
		t.Fatal("read error not counted")
	}
	_, nb := total(t, b, q)
	if nb != 1 {
		t.Fatalf("redis down, b: %d", nb)
	}
	// A call while Redis is down is kept and written when it is back.
	a.Record(result("a4", "sales", "+18005550100", t0, allowed))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	if err := a.Close(ctx); err == nil {
		t.Fatal("close with Redis down: no error")
	}
	cancel()
	srv.Restart() // empty
	flush(t, a)
	c.set(t0.Add(2 * time.Second)) // past the generation check interval
	_, nb = total(t, b, q)
	if nb != 1 {
		t.Fatalf("after Redis came back empty, b sees %d calls; want the one made meanwhile", nb)
	}
}

// TestSharedWriter: Run writes on its own; queries poll until the other
// instance's calls show.
func TestSharedWriter(t *testing.T) {
	srv := redistest.Start(t)
	a := New(Options{Redis: redisClient(t, srv.Addr()), Logger: quiet, FlushInterval: 20 * time.Millisecond})
	b := New(Options{Redis: redisClient(t, srv.Addr()), Logger: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	now := time.Now()
	for i := range 10 {
		a.Record(result("a", "sales", "+18005550100", now.Add(-time.Duration(i)*time.Second), blocked))
	}
	q := Query{From: now.Add(-time.Hour), To: now.Add(time.Minute)}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, n := total(t, b, q); n == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the calls of a never showed on b")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSharedCache: settled buckets are read from Redis once; a late write
// into one (an instance that was cut off) makes readers read it again.
func TestSharedCache(t *testing.T) {
	srv := redistest.Start(t)
	c := &clock{t: t0}
	a := newStats(t, c, Options{Redis: redisClient(t, srv.Addr()), Settle: 5 * time.Minute})
	b := newStats(t, c, Options{Redis: redisClient(t, srv.Addr()), Settle: 5 * time.Minute})
	at := t0.Add(-10 * time.Minute) // settled
	b.Record(result("b1", "sales", "+18005550100", at, blocked))
	flush(t, b)
	q := Query{From: t0.Add(-time.Hour), To: t0}
	if _, n := total(t, a, q); n != 1 {
		t.Fatalf("first read: %d", n)
	}
	// Change the bucket behind the readers' back: the cache does not see it.
	rdb := redisClient(t, srv.Addr())
	key := DefaultPrefix + ":m:" + itoa(at.Unix()/60)
	if err := rdb.HIncrBy(context.Background(), key, "sales\x1f+18005550100\x1fcalls", 100).Err(); err != nil {
		t.Fatal(err)
	}
	c.set(t0.Add(2 * time.Second))
	if _, n := total(t, a, q); n != 1 {
		t.Fatalf("cached read: %d; want the cached 1", n)
	}
	// A late write through the writer bumps the generation: read again.
	b.Record(result("b2", "sales", "+18005550100", at, blocked))
	flush(t, b)
	c.set(t0.Add(4 * time.Second))
	if _, n := total(t, a, q); n != 102 {
		t.Fatalf("after a late write: %d; want 102", n)
	}
	// Unsettled buckets are always read.
	b.Record(result("b3", "sales", "+18005550100", t0.Add(-time.Minute), blocked))
	flush(t, b)
	if _, n := total(t, a, q); n != 103 {
		t.Fatalf("fresh bucket: %d", n)
	}
	// Garbage in a hash (another version, a person) is skipped.
	rdb.HSet(context.Background(), key, "no separators", "1", "sales\x1f+1\x1fcalls", "x")
	c.set(t0.Add(6 * time.Second))
	rdb.Incr(context.Background(), DefaultPrefix+":gen")
	if _, n := total(t, a, q); n != 103 {
		t.Fatalf("with garbage fields: %d", n)
	}
	// TTLs are set.
	if ttl := rdb.TTL(context.Background(), key).Val(); ttl <= DefaultMinuteKeep || ttl > DefaultMinuteKeep+2*time.Hour {
		t.Fatalf("minute key TTL %s", ttl)
	}
	hkey := DefaultPrefix + ":h:" + itoa(at.Unix()/3600)
	if ttl := rdb.TTL(context.Background(), hkey).Val(); ttl <= DefaultRetention || ttl > DefaultRetention+2*time.Hour {
		t.Fatalf("hour key TTL %s", ttl)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
