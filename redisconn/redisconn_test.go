package redisconn

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callscreen/callscreen/internal/redistest"
	"github.com/callscreen/callscreen/internal/timingtest"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string // "" is valid
	}{
		{"empty is valid", Options{}, ""},
		{"single", Options{Addrs: []string{"127.0.0.1:6379"}}, ""},
		{"sentinel", Options{Addrs: []string{"s1:26379", "s2:26379"}, MasterName: "mymaster", DB: 2}, ""},
		{"no port", Options{Addrs: []string{"redis"}}, `redis.addrs: "redis": want host:port`},
		{"bad port", Options{Addrs: []string{"redis:0"}}, `redis.addrs: "redis:0": port "0": want 1 to 65535`},
		{"no host", Options{Addrs: []string{":6379"}}, `redis.addrs: ":6379": want host:port`},
		{"negative db", Options{Addrs: []string{"r:1"}, DB: -1}, "redis.db: -1: must not be negative"},
		{"db on cluster", Options{Addrs: []string{"a:1", "b:1"}, DB: 3}, "redis.db: 3: Redis Cluster has only database 0"},
		{"sentinel and cluster", Options{Addrs: []string{"a:1"}, MasterName: "m", Cluster: true}, "redis.master_name and redis.cluster: choose Sentinel or Cluster, not both"},
		{"negative read timeout", Options{Addrs: []string{"a:1"}, ReadTimeout: -time.Second}, "redis.read_timeout: -1s: must not be negative"},
		{"negative dial timeout", Options{Addrs: []string{"a:1"}, DialTimeout: -time.Second}, "redis.dial_timeout: -1s: must not be negative"},
		{"negative write timeout", Options{Addrs: []string{"a:1"}, WriteTimeout: -time.Second}, "redis.write_timeout: -1s: must not be negative"},
		{"negative pool", Options{Addrs: []string{"a:1"}, PoolSize: -1}, "redis.pool_size: -1: must not be negative"},
		{"ca without tls", Options{Addrs: []string{"a:1"}, TLSCAFile: "/x"}, "redis.tls_ca_file / redis.tls_server_name: set redis.tls: true to use TLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v; want nil", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Validate = %v; want %q", err, tt.want)
			}
		})
	}
}

func TestMode(t *testing.T) {
	tests := []struct {
		o    Options
		want string
	}{
		{Options{}, "none"},
		{Options{Addrs: []string{"a:1"}}, "single"},
		{Options{Addrs: []string{"a:1"}, Cluster: true}, "cluster"},
		{Options{Addrs: []string{"a:1", "b:1"}}, "cluster"},
		{Options{Addrs: []string{"a:1", "b:1"}, MasterName: "m"}, "sentinel"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.o.Mode(); got != tt.want {
				t.Fatalf("Mode = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestNewWithoutAddrsIsNil(t *testing.T) {
	c, err := New(Options{})
	if c != nil || err != nil {
		t.Fatalf("New(empty) = %v, %v; want nil, nil", c, err)
	}
	if err := Check(context.Background(), nil); !errors.Is(err, ErrNotConfigured) {
		t.Fatalf("Check(nil) = %v; want ErrNotConfigured", err)
	}
}

func TestNewBadConfig(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"invalid", Options{Addrs: []string{"nope"}}, `redis config: redis.addrs: "nope": want host:port`},
		{"missing ca", Options{Addrs: []string{"a:1"}, TLS: true, TLSCAFile: filepath.Join(dir, "missing.pem")}, "redis config: redis.tls_ca_file: open "},
		{"ca not pem", Options{Addrs: []string{"a:1"}, TLS: true, TLSCAFile: notPEM}, "redis config: redis.tls_ca_file: " + notPEM + ": no PEM certificate found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.o)
			if c != nil || err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("New = %v, %v; want error starting %q", c, err, tt.want)
			}
		})
	}
}

func TestKey(t *testing.T) {
	tests := []struct {
		tenant string
		parts  []string
		want   string
	}{
		{"", []string{"rep", "v1", "+12125551234"}, "cs:default:rep:v1:+12125551234"},
		{"acme", []string{"fb"}, "cs:acme:fb"},
		{"a:b", nil, "cs:a%3ab"},
		{"{x}", []string{"k"}, "cs:%7bx%7d:k"},
		{"Zz.9_-", nil, "cs:Zz.9_-"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := Key(tt.tenant, tt.parts...); got != tt.want {
				t.Fatalf("Key(%q, %q) = %q; want %q", tt.tenant, tt.parts, got, tt.want)
			}
		})
	}
}

func TestRealRedis(t *testing.T) {
	srv := redistest.Start(t)
	c, err := New(Options{Addrs: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := Check(ctx, c); err != nil {
		t.Fatalf("Check = %v", err)
	}
	if err := c.Set(ctx, "k", "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("GET = %q, %v", v, err)
	}
}

// TestKilledAndRestarted: commands fail while the server is down (fast,
// without retries) and succeed again once it is back, without anyone
// recreating the client.
func TestKilledAndRestarted(t *testing.T) {
	srv := redistest.Start(t)
	c, err := New(Options{Addrs: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := Check(ctx, c); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	if err := Check(ctx, c); err == nil {
		t.Fatal("Check on a killed server succeeded")
	}
	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := Check(ctx, c)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("client did not reconnect within 10s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSilentServer is a Redis that accepts connections and never answers:
// only the read timeout (nothing else bounds the first Check) or the
// caller's deadline when it is shorter (the second client's read timeout
// is an hour) ends a command.
func TestSilentServer(t *testing.T) {
	silent := timingtest.Silent(t)
	c, err := New(Options{Addrs: []string{silent.Addr()}, ReadTimeout: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	timingtest.Returns(t, "Check against a silent server", func() { err = Check(context.Background(), c) })
	if err == nil {
		t.Fatal("Check against a silent server succeeded")
	}
	if n := silent.Dialled(t); n != 1 {
		t.Fatalf("Check made %d connections; want 1", n)
	}
	slow, err := New(Options{Addrs: []string{silent.Addr()}, ReadTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	timingtest.Returns(t, "Check with a 30ms deadline and an hour's read timeout", func() { err = Check(ctx, slow) })
	if err == nil {
		t.Fatal("Check against a silent server succeeded")
	}
}

// TestNoRetry: a command that times out on a connection that answered
// before is not sent again: one attempt, one connection taken from the
// pool.
func TestNoRetry(t *testing.T) {
	srv := redistest.Start(t)
	c, err := New(Options{Addrs: []string{srv.Addr()}, ReadTimeout: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := Check(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	// Redis holds every command for a minute: longer than the test.
	if r, err := srv.Do("CLIENT", "PAUSE", "60000", "ALL"); err != nil || !strings.HasPrefix(r, "+OK") {
		t.Fatalf("CLIENT PAUSE = %q, %v", r, err)
	}
	pool := c.(*redis.Client)
	before := pool.PoolStats()
	timingtest.Returns(t, "Check against a paused Redis", func() { err = Check(context.Background(), c) })
	if err == nil {
		t.Fatal("Check against a paused Redis succeeded")
	}
	after := pool.PoolStats()
	if n := after.Hits + after.Misses - before.Hits - before.Misses; n != 1 {
		t.Fatalf("Check took %d connections from the pool; want 1 attempt, no retry", n)
	}
}
