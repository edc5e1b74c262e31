package redisconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// The defaults New applies to zero Options fields. They suit Redis on the
// same LAN as callscreen; a call's whole reputation budget is 400ms.
const (
	DefaultDialTimeout  = 250 * time.Millisecond
	DefaultReadTimeout  = 100 * time.Millisecond
	DefaultWriteTimeout = 100 * time.Millisecond
	DefaultPoolTimeout  = 100 * time.Millisecond
	DefaultPoolSize     = 32
)

// Options are the redis.* configuration keys.
type Options struct {
	// Addrs are host:port addresses (redis.addrs). None: no Redis at all.
	// One address without MasterName is a single node (or a cluster seed
	// when Cluster is set); several without MasterName are Cluster seeds;
	// with MasterName they are Sentinel addresses.
	Addrs []string
	// MasterName is the Sentinel master name (redis.master_name).
	MasterName string
	// Cluster forces Cluster mode with a single seed address (redis.cluster).
	Cluster bool
	// Username and Password authenticate (redis.username, redis.password).
	// The password comes from the environment (CALLSCREEN_REDIS_PASSWORD)
	// or a file, never from the YAML file or logs.
	Username string
	Password string
	// SentinelPassword authenticates to the Sentinels when they need one
	// (redis.sentinel_password, from the environment like Password).
	SentinelPassword string
	// DB selects the database (redis.db); single node and Sentinel only.
	DB int
	// TLS turns TLS on (redis.tls). TLSCAFile is a PEM bundle of the CAs
	// to trust instead of the system pool (redis.tls_ca_file);
	// TLSServerName overrides the name checked in the certificate
	// (redis.tls_server_name).
	TLS           bool
	TLSCAFile     string
	TLSServerName string
	// DialTimeout, ReadTimeout and WriteTimeout bound one connect, one
	// reply and one request (redis.dial_timeout, redis.read_timeout,
	// redis.write_timeout). Zero selects the defaults above.
	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// PoolSize is the number of connections per node (redis.pool_size);
	// zero selects DefaultPoolSize.
	PoolSize int
}

// Enabled reports whether Redis is configured at all.
func (o Options) Enabled() bool { return len(o.Addrs) > 0 }

// Validate checks the options and names the key of the first bad value.
func (o Options) Validate() error {
	for _, a := range o.Addrs {
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" {
			return fmt.Errorf("redis.addrs: %q: want host:port", a)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("redis.addrs: %q: port %q: want 1 to 65535", a, port)
		}
	}
	switch {
	case o.DB < 0:
		return fmt.Errorf("redis.db: %d: must not be negative", o.DB)
	case o.DB != 0 && o.clusterMode():
		return fmt.Errorf("redis.db: %d: Redis Cluster has only database 0", o.DB)
	case o.MasterName != "" && o.Cluster:
		return errors.New("redis.master_name and redis.cluster: choose Sentinel or Cluster, not both")
	case o.DialTimeout < 0:
		return fmt.Errorf("redis.dial_timeout: %s: must not be negative", o.DialTimeout)
	case o.ReadTimeout < 0:
		return fmt.Errorf("redis.read_timeout: %s: must not be negative", o.ReadTimeout)
	case o.WriteTimeout < 0:
		return fmt.Errorf("redis.write_timeout: %s: must not be negative", o.WriteTimeout)
	case o.PoolSize < 0:
		return fmt.Errorf("redis.pool_size: %d: must not be negative", o.PoolSize)
	case !o.TLS && (o.TLSCAFile != "" || o.TLSServerName != ""):
		return errors.New("redis.tls_ca_file / redis.tls_server_name: set redis.tls: true to use TLS")
	}
	return nil
}

func (o Options) clusterMode() bool {
	return o.MasterName == "" && (o.Cluster || len(o.Addrs) > 1)
}

// Mode names the topology the options select: "none", "single",
// "sentinel" or "cluster".
func (o Options) Mode() string {
	switch {
	case !o.Enabled():
		return "none"
	case o.MasterName != "":
		return "sentinel"
	case o.clusterMode():
		return "cluster"
	}
	return "single"
}

// New builds the client the options describe. It returns nil, nil when no
// address is configured: callers then run without Redis. New does not
// connect; use Check for that. The caller closes the client.
func New(o Options) (redis.UniversalClient, error) {
	if !o.Enabled() {
		return nil, nil
	}
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("redis config: %w", err)
	}
	uo, err := o.universal()
	if err != nil {
		return nil, fmt.Errorf("redis config: %w", err)
	}
	c := redis.NewUniversalClient(uo)
	if cc, ok := c.(*redis.ClusterClient); ok {
		cc.AddHook(reloadOnFailure{cc})
	}
	return c, nil
}

