package redistest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callscreen/callscreen/internal/citest"
)

// TopologyTimeout bounds every wait of the topologies: start-up, a
// replica's sync, a failover. The topologies stop themselves when the test
// ends.
const TopologyTimeout = 60 * time.Second

// Sentinel is a Sentinel topology on loopback: a master, one replica and
// three sentinels watching them under MasterName.
type Sentinel struct {
	t          testing.TB
	MasterName string
	Master     *Server
	Replica    *Server
	Sentinels  []*Server
}

// StartSentinel starts a master, a replica of it and three sentinels
// (quorum 2, a master is down after 1 s), and waits until the sentinels
// know the replica. Everything is killed when the test ends.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	bin := redisServer(t)
	st := &Sentinel{t: t, MasterName: "callscreen-test"}
	// Redis 7 waits 5 s before a diskless initial sync: a replica killed
	// over before that has nothing. Sync at once.
	st.Master = startWith(t, bin, freePort(t), []string{"--repl-diskless-sync-delay", "0"})
	st.Replica = startWith(t, bin, freePort(t), []string{"--replicaof", "127.0.0.1", strconv.Itoa(st.Master.port), "--repl-diskless-sync-delay", "0"})
	waitSynced(t, st.Replica)
	for range 3 {
		port := freePort(t)
		dir := t.TempDir()
		conf := filepath.Join(dir, "sentinel.conf")
		// Sentinel rewrites its configuration file, so each has its own.
		body := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2\n"+
			"sentinel down-after-milliseconds %s 1000\n"+
			"sentinel failover-timeout %s 10000\n"+
			"sentinel parallel-syncs %s 1\n", st.MasterName, st.Master.port, st.MasterName, st.MasterName, st.MasterName)
		if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		s := &Server{t: t, bin: bin, dir: dir, port: port, args: []string{conf, "--sentinel"}}
		s.start()
		t.Cleanup(s.Kill)
		st.Sentinels = append(st.Sentinels, s)
	}
	waitUntil(t, "the sentinels to see the replica and each other", func(ctx context.Context) error {
		for _, s := range st.Sentinels {
			c := redis.NewSentinelClient(&redis.Options{Addr: s.Addr(), DialTimeout: time.Second, ReadTimeout: time.Second})
			reps, err := c.Replicas(ctx, st.MasterName).Result()
			sens, err2 := c.Sentinels(ctx, st.MasterName).Result()
			c.Close()
			if err != nil || err2 != nil {
				return fmt.Errorf("sentinel %s: %v %v", s.Addr(), err, err2)
			}
			if len(reps) != 1 || len(sens) != 2 {
				return fmt.Errorf("sentinel %s knows %d replicas, %d other sentinels", s.Addr(), len(reps), len(sens))
			}
		}
		return nil
	})
	return st
}

// Addrs are the sentinels' addresses (redis.addrs with redis.master_name).
func (st *Sentinel) Addrs() []string {
	out := make([]string, len(st.Sentinels))
	for i, s := range st.Sentinels {
		out[i] = s.Addr()
	}
	return out
}

// MasterAddr is the master the sentinels name now.
func (st *Sentinel) MasterAddr(ctx context.Context) (string, error) {
	c := redis.NewSentinelClient(&redis.Options{Addr: st.Sentinels[0].Addr(), DialTimeout: time.Second, ReadTimeout: time.Second})
	defer c.Close()
	a, err := c.GetMasterAddrByName(ctx, st.MasterName).Result()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(a[0], a[1]), nil
}

// KillMaster kills the master (SIGKILL) and waits until the sentinels have
// promoted the replica and it accepts writes.
func (st *Sentinel) KillMaster() {
	st.t.Helper()
	st.Master.Kill()
	st.WaitFailover()
}

// WaitFailover waits until the sentinels have promoted the replica and it
// accepts writes: what KillMaster does after the kill, for a test that
// acts while the master is down (st.Master.Kill(), then this).
func (st *Sentinel) WaitFailover() {
	st.t.Helper()
	waitUntil(st.t, "the sentinels to fail over to the replica", func(ctx context.Context) error {
		a, err := st.MasterAddr(ctx)
		if err != nil {
			return err
		}
		if a != st.Replica.Addr() {
			return fmt.Errorf("master is still %s", a)
		}
		c := redis.NewClient(&redis.Options{Addr: a, DialTimeout: time.Second, ReadTimeout: time.Second})
		defer c.Close()
		return c.Set(ctx, "redistest:failover", "1", time.Minute).Err()
	})
}

