package cache

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/callscreen/callscreen/internal/redistest"
	"github.com/callscreen/callscreen/internal/timingtest"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/redisconn"
	"github.com/callscreen/callscreen/reputation"
)

const num = "+12125551234"

var (
	spam     = reputation.Verdict{Verdict: policy.Verdict{Tier: policy.TierSpam, Score: 91, Scored: true, Reasons: []policy.Reason{policy.ProviderSpam}}, Risk: reputation.RiskHigh, Source: "callerapi", Raw: map[string]string{"reputation": "spam"}}
	suspect  = reputation.Verdict{Verdict: policy.Verdict{Tier: policy.TierBusiness, Reasons: []policy.Reason{policy.ProviderBusiness, policy.ProviderRecentReports}}, RecentReports: 2}
	medium   = reputation.Verdict{Verdict: policy.Verdict{Reasons: []policy.Reason{policy.ProviderRiskMedium}}, Risk: reputation.RiskMedium}
	business = reputation.Verdict{Verdict: policy.Verdict{Tier: policy.TierBusiness, Reasons: []policy.Reason{policy.ProviderBusiness}}}
	nothing  = reputation.Verdict{}
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newCache(t *testing.T, o Options) *Cache {
	t.Helper()
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func get1(c *Cache, tenant, source string) (reputation.Verdict, bool) {
	vs, hit := c.Get(context.Background(), tenant, num, []string{source})
	return vs[0], hit[0]
}

func TestClassAndTTL(t *testing.T) {
	c := newCache(t, Options{})
	tests := []struct {
		name  string
		v     reputation.Verdict
		class string
		ttl   time.Duration
	}{
		{"spam", spam, "spam", 24 * time.Hour},
		{"tier spam alone", reputation.Verdict{Verdict: policy.Verdict{Tier: policy.TierSpam}}, "spam", 24 * time.Hour},
		{"risk high alone", reputation.Verdict{Risk: reputation.RiskHigh}, "spam", 24 * time.Hour},
		{"recent reports", suspect, "suspect", time.Hour},
		{"risk medium", medium, "suspect", time.Hour},
		{"business", business, "clean", 15 * time.Minute},
		{"knows nothing", nothing, "clean", 15 * time.Minute},
		{"low risk", reputation.Verdict{Risk: reputation.RiskLow}, "clean", 15 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Class(tt.v); got != tt.class {
				t.Fatalf("Class = %q; want %q", got, tt.class)
			}
			if got := c.TTL(tt.v); got != tt.ttl {
				t.Fatalf("TTL = %s; want %s", got, tt.ttl)
			}
		})
	}
}

func TestNewBadOptions(t *testing.T) {
	tests := []struct {
		o    Options
		want string
	}{
		{Options{TTL: TTLs{Clean: -time.Second}}, "cache.ttl.clean: -1s: must not be negative"},
		{Options{TTL: TTLs{Spam: -time.Minute}}, "cache.ttl.spam: -1m0s: must not be negative"},
		{Options{L2Timeout: -1}, "cache.l2_timeout: -1ns: must not be negative"},
		{Options{L2Failures: -1}, "cache.l2_failures: -1: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if _, err := New(tt.o); err == nil || err.Error() != tt.want {
				t.Fatalf("New = %v; want %q", err, tt.want)
			}
		})
	}
}

