package redisconn_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callscreen/callscreen/agi"
	"github.com/callscreen/callscreen/agi/agitest"
	"github.com/callscreen/callscreen/bridge"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/internal/citest"
	"github.com/callscreen/callscreen/internal/redistest"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/redisconn"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/behavior"
	"github.com/callscreen/callscreen/reputation/cache"
	"github.com/callscreen/callscreen/reputation/feed"
	"github.com/callscreen/callscreen/reputation/feedback"
	"github.com/callscreen/callscreen/reputation/lists"
	"github.com/callscreen/callscreen/screen"
)

// Every place the tree runs a Lua script or a multi-key command, each
// exercised by exercise below on a real Sentinel and a real Cluster:
//   - reputation/lists RedisStore: applyScript (entries hash, tenants set,
//     seq, log stream: one {lists} slot), applyBulk's TxPipelined, the
//     Position pipeline;
//   - reputation/cache: MGET of one number's sources ({number} tag);
//   - reputation/behavior RedisCounter: callerScript (calls, flags,
//     honeypot of one {tenant:caller} tag), dialedScript, flagScript;
//   - reputation/feed RedisStore: Replace and read in TxPipelined on
//     {feed} keys, the lock's unlockScript;
//   - reputation/feedback RedisStore: one hash per tenant (single key);
//   - stats: writeScript, one call per hash (one key), the hashes of a
//     write and the generation key (INCR, EXPIRE) in one pipeline that
//     go-redis splits by node, HGETALL pipelines to read (sharedFailover,
//     shared_topology_test.go);
//   - tail: PUBLISH and SUBSCRIBE on one channel.
// In a cluster a multi-key command across slots fails with CROSSSLOT, so
// these passing on the cluster is the check that the keys share a slot.

// exercise runs every Redis-backed feature once against rdb and fails the
// test on any error. round makes the keys of each run new.
func exercise(ctx context.Context, rdb redis.UniversalClient, round int) error {
	tenant := fmt.Sprintf("t%d", round)
	caller := fmt.Sprintf("+1212555%04d", round)

	ls := lists.NewRedisStore(rdb, lists.RedisOptions{})
	e, err := lists.ParseEntry(caller, "US")
	if err != nil {
		return err
	}
	e.List, e.Tenant = lists.Block, tenant
	if err := ls.Apply(ctx, []lists.Change{{Entry: e}}); err != nil {
		return fmt.Errorf("lists apply: %w", err)
	}
	var bulk []lists.Change
	for i := range 300 { // more than SmallBatch: the pipelined bulk path
		b, _ := lists.ParseEntry(fmt.Sprintf("+1313555%04d", i), "US")
		b.List, b.Tenant = lists.Block, tenant
		bulk = append(bulk, lists.Change{Entry: b})
	}
	if err := ls.Apply(ctx, bulk); err != nil {
		return fmt.Errorf("lists bulk apply: %w", err)
	}
	n := 0
	if err := ls.Load(ctx, tenant, func(lists.Entry) error { n++; return nil }); err != nil || n != 301 {
		return fmt.Errorf("lists load: %d entries, %v", n, err)
	}
	if _, err := ls.Position(ctx); err != nil {
		return fmt.Errorf("lists position: %w", err)
	}

	c, err := cache.New(cache.Options{Redis: rdb, L1Size: -1, L2Timeout: time.Second})
	if err != nil {
		return err
	}
	srcs := []string{"callerapi", "youmail", "http"}
	for _, s := range srcs {
		c.Set(ctx, tenant, caller, s, reputation.Verdict{Source: s, RecentReports: 2})
	}
	// Set writes L2 in the background: wait for it (bounded; a write lost
	// to a failover is written again by exerciseUntil's next round).
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, hit := c.Get(ctx, tenant, caller, srcs)
		if hit[0] && hit[1] && hit[2] {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cache: MGET of %d sources hit %v", len(srcs), hit)
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}

	bh := behavior.NewRedisCounter(rdb, "")
	now := time.Now()
	var counts behavior.Counts
	for i := range 3 {
		counts, err = bh.Observe(ctx, behavior.Observation{Tenant: tenant, Caller: caller, Dialed: "+15551230000", ID: fmt.Sprint(i),
			Time: now.Add(time.Duration(i) * time.Millisecond), BurstWindow: time.Minute, BurstCap: 10, RepeatWindow: time.Hour, Honeypot: true, HoneypotFor: time.Hour})
		if err != nil {
			return fmt.Errorf("behavior observe: %w", err)
		}
	}
	if counts.Burst != 3 {
		return fmt.Errorf("behavior: burst %d after 3 calls", counts.Burst)
	}
	if err := bh.Flag(ctx, tenant, caller, "x", now, time.Hour); err != nil {
		return fmt.Errorf("behavior flag: %w", err)
	}

	fs := feed.NewRedisStore(rdb, "")
	unlock, err := fs.Lock(ctx, time.Minute)
	if err != nil {
		return fmt.Errorf("feed lock: %w", err)
	}
	if _, err := fs.Replace(ctx, tenant, []feed.Record{{Key: 12125550100, Value: 1}, {Key: 12125550101, Value: 2}}); err != nil {
		unlock()
		return fmt.Errorf("feed replace: %w", err)
	}
	unlock()
	recs := 0
	if _, err := fs.Load(ctx, func(string, feed.Record) error { recs++; return nil }); err != nil || recs < 2 {
		return fmt.Errorf("feed load: %d records, %v", recs, err)
	}

	fb := feedback.NewRedisStore(rdb)
	if err := fb.Put(ctx, feedback.Report{Tenant: tenant, Number: caller, Kind: feedback.Spam, Time: now}); err != nil {
		return fmt.Errorf("feedback put: %w", err)
	}
	if _, ok, err := fb.Get(ctx, tenant, caller); err != nil || !ok {
		return fmt.Errorf("feedback get: %v %v", ok, err)
	}
	return nil
}

