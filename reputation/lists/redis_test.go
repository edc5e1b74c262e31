package lists

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callscreen/callscreen/internal/redistest"
	"github.com/callscreen/callscreen/internal/timingtest"
	"github.com/callscreen/callscreen/policy"
)

func newRedis(t *testing.T) (*redistest.Server, redis.UniversalClient) {
	t.Helper()
	srv := redistest.Start(t)
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{srv.Addr()}, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	return srv, rdb
}

// watching starts Watch on l until the test ends.
func watching(t *testing.T, l *Lists) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := l.Watch(ctx); err != nil {
			t.Errorf("Watch: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

func blockedFor(l *Lists, tenant, caller string) bool {
	v, _ := l.Lookup(context.Background(), tenantQuery(tenant, caller))
	return slices.Contains(v.Reasons, policy.ListBlock)
}

func TestRedisTwoInstances(t *testing.T) {
	_, rdb := newRedis(t)
	ctx := context.Background()
	a, err := New(Options{Store: NewRedisStore(rdb, RedisOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Options{Store: NewRedisStore(rdb, RedisOptions{Block: 200 * time.Millisecond})})
	if err != nil {
		t.Fatal(err)
	}
	watching(t, b)
	timingtest.WaitFor(t, "b to follow", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.loaded
	})

	tests := []struct {
		name   string
		change Change
		want   bool
	}{
		{"add", Change{Entry: mustEntry(t, "+12125550101", Block, "acme")}, true},
		{"remove", Change{Delete: true, Entry: mustEntry(t, "+12125550101", Block, "acme")}, false},
		{"add again", Change{Entry: mustEntry(t, "+12125550101", Block, "acme")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := a.Apply(ctx, []Change{tt.change}); err != nil {
				t.Fatal(err)
			}
			if !blockedFor(a, "acme", "+12125550101") == tt.want {
				t.Fatal("the instance that made the change does not see it")
			}
			// That the change comes, not how soon: a test measures nothing.
			timingtest.WaitFor(t, "the other instance to see the change", func() bool { return blockedFor(b, "acme", "+12125550101") == tt.want })
		})
	}

	// A bulk change (more than SmallBatch) is announced as a resync.
	var bulk []Change
	for i := range 600 {
		bulk = append(bulk, Change{Entry: Entry{List: Block, Kind: Number, Tenant: "bulk", Value: fmt.Sprintf("+1313555%04d", i)}})
	}
	bulk = append(bulk, Change{Delete: true, Entry: bulk[7].Entry})
	if err := a.Apply(ctx, bulk); err != nil {
		t.Fatal(err)
	}
	timingtest.WaitFor(t, "bulk change on the other instance", func() bool { return blockedFor(b, "bulk", "+13135550599") })
	if blockedFor(b, "bulk", "+13135550007") {
		t.Fatal("bulk delete after put not applied in order")
	}
	// A third instance loads what is stored.
	c, err := New(Options{Store: NewRedisStore(rdb, RedisOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	if !blockedFor(c, "bulk", "+13135550000") || !blockedFor(c, "acme", "+12125550101") || blockedFor(c, "bulk", "+13135550007") {
		t.Fatal("a new instance does not load the stored entries")
	}
}

func TestRedisDownAndBack(t *testing.T) {
	srv, rdb := newRedis(t)
	ctx := context.Background()
	a, _ := New(Options{Store: NewRedisStore(rdb, RedisOptions{})})
	if err := a.Add(ctx, mustEntry(t, "+12125550102", Block, "")); err != nil {
		t.Fatal(err)
	}
	b, _ := New(Options{Store: NewRedisStore(rdb, RedisOptions{Block: 100 * time.Millisecond})})
	watching(t, b)
	if !blockedFor(b, "", "+12125550102") {
		t.Fatal("not loaded")
	}

	srv.Kill()
	// Lookups go on from memory; changes fail and are not applied.
	if !blockedFor(b, "", "+12125550102") {
		t.Fatal("lists lost while Redis is down")
	}
	if err := a.Add(ctx, mustEntry(t, "+12125550103", Block, "")); err == nil {
		t.Fatal("Add with Redis down: want an error")
	}
	if blockedFor(a, "", "+12125550103") {
		t.Fatal("a change Redis refused was applied")
	}

	// Redis comes back empty: the follower notices and reloads.
	srv.Restart()
	if err := a.Add(ctx, mustEntry(t, "+12125550104", Block, "")); err != nil {
		t.Fatal(err)
	}
	timingtest.WaitFor(t, "the follower to reload after Redis came back empty", func() bool {
		return blockedFor(b, "", "+12125550104") && !blockedFor(b, "", "+12125550102")
	})
}

func TestRedisStartsDown(t *testing.T) {
	srv, rdb := newRedis(t)
	srv.Kill()
	l, err := New(Options{Store: NewRedisStore(rdb, RedisOptions{Block: 100 * time.Millisecond}), LoadTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatalf("New with Redis down: %v (want the file lists alone)", err)
	}
	watching(t, l)
	srv.Restart()
	other := NewRedisStore(rdb, RedisOptions{})
	if err := other.Apply(context.Background(), []Change{{Entry: mustEntry(t, "+12125550105", Block, "")}}); err != nil {
		t.Fatal(err)
	}
	timingtest.WaitFor(t, "the store to load once Redis is up", func() bool { return blockedFor(l, "", "+12125550105") })
}

func TestFollowStoreOnly(t *testing.T) {
	_, rdb := newRedis(t)
	a, _ := New(Options{Store: NewRedisStore(rdb, RedisOptions{})})
	b, _ := New(Options{Store: NewRedisStore(rdb, RedisOptions{Block: 100 * time.Millisecond})})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.FollowStore(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	if err := a.Add(context.Background(), mustEntry(t, "+12125550199", Block, "")); err != nil {
		t.Fatal(err)
	}
	timingtest.WaitFor(t, "the change to arrive without Watch", func() bool { return blockedFor(b, "", "+12125550199") })
	// A store without a change log: returns at once.
	m, _ := New(Options{})
	m.FollowStore(context.Background())
}