func TestL1(t *testing.T) {
	clk := newClock()
	c := newCache(t, Options{Now: clk.Now})
	ctx := context.Background()

	if _, ok := get1(c, "", "callerapi"); ok {
		t.Fatal("hit on an empty cache")
	}
	c.Set(ctx, "", num, "callerapi", spam)
	c.Set(ctx, "", num, "youmail", business)
	clk.Advance(time.Minute)
	vs, hit := c.Get(ctx, "", num, []string{"callerapi", "youmail", "http"})
	if !hit[0] || !hit[1] || hit[2] {
		t.Fatalf("hits = %v; want [true true false]", hit)
	}
	if vs[0].Tier != policy.TierSpam || vs[0].Score != 91 || vs[0].Raw["reputation"] != "spam" || vs[0].Age != time.Minute {
		t.Fatalf("callerapi verdict = %+v; want the stored spam verdict, age 1m", vs[0])
	}
	if vs[1].Tier != policy.TierBusiness {
		t.Fatalf("youmail verdict = %+v; want business", vs[1])
	}

	// Tenants do not see each other's entries.
	if _, ok := get1(c, "other", "callerapi"); ok {
		t.Fatal("tenant other sees the default tenant's entry")
	}

	// The business verdict expires after 15 minutes, the spam one lives on.
	clk.Advance(15 * time.Minute)
	if _, ok := get1(c, "", "youmail"); ok {
		t.Fatal("clean verdict still cached after its TTL")
	}
	if _, ok := get1(c, "", "callerapi"); !ok {
		t.Fatal("spam verdict gone before its TTL")
	}
	clk.Advance(24 * time.Hour)
	if _, ok := get1(c, "", "callerapi"); ok {
		t.Fatal("spam verdict still cached after 24h")
	}
}

func TestL1Bounded(t *testing.T) {
	c := newCache(t, Options{L1Size: 2})
	ctx := context.Background()
	for i := range 5 {
		c.Set(ctx, "", "+1212555000"+strconv.Itoa(i), "p", business)
	}
	if c.Len() != 2 {
		t.Fatalf("L1 holds %d entries; want the bound, 2", c.Len())
	}
}

func TestAgeFromSource(t *testing.T) {
	clk := newClock()
	c := newCache(t, Options{Now: clk.Now})
	v := business
	v.Age = time.Hour // the provider's data was an hour old when we got it
	c.Set(context.Background(), "", num, "p", v)
	clk.Advance(time.Minute)
	got, ok := get1(c, "", "p")
	if !ok || got.Age != time.Hour+time.Minute {
		t.Fatalf("age = %s (hit %v); want 1h1m", got.Age, ok)
	}
}

func TestEncoding(t *testing.T) {
	at := time.UnixMilli(1_795_000_000_000)
	e := entry{v: spam, at: at, exp: at.Add(time.Hour)}
	b, err := encode(e)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != Version {
		t.Fatalf("first byte %d; want version %d", b[0], Version)
	}
	got, err := decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.v.Tier != spam.Tier || got.v.Score != 91 || !got.v.Scored || got.v.Risk != reputation.RiskHigh ||
		got.v.Source != "callerapi" || got.v.Raw["reputation"] != "spam" || len(got.v.Reasons) != 1 ||
		!got.at.Equal(at) || !got.exp.Equal(at.Add(time.Hour)) {
		t.Fatalf("round trip = %+v", got)
	}
	if len(b) > 160 {
		t.Fatalf("encoded spam verdict is %d bytes: %q; want compact", len(b), b)
	}
}

// corruptValues are stored values that must read as misses.
var corruptValues = []struct{ name, value string }{
	{"empty", ""},
	{"old version", "\x00{\"t\":\"SPAM\",\"at\":1,\"exp\":99999999999999}"},
	{"future version", "\x02{\"t\":\"SPAM\",\"at\":1,\"exp\":99999999999999}"},
	{"plain json", "{\"t\":\"SPAM\"}"},
	{"truncated", "\x01{\"t\":\"SPA"},
	{"bad tier", "\x01{\"t\":\"EVIL\",\"at\":1,\"exp\":99999999999999}"},
	{"bad risk", "\x01{\"k\":\"extreme\",\"at\":1,\"exp\":99999999999999}"},
	{"unknown reason", "\x01{\"r\":[\"provider.evil\"],\"at\":1,\"exp\":99999999999999}"},
	{"score out of range", "\x01{\"s\":101,\"sc\":true,\"at\":1,\"exp\":99999999999999}"},
	{"negative reports", "\x01{\"n\":-1,\"at\":1,\"exp\":99999999999999}"},
	{"no times", "\x01{\"t\":\"SPAM\"}"},
	{"wrong types", "\x01{\"t\":7,\"at\":\"x\",\"exp\":1}"},
	{"binary", "\x01\xff\xfe\x00"},
}