// reloadOnFailure makes a cluster client reload its slot map after a
// command fails. go-redis reloads it on MOVED/ASK and on its retries, but
// the call path runs without retries (MaxRetries -1), so after a master
// dies and its replica takes over, the client would keep sending that
// master's slots to the dead address until the periodic reload (60 s by
// default): measured with redistest.StartCluster, every command on those
// slots failed with "connection refused" for the whole minute. The reload
// is lazy and coalesced by go-redis (one CLUSTER SLOTS, 200 ms apart at
// most), off the failing call's path.
type reloadOnFailure struct{ c *redis.ClusterClient }

func (h reloadOnFailure) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h reloadOnFailure) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if topologyError(err) {
			h.c.ReloadState(ctx)
		}
		return err
	}
}

func (h reloadOnFailure) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if topologyError(err) {
			h.c.ReloadState(ctx)
		}
		return err
	}
}

// topologyError reports whether err may mean the cluster changed: any
// failure but a missing key and a reply about the command itself (a wrong
// type, a script not loaded); CLUSTERDOWN and TRYAGAIN count.
func topologyError(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		return false
	}
	var re redis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		return strings.HasPrefix(msg, "CLUSTERDOWN") || strings.HasPrefix(msg, "TRYAGAIN")
	}
	return true
}

func (o Options) universal() (*redis.UniversalOptions, error) {
	uo := &redis.UniversalOptions{
		Addrs:            o.Addrs,
		ClientName:       "callscreen",
		MasterName:       o.MasterName,
		IsClusterMode:    o.Cluster,
		Username:         o.Username,
		Password:         o.Password,
		SentinelPassword: o.SentinelPassword,
		DB:               o.DB,

		// The call path never waits for a retry: one attempt per command
		// and per dial, deadlines from the caller's context.
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		DialerRetries:         1,
		DialTimeout:           orDefault(o.DialTimeout, DefaultDialTimeout),
		ReadTimeout:           orDefault(o.ReadTimeout, DefaultReadTimeout),
		WriteTimeout:          orDefault(o.WriteTimeout, DefaultWriteTimeout),
		PoolTimeout:           DefaultPoolTimeout,
		PoolSize:              o.PoolSize,
		MinIdleConns:          0,
		ConnMaxIdleTime:       5 * time.Minute,

		// Maintenance notifications are a managed-service feature that
		// costs a round trip per new connection; self-hosted Redis has none.
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
	if uo.PoolSize == 0 {
		uo.PoolSize = DefaultPoolSize
	}
	if o.TLS {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.TLSServerName}
		if o.TLSCAFile != "" {
			pem, err := os.ReadFile(o.TLSCAFile)
			if err != nil {
				return nil, fmt.Errorf("redis.tls_ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("redis.tls_ca_file: %s: no PEM certificate found", o.TLSCAFile)
			}
			tc.RootCAs = pool
		}
		uo.TLSConfig = tc
	}
	return uo, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// ErrNotConfigured reports a health check on a client that does not exist.
var ErrNotConfigured = errors.New("redis not configured")

// Check is the readiness probe: one PING within ctx's deadline. A nil
// client (no Redis configured) returns ErrNotConfigured, which a readiness
// handler treats as healthy.
func Check(ctx context.Context, c redis.UniversalClient) error {
	if c == nil {
		return ErrNotConfigured
	}
	if err := c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis ping: %w", err)
	}
	return nil
}

// Key builds a tenant-namespaced key: "cs:" tenant ":" parts joined by
// ":". The default tenant "" is spelled "default". Characters outside
// [A-Za-z0-9._-] in the tenant are escaped, so a tenant can never reach
// into another tenant's keys, and braces never appear in the tenant (they
// would be a Cluster hash tag).
func Key(tenant string, parts ...string) string {
	var b strings.Builder
	n := 4 + len(tenant)
	for _, p := range parts {
		n += len(p) + 1
	}
	b.Grow(n)
	b.WriteString("cs:")
	writeTenant(&b, tenant)
	for _, p := range parts {
		b.WriteByte(':')
		b.WriteString(p)
	}
	return b.String()
}

func writeTenant(b *strings.Builder, tenant string) {
	if tenant == "" {
		b.WriteString("default")
		return
	}
	const hex = "0123456789abcdef"
	for i := 0; i < len(tenant); i++ {
		c := tenant[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		}
	}
}

// UseSlog sends go-redis's own log lines (failed dials, pool events) to l
// at warn level instead of standard error. It sets go-redis's process-wide
// logger: call it once, from main.
func UseSlog(l *slog.Logger) {
	redis.SetLogger(slogPrinter{l})
}

type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Printf(ctx context.Context, format string, v ...any) {
	p.l.WarnContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...))
}