// Cluster is a Redis Cluster on loopback.
type Cluster struct {
	t        testing.TB
	Masters  []*Server
	Replicas []*Server
}

// StartCluster starts masters nodes (at least 3) with replicas replicas
// each, joins them with `redis-cli --cluster create` (node timeout 1 s) and
// waits until every node says cluster_state:ok. Everything is killed when
// the test ends. redis-cli comes with redis-server (redis-tools).
func StartCluster(t testing.TB, masters, replicas int) *Cluster {
	t.Helper()
	bin := redisServer(t)
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		citest.Unavailable(t, "redis-cli not found: install redis-tools")
	}
	c := &Cluster{t: t}
	var nodes []*Server
	for range masters * (1 + replicas) {
		s := startWith(t, bin, clusterPort(t), []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "1000", "--repl-diskless-sync-delay", "0"})
		nodes = append(nodes, s)
	}
	args := []string{"--cluster", "create"}
	for _, s := range nodes {
		args = append(args, s.Addr())
	}
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), TopologyTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	waitUntil(t, "every node to say cluster_state:ok", func(ctx context.Context) error {
		c.Masters, c.Replicas = nil, nil
		for _, s := range nodes {
			rc := redis.NewClient(&redis.Options{Addr: s.Addr(), DialTimeout: time.Second, ReadTimeout: time.Second})
			info, err := rc.ClusterInfo(ctx).Result()
			role, err2 := rc.Do(ctx, "ROLE").Slice()
			rc.Close()
			if err != nil || err2 != nil {
				return fmt.Errorf("%s: %v %v", s.Addr(), err, err2)
			}
			if !strings.Contains(info, "cluster_state:ok") {
				return fmt.Errorf("%s: cluster not ok", s.Addr())
			}
			if role[0] == "master" {
				c.Masters = append(c.Masters, s)
			} else {
				c.Replicas = append(c.Replicas, s)
			}
		}
		if len(c.Masters) != masters {
			return fmt.Errorf("%d masters, want %d", len(c.Masters), masters)
		}
		return nil
	})
	// A replica that never synced does not take over (its data is too old
	// by cluster-replica-validity-factor).
	for _, r := range c.Replicas {
		waitSynced(t, r)
	}
	return c
}

// waitSynced waits until replica r reports its link to the master up.
func waitSynced(t testing.TB, r *Server) {
	t.Helper()
	waitUntil(t, "replica "+r.Addr()+" to sync", func(ctx context.Context) error {
		rc := redis.NewClient(&redis.Options{Addr: r.Addr(), DialTimeout: time.Second, ReadTimeout: time.Second})
		defer rc.Close()
		info, err := rc.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "master_link_status:up") {
			return fmt.Errorf("link not up")
		}
		return nil
	})
}

// Addrs are every node's address (redis.addrs with redis.cluster).
func (c *Cluster) Addrs() []string {
	var out []string
	for _, s := range append(append([]*Server(nil), c.Masters...), c.Replicas...) {
		out = append(out, s.Addr())
	}
	return out
}

// KillMaster kills master i (SIGKILL) and, when the cluster has replicas,
// waits until a replica has taken over its slots and every live node says
// cluster_state:ok again.
func (c *Cluster) KillMaster(i int) {
	c.t.Helper()
	c.Masters[i].Kill()
	if len(c.Replicas) == 0 {
		return
	}
	c.WaitFailover()
}