func TestDecodeRejects(t *testing.T) {
	for _, tt := range corruptValues {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decode([]byte(tt.value)); err == nil {
				t.Fatalf("decode(%q) succeeded", tt.value)
			}
		})
	}
}

// clientTimeout is the Redis client's own timeout in these tests: longer
// than timingtest.HangTimeout, so that only the cache's L2Timeout can end
// a read in time, and nothing a busy machine does reaches it.
const clientTimeout = time.Minute

// newRedisCache builds a cache on the Redis at addr. Unless o says
// otherwise its L2Timeout is 10s: the tests that do not test the timeout
// must not miss because a busy machine took longer than the default 50ms.
func newRedisCache(t *testing.T, addr string, o Options) *Cache {
	t.Helper()
	rdb, err := redisconn.New(redisconn.Options{Addrs: []string{addr}, DialTimeout: clientTimeout, ReadTimeout: clientTimeout, WriteTimeout: clientTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	o.Redis = rdb
	if o.L2Timeout == 0 {
		o.L2Timeout = 10 * time.Second
	}
	return newCache(t, o)
}

func TestL2(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	mA, mB := NewMetrics(nil), NewMetrics(nil)
	a := newRedisCache(t, srv.Addr(), Options{Metrics: mA})
	b := newRedisCache(t, srv.Addr(), Options{Metrics: mB}) // another instance: own L1, same Redis

	a.Set(ctx, "acme", num, "callerapi", spam)
	a.Set(ctx, "acme", num, "youmail", business)

	key := Key("acme", num, "callerapi")
	if key != "cs:acme:rep:v1:{+12125551234}:callerapi" {
		t.Fatalf("key = %q", key)
	}
	pttl, err := srv.Do("PTTL", key)
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(pttl, ":")))
	if ms < int((24*time.Hour - time.Minute).Milliseconds()) {
		t.Fatalf("spam entry PTTL = %q; want about 24h", pttl)
	}
	pttl, _ = srv.Do("PTTL", Key("acme", num, "youmail"))
	ms, _ = strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(pttl, ":")))
	if ms > int((15 * time.Minute).Milliseconds()) {
		t.Fatalf("clean entry PTTL = %q; want at most 15m", pttl)
	}

	vs, hit := b.Get(ctx, "acme", num, []string{"callerapi", "youmail", "http"})
	if !hit[0] || !hit[1] || hit[2] || vs[0].Tier != policy.TierSpam || vs[1].Tier != policy.TierBusiness {
		t.Fatalf("instance B got %v %+v; want both from L2", hit, vs)
	}
	if got := testutil.ToFloat64(mB.Hits.WithLabelValues("l2")); got != 2 {
		t.Fatalf("B l2 hits = %v; want 2", got)
	}
	// The second read is served from B's L1.
	b.Get(ctx, "acme", num, []string{"callerapi", "youmail"})
	if got := testutil.ToFloat64(mB.Hits.WithLabelValues("l1")); got != 2 {
		t.Fatalf("B l1 hits = %v; want 2", got)
	}
	// Another tenant sees nothing.
	if _, hit := b.Get(ctx, "other", num, []string{"callerapi"}); hit[0] {
		t.Fatal("tenant other sees acme's entry")
	}
	if err := b.Delete(ctx, "acme", num, []string{"callerapi"}); err != nil {
		t.Fatal(err)
	}
	if _, hit := a.Get(ctx, "acme", num, []string{"callerapi"}); !hit[0] {
		t.Fatal("A lost its own L1 entry") // Delete on B reaches Redis and B's L1 only
	}
	c := newRedisCache(t, srv.Addr(), Options{})
	if _, hit := c.Get(ctx, "acme", num, []string{"callerapi"}); hit[0] {
		t.Fatal("deleted entry still in Redis")
	}
}

