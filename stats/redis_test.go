package stats

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

// replyCutter is a TCP proxy to Redis that, while cut is set, forwards
// what the client sends and closes the connection when Redis answers: the
// commands ran, the client never learns it (a connection lost after
// Redis's work, before its reply).
type replyCutter struct {
	ln     net.Listener
	target string
	cut    atomic.Bool
	wg     sync.WaitGroup
}

func newReplyCutter(t *testing.T, target string) *replyCutter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &replyCutter{ln: ln, target: target}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *replyCutter) addr() string { return p.ln.Addr().String() }

func (p *replyCutter) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.wg.Add(2)
		go func() { defer p.wg.Done(); _, _ = io.Copy(s, c); s.Close() }()
		go func() {
			defer p.wg.Done()
			defer c.Close()
			buf := make([]byte, 32<<10)
			for {
				n, err := s.Read(buf)
				if n > 0 && p.cut.Load() {
					s.Close()
					return
				}
				if n > 0 {
					if _, werr := c.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

// TestSharedWriteOnce: a write Redis ran but whose reply was lost, or that
// Redis refused for a script it forgot, is sent again and counted once.
func TestSharedWriteOnce(t *testing.T) {
	srv := redistest.Start(t)
	direct := redisClient(t, srv.Addr())
	at := t0.Add(-time.Minute)
	mkey := DefaultPrefix + ":m:" + itoa(at.Unix()/60)
	hkey := DefaultPrefix + ":h:" + itoa(at.Unix()/3600)
	callsOf := func(t *testing.T, key string) int64 {
		t.Helper()
		n, err := direct.HGet(context.Background(), key, "sales\x1f+18005550100\x1fcalls").Int64()
		if err != nil {
			t.Fatalf("HGET %s: %v", key, err)
		}
		return n
	}
	for _, tc := range []struct {
		name string
		// lost: the flush after breakIt fails although Redis ran it.
		lost    bool
		breakIt func(t *testing.T, p *replyCutter)
	}{
		{"reply lost", true, func(_ *testing.T, p *replyCutter) { p.cut.Store(true) }},
		{"script cache flushed", false, func(t *testing.T, _ *replyCutter) {
			if err := direct.ScriptFlush(context.Background()).Err(); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := direct.FlushAll(context.Background()).Err(); err != nil {
				t.Fatal(err)
			}
			p := newReplyCutter(t, srv.Addr())
			rdb, err := redisconn.New(redisconn.Options{Addrs: []string{p.addr()}, ReadTimeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer rdb.Close()
			c := &clock{t: t0}
			s := newStats(t, c, Options{Redis: rdb})
			// A first write: the connection is up, the script known.
			s.Record(result("0", "sales", "+18005550100", at, blocked))
			flush(t, s)
			for i := range 3 {
				s.Record(result(fmt.Sprint(i+1), "sales", "+18005550100", at, blocked))
			}
			tc.breakIt(t, p)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = s.Close(ctx)
			cancel()
			if tc.lost {
				if err == nil {
					t.Fatal("flush through a cut connection: no error")
				}
				// Redis ran it; the writer does not know.
				if m, h := callsOf(t, mkey), callsOf(t, hkey); m != 4 || h != 4 {
					t.Fatalf("after the lost reply: minute %d, hour %d calls in Redis; want 4", m, h)
				}
				p.cut.Store(false)
				s.Record(result("4", "sales", "+18005550100", at, blocked))
				flush(t, s)
			} else if err != nil {
				t.Fatalf("flush after SCRIPT FLUSH: %v", err)
			}
			want := int64(4)
			if tc.lost {
				want = 5
			}
			if m, h := callsOf(t, mkey), callsOf(t, hkey); m != want || h != want {
				t.Fatalf("minute %d, hour %d calls; want %d each", m, h, want)
			}
			// The writer's field is no count: a reader sees the calls only.
			sum, n := total(t, newStats(t, c, Options{Redis: direct}), Query{From: t0.Add(-time.Hour), To: t0})
			if !sum.Shared || n != want {
				t.Fatalf("read back: %d calls (shared %v); want %d", n, sum.Shared, want)
			}
			fields, err := direct.HKeys(context.Background(), mkey).Result()
			if err != nil {
				t.Fatal(err)
			}
			writers := 0
			for _, f := range fields {
				if strings.HasPrefix(f, "\x1fw:") {
					writers++
				}
			}
			if writers != 1 {
				t.Fatalf("%d writer fields in %q; want 1", writers, fields)
			}
		})
	}
}

// TestSharedGeneration: a late write makes the readers read a settled
// bucket again, whoever started the generation: a reader (the usual case:
// the dashboard reads before any call is late), a writer, or a reader of
// an earlier version that wrote it as base-36 text, which INCR refuses.
func TestSharedGeneration(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(t *testing.T, rdb redis.UniversalClient, reader *Stats)
	}{
		{"a reader started it", func(t *testing.T, _ redis.UniversalClient, reader *Stats) {
			total(t, reader, Query{From: t0.Add(-time.Hour), To: t0})
		}},
		{"an earlier reader started it as text", func(t *testing.T, rdb redis.UniversalClient, reader *Stats) {
			if err := rdb.Set(context.Background(), DefaultPrefix+":gen", "dgs7izsar5s0", time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
			total(t, reader, Query{From: t0.Add(-time.Hour), To: t0})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			rdb := redisClient(t, srv.Addr())
			c := &clock{t: t0}
			a := newStats(t, c, Options{Redis: redisClient(t, srv.Addr()), Settle: 5 * time.Minute})
			b := newStats(t, c, Options{Redis: redisClient(t, srv.Addr()), Settle: 5 * time.Minute})
			tc.start(t, rdb, a)
			q := Query{From: t0.Add(-time.Hour), To: t0}
			if _, n := total(t, a, q); n != 0 {
				t.Fatalf("before: %d calls", n)
			}
			// Settled, so a has cached the bucket empty.
			b.Record(result("b1", "sales", "+18005550100", t0.Add(-10*time.Minute), blocked))
			flush(t, b)
			c.set(t0.Add(2 * time.Second)) // past the generation check interval
			if _, n := total(t, a, q); n != 1 {
				t.Fatalf("after a late write: a reads %d calls; want 1", n)
			}
			if err := b.Close(context.Background()); err != nil {
				t.Fatalf("nothing left to write, yet: %v", err)
			}
		})
	}
}

// TestSharedChunks: a key with more counts than one script call takes
// (chunkFields) is written in several calls, in order, each once, also
// when a reply is lost after the first.
func TestSharedChunks(t *testing.T) {
	srv := redistest.Start(t)
	direct := redisClient(t, srv.Addr())
	p := newReplyCutter(t, srv.Addr())
	rdb, err := redisconn.New(redisconn.Options{Addrs: []string{p.addr()}, ReadTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	c := &clock{t: t0}
	s := newStats(t, c, Options{Redis: rdb})
	at := t0.Add(-time.Minute)
	s.Record(result("warm", "sales", "+18005550100", at, blocked))
	flush(t, s)      // connection up, script known
	const dids = 900 // 3 counters each: 2,700 fields a key, 3 chunks
	for i := range dids {
		s.Record(result(fmt.Sprint(i), "sales", fmt.Sprintf("+1888555%04d", i), at, blocked))
	}
	p.cut.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err = s.Close(ctx)
	cancel()
	if err == nil {
		t.Fatal("flush through a cut connection: no error")
	}
	p.cut.Store(false)
	flush(t, s)
	mkey := DefaultPrefix + ":m:" + itoa(at.Unix()/60)
	n, err := direct.HLen(context.Background(), mkey).Result()
	if err != nil || n != 3*(dids+1)+1 {
		t.Fatalf("HLEN %s = %d, %v; want %d counts and the writer's field", mkey, n, err, 3*(dids+1))
	}
	sum, calls := total(t, newStats(t, c, Options{Redis: direct}), Query{From: t0.Add(-time.Hour), To: t0})
	if !sum.Shared || calls != dids+1 {
		t.Fatalf("%d calls read back; want %d", calls, dids+1)
	}
	fields, err := direct.HGetAll(context.Background(), mkey).Result()
	if err != nil {
		t.Fatal(err)
	}
	for f, v := range fields {
		if strings.HasPrefix(f, "\x1fw:") {
			// Batch 2 (the first was the warm-up), its third chunk.
			if v != strconv.Itoa(2*maxChunks+2) {
				t.Fatalf("writer field %s; want batch 2, chunk 2", v)
			}
			continue
		}
		if v != "1" {
			t.Fatalf("%q = %s; want 1", f, v)
		}
	}
}