// failoverWithin bounds how long the features may fail after a master is
// killed: the topology's failover (a second's node timeout, an election)
// takes seconds, many more on a busy machine; below go-redis's periodic
// cluster reload (a minute), so that a cluster client still passing shows
// it learnt the new master from its failed command.
const failoverWithin = 40 * time.Second

// exerciseUntil retries exercise until it passes or the deadline (a client
// rediscovering the topology after a failover), and fails the test then.
func exerciseUntil(t *testing.T, rdb redis.UniversalClient, round int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := exercise(ctx, rdb, round)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("round %d: %v", round, err)
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
}

// client is the client serve builds for o, with timeouts for a loaded
// test machine.
func client(t *testing.T, o redisconn.Options) redis.UniversalClient {
	t.Helper()
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout = time.Second, 2*time.Second, 2*time.Second
	rdb, err := redisconn.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// TestSentinelTopology: every feature works through Sentinel, and again
// after the master is killed and the sentinels promote the replica.
func TestSentinelTopology(t *testing.T) {
	citest.Short(t, "starts five redis-server processes")
	st := redistest.StartSentinel(t)
	o := redisconn.Options{Addrs: st.Addrs(), MasterName: st.MasterName}
	if o.Mode() != "sentinel" {
		t.Fatalf("mode %s", o.Mode())
	}
	rdb := client(t, o)
	exerciseUntil(t, rdb, 1, 30*time.Second)
	// Two instances' statistics and live tails, each on its own client.
	sf := startShared(t, client(t, o), client(t, o), sharedOptions{})
	sf.before(t)
	st.WaitReplicated()
	stop := callLoad(t, rdb, sf.a.stats, sf.a.relay)
	st.Master.Kill()
	sf.down(t)
	st.WaitFailover()
	exerciseUntil(t, rdb, 2, failoverWithin)
	calls, failed := stop()
	if len(failed) != 0 || calls == 0 {
		t.Errorf("calls during the failover: %d, %d failed: %v", calls, len(failed), failed)
	} else {
		t.Logf("%d calls screened during the failover, none failed", calls)
	}
	// What was written before the failover was replicated.
	n := 0
	if err := lists.NewRedisStore(rdb, lists.RedisOptions{}).Load(context.Background(), "t1", func(lists.Entry) error { n++; return nil }); err != nil || n != 301 {
		t.Errorf("entries of round 1 after the failover: %d, %v", n, err)
	}
	sf.after(t, calls)
}

// TestClusterTopology: every feature works on a three-master cluster (so
// no multi-key command crosses slots), and again after one master is
// killed and its replica takes over its slots.
func TestClusterTopology(t *testing.T) {
	citest.Short(t, "starts six redis-server processes")
	cl := redistest.StartCluster(t, 3, 1)
	o := redisconn.Options{Addrs: cl.Addrs(), Cluster: true}
	if o.Mode() != "cluster" {
		t.Fatalf("mode %s", o.Mode())
	}
	rdb := client(t, o)
	for round := 1; round <= 3; round++ { // tenants and callers in different slots
		exerciseUntil(t, rdb, round, 30*time.Second)
	}
	// The statistics' minute key and the live tail's channel on the master
	// that is killed, the hour key on another: a write is half done when
	// the master dies.
	so, victim := splitSlots(t, rdb.(*redis.ClusterClient), cl)
	sf := startShared(t, client(t, o), client(t, o), so)
	sf.before(t)
	cl.WaitReplicated()
	stop := callLoad(t, rdb, sf.a.stats, sf.a.relay)
	cl.Masters[victim].Kill()
	sf.down(t)
	cl.WaitFailover()
	// The client learns the new owner of the dead master's slots at its
	// first failed command (reloadOnFailure), not at go-redis's periodic
	// reload a minute later: within failoverWithin.
	for round := 4; round <= 6; round++ {
		exerciseUntil(t, rdb, round, failoverWithin)
	}
	calls, failed := stop()
	if len(failed) != 0 || calls == 0 {
		t.Errorf("calls during the failover: %d, %d failed: %v", calls, len(failed), failed)
	} else {
		t.Logf("%d calls screened during the failover, none failed", calls)
	}
	sf.after(t, calls)
}

// splitSlots picks a statistics prefix whose minute keys (this minute and
// the next) live on one master and whose hour key on another, and a live
// tail channel on that first master; it returns them and the index of that
// master in cl.Masters.
func splitSlots(t *testing.T, cc *redis.ClusterClient, cl *redistest.Cluster) (sharedOptions, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The cluster's own slot map, not the client's view of it, once the
	// node asked knows a master for every shard (a node that has not
	// heard all the gossip yet answers with fewer).
	var shards []redis.ClusterShard
	for {
		var err error
		shards, err = cc.ClusterShards(ctx).Result()
		masters := map[string]bool{}
		for _, sh := range shards {
			for _, n := range sh.Nodes {
				if n.Role == "master" && len(sh.Slots) > 0 {
					masters[net.JoinHostPort(n.IP, strconv.FormatInt(n.Port, 10))] = true
				}
			}
		}
		if err == nil && len(masters) == len(cl.Masters) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("CLUSTER SHARDS: %v; %d masters with slots in %+v, want %d", err, len(masters), shards, len(cl.Masters))
		case <-time.After(100 * time.Millisecond):
		}
	}
	owner := func(key string) string {
		slot := keySlot(key)
		for _, sh := range shards {
			for _, r := range sh.Slots {
				if r.Start > slot || slot > r.End {
					continue
				}
				for _, n := range sh.Nodes {
					if n.Role == "master" {
						return net.JoinHostPort(n.IP, strconv.FormatInt(n.Port, 10))
					}
				}
			}
		}
		t.Fatalf("slot %d of %s: no master in %+v", slot, key, shards)
		return ""
	}
	for _, key := range []string{"callscreen:stats:t0:m:1", "callscreen:decisions:t7", "{acme}:x", "a{}b", "a{{b}}c"} {
		if want, err := cc.ClusterKeySlot(ctx, key).Result(); err == nil && want != keySlot(key) {
			t.Fatalf("slot of %q: %d, the cluster says %d", key, keySlot(key), want)
		}
	}
	minute := time.Now().Unix() / 60
	var so sharedOptions
	victim := ""
	for i := 0; victim == "" && i < 1000; i++ {
		p := fmt.Sprintf("callscreen:stats:t%d", i)
		m := owner(fmt.Sprintf("%s:m:%d", p, minute))
		if m == owner(fmt.Sprintf("%s:m:%d", p, minute+1)) && m != owner(fmt.Sprintf("%s:h:%d", p, minute/60)) {
			so.prefix, victim = p, m
		}
	}
	for i := 0; so.channel == "" && i < 1000; i++ {
		if c := fmt.Sprintf("callscreen:decisions:t%d", i); owner(c) == victim {
			so.channel = c
		}
	}
	for i, m := range cl.Masters {
		if m.Addr() == victim && so.channel != "" {
			return so, i
		}
	}
	t.Fatalf("no prefix and channel found on one master (victim %q, %+v); slot map %+v", victim, so, shards)
	return so, 0
}