func TestL2CorruptValueIsMiss(t *testing.T) {
	srv := redistest.Start(t)
	for _, tt := range corruptValues {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMetrics(nil)
			c := newRedisCache(t, srv.Addr(), Options{Metrics: m})
			key := Key("", num, "p")
			if r, err := srv.Do("SET", key, tt.value); err != nil || !strings.HasPrefix(r, "+OK") {
				t.Fatalf("SET = %q, %v", r, err)
			}
			if v, ok := get1(c, "", "p"); ok {
				t.Fatalf("corrupt value %q read as %+v", tt.value, v)
			}
			if got := testutil.ToFloat64(m.DecodeErrors); got != 1 {
				t.Fatalf("decode errors = %v; want 1", got)
			}
			// A fresh answer overwrites it.
			c.Set(context.Background(), "", num, "p", business)
			c2 := newRedisCache(t, srv.Addr(), Options{})
			if v, ok := get1(c2, "", "p"); !ok || v.Tier != policy.TierBusiness {
				t.Fatalf("after overwrite: %+v %v", v, ok)
			}
		})
	}
}

func TestRedisDownAtStart(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens here now
	m := NewMetrics(nil)
	c := newRedisCache(t, addr, Options{Metrics: m})
	ctx := context.Background()
	if _, ok := get1(c, "", "p"); ok {
		t.Fatal("hit with Redis down")
	}
	c.Set(ctx, "", num, "p", spam)
	if v, ok := get1(c, "", "p"); !ok || v.Tier != policy.TierSpam {
		t.Fatalf("L1 does not work with Redis down: %+v %v", v, ok)
	}
	if got := testutil.ToFloat64(m.Errors.WithLabelValues("get")) + testutil.ToFloat64(m.Errors.WithLabelValues("set")); got == 0 {
		t.Fatal("Redis errors not counted")
	}
}

func TestRedisKilledAndRestarted(t *testing.T) {
	srv := redistest.Start(t)
	m := NewMetrics(nil)
	// The breaker's pause outlasts any stall between two reads (the reads
	// after it opens are skipped), and is short enough to wait out.
	c := newRedisCache(t, srv.Addr(), Options{Metrics: m, L1Size: -1, L2PauseFor: time.Second})
	ctx := context.Background()
	c.Set(ctx, "", num, "p", spam)
	if _, ok := get1(c, "", "p"); !ok {
		t.Fatal("miss with Redis up")
	}
	srv.Kill()
	for range 10 {
		var ok bool
		timingtest.Returns(t, "Get with Redis dead", func() { _, ok = get1(c, "", "p") })
		if ok {
			t.Fatal("hit from a dead Redis without L1")
		}
	}
	if got := testutil.ToFloat64(m.Errors.WithLabelValues("get_skipped")); got == 0 {
		t.Fatal("breaker did not open after repeated failures")
	}
	srv.Restart() // empty
	deadline := time.Now().Add(timingtest.WaitTimeout)
	for {
		c.Set(ctx, "", num, "p", business)
		if v, ok := get1(c, "", "p"); ok && v.Tier == policy.TierBusiness {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cache did not use Redis again within %s of its restart", timingtest.WaitTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSilentRedis: a Redis that accepts and never answers costs one
// L2Timeout per read (the client's own timeouts are longer than the hang
// bound: only L2Timeout ends a read in time), then the breaker skips it.
func TestSilentRedis(t *testing.T) {
	m := NewMetrics(nil)
	c := newRedisCache(t, timingtest.Silent(t).Addr(), Options{Metrics: m, L2Timeout: 40 * time.Millisecond, L2Failures: 2})
	for i := range 4 {
		var ok bool
		timingtest.Returns(t, fmt.Sprintf("read %d from a silent Redis", i), func() { _, ok = get1(c, "", "p") })
		if ok {
			t.Fatal("hit from a silent Redis")
		}
	}
	if got := testutil.ToFloat64(m.Errors.WithLabelValues("get_skipped")); got != 2 {
		t.Fatalf("skipped reads = %v; want 2 (breaker open after 2 failures)", got)
	}
	if got := testutil.ToFloat64(m.L2Breaker); got != 2 {
		t.Fatalf("breaker state gauge = %v; want 2 (open)", got)
	}
}