// WaitFailover waits until a replica has taken over the slots of every
// killed master and every live node says cluster_state:ok: what
// KillMaster does after the kill, for a test that acts while the master
// is down (c.Masters[i].Kill(), then this).
func (c *Cluster) WaitFailover() {
	c.t.Helper()
	waitUntil(c.t, "a replica to take over the killed master's slots", func(ctx context.Context) error {
		live := 0
		for _, s := range append(append([]*Server(nil), c.Masters...), c.Replicas...) {
			if !s.Alive() {
				continue
			}
			rc := redis.NewClient(&redis.Options{Addr: s.Addr(), DialTimeout: time.Second, ReadTimeout: time.Second})
			info, err := rc.ClusterInfo(ctx).Result()
			role, err2 := rc.Do(ctx, "ROLE").Slice()
			rc.Close()
			if err != nil || err2 != nil {
				return fmt.Errorf("%s: %v %v", s.Addr(), err, err2)
			}
			if !strings.Contains(info, "cluster_state:ok") {
				return fmt.Errorf("%s: cluster not ok", s.Addr())
			}
			if role[0] == "master" {
				live++
			}
		}
		if live != len(c.Masters) {
			return fmt.Errorf("%d live masters, want %d (a replica promoted)", live, len(c.Masters))
		}
		return nil
	})
}

// WaitReplicated waits until the replica has received everything the
// master had written when it was called, so a master killed afterwards
// loses nothing: Redis replicates asynchronously, and what a master
// acknowledged in the last moment before it died may never reach the
// replica that takes over.
func (st *Sentinel) WaitReplicated() {
	st.t.Helper()
	waitReplicated(st.t, []*Server{st.Master}, []*Server{st.Replica})
}

// WaitReplicated waits until every live replica has received everything
// its master had written when it was called (see Sentinel.WaitReplicated).
func (c *Cluster) WaitReplicated() {
	c.t.Helper()
	waitReplicated(c.t, c.Masters, c.Replicas)
}

// waitReplicated reads each live master's replication offset, then waits
// until each live replica of it has reached that offset (ROLE on a replica
// names its master and the offset it has received).
func waitReplicated(t testing.TB, masters, replicas []*Server) {
	t.Helper()
	want := map[int]int64{} // master port → its offset now
	ctx, cancel := context.WithTimeout(context.Background(), TopologyTimeout)
	defer cancel()
	for _, m := range masters {
		if !m.Alive() {
			continue
		}
		rc := redis.NewClient(&redis.Options{Addr: m.Addr(), DialTimeout: time.Second, ReadTimeout: time.Second})
		off, err := replOffset(ctx, rc)
		rc.Close()
		if err != nil {
			t.Fatalf("replication offset of %s: %v", m.Addr(), err)
		}
		want[m.port] = off
	}
	for _, r := range replicas {
		if !r.Alive() {
			continue
		}
		waitUntil(t, "replica "+r.Addr()+" to catch up with its master", func(ctx context.Context) error {
			rc := redis.NewClient(&redis.Options{Addr: r.Addr(), DialTimeout: time.Second, ReadTimeout: time.Second})
			defer rc.Close()
			role, err := rc.Do(ctx, "ROLE").Slice()
			if err != nil {
				return err
			}
			if len(role) < 5 || role[0] != "slave" {
				return nil // promoted meanwhile: nothing to catch up with
			}
			port, _ := role[2].(int64)
			off, _ := role[4].(int64)
			need, ok := want[int(port)]
			if !ok {
				return nil // its master is not one of those read
			}
			if off < need {
				return fmt.Errorf("at offset %d of %d", off, need)
			}
			return nil
		})
	}
}

// replOffset is master_repl_offset from INFO replication.
func replOffset(ctx context.Context, rc *redis.Client) (int64, error) {
	info, err := rc.Info(ctx, "replication").Result()
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "master_repl_offset:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, errors.New("no master_repl_offset in INFO replication")
}

// clusterPort is a free port whose cluster bus port (port + 10000) is free
// too and below the ephemeral range.
func clusterPort(t testing.TB) int {
	t.Helper()
	lo := ephemeralLow()
	for range 100 {
		port := minPort + rand.IntN(lo-10000-minPort)
		ok := true
		for _, p := range []int{port, port + 10000} {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return port
		}
	}
	t.Fatal("cluster port: no free pair found in 100 tries")
	return 0
}

// waitUntil polls f (each try bounded by 2 s) until it returns nil, failing
// the test with f's last error after TopologyTimeout.
func waitUntil(t testing.TB, what string, f func(ctx context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(TopologyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := f(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %v", TopologyTimeout, what, err)
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
}