// keySlot is the cluster slot of key, computed as Redis does (the cluster
// specification; src/cluster.c keyHashSlot): CRC16 (XMODEM) of the key, or
// of its first non-empty {hash tag}, modulo 16384. Computed here, the
// search for keys on chosen masters asks the cluster nothing.
func keySlot(key string) int64 {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for k := 0; k < len(key); k++ {
		crc ^= uint16(key[k]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int64(crc % 16384)
}

// callLoad screens calls through FastAGI, one after another until stop,
// with a flow whose lists live in Redis (loaded into memory, following
// the change log) and whose behaviour counters are in Redis. Half the
// calls come from a caller on the block list. stop returns how many calls
// were made and which failed: no CALLSCREEN_RESULT, or the listed caller
// not blocked. recorders get every decision, as serve's statistics and
// live tail do.
func callLoad(t *testing.T, rdb redis.UniversalClient, recorders ...decision.Recorder) (stop func() (calls int, failed []string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	store := lists.NewRedisStore(rdb, lists.RedisOptions{})
	const listed = "+12125550666"
	e, _ := lists.ParseEntry(listed, "US")
	e.List = lists.Block
	actx, acancel := context.WithTimeout(ctx, 10*time.Second)
	if err := store.Apply(actx, []lists.Change{{Entry: e}}); err != nil {
		t.Fatal(err)
	}
	acancel()
	l, err := lists.New(lists.Options{Store: store, LoadTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	followDone := make(chan struct{})
	go func() { defer close(followDone); l.FollowStore(ctx) }()
	bh, err := behavior.New(behavior.Options{Counter: behavior.NewRedisCounter(rdb, "")})
	if err != nil {
		t.Fatal(err)
	}
	flow := &screen.Flow{
		Source:   reputation.Chain{{Name: lists.SourceName, Source: l}, {Name: "behavior", Source: bh}},
		Profiles: screen.ProfileMap{"default": policy.Default()},
		Recorder: decision.Recorders(recorders),
		Logger:   slog.New(slog.DiscardHandler),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &agi.Server{Handler: bridge.AGIHandler(func() *screen.Flow { return flow }), Logger: slog.New(slog.DiscardHandler)}
	serveDone := make(chan struct{})
	go func() { defer close(serveDone); _ = srv.Serve(ctx, ln) }()
	var (
		calls  int
		failed []string
	)
	loopDone, stopping := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(loopDone)
		for i := 0; ; i++ {
			select {
			case <-stopping:
				return
			default:
			}
			caller := fmt.Sprintf("+1415555%04d", i%10000)
			if i%2 == 0 {
				caller = listed
			}
			cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
			tr, err := agitest.Dial(cctx, ln.Addr().String(), agitest.Call{CallerID: caller, DNID: "+15551230000", Caller: agitest.Caller{Auto: true}})
			ccancel()
			calls++
			res := ""
			if tr != nil {
				res = tr.Vars[decision.VarResult]
			}
			if err != nil || res == "" || caller == listed && res != "block" {
				failed = append(failed, fmt.Sprintf("call %d from %s: result %q, err %v", i, caller, res, err))
			}
		}
	}()
	return func() (int, []string) {
		close(stopping) // the call under way finishes first
		<-loopDone
		cancel()
		_ = srv.Shutdown(context.Background())
		<-serveDone
		<-followDone
		bh.Close()
		return calls, failed
	}
}

// TestKeySlot: the slots the cluster specification gives as examples.
func TestKeySlot(t *testing.T) {
	for key, want := range map[string]int64{
		"123456789":            12739, // CRC16 0x31C3
		"foo":                  12182,
		"bar":                  5061,
		"{user1000}.following": keySlot("user1000"),
		"foo{{bar}}zap":        keySlot("{bar"),
		"foo{bar}{zap}":        keySlot("bar"),
	} {
		if got := keySlot(key); got != want {
			t.Errorf("keySlot(%q) = %d, want %d", key, got, want)
		}
	}
}
