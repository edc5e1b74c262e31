package config

import (
	"time"
)

// Config is callscreen's whole configuration. Field tags name the YAML
// keys; docs/configuration.md describes every one. A key tagged
// reload:"restart" (or inside a section so tagged) is read when serve
// starts and not on SIGHUP: RestartKeys says which of them a reload
// changed; every other key applies at the next call after a reload.
type Config struct {
	Mode            string        `mapstructure:"mode"`
	Number          Number        `mapstructure:"number"`
	DataDir         string        `mapstructure:"data_dir" reload:"restart"`
	Log             Log           `mapstructure:"log" reload:"restart"`
	AGI             AGI           `mapstructure:"agi"`
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	Admin           Admin         `mapstructure:"admin"`
	Lists           Lists         `mapstructure:"lists"`
	// Emergency are critical numbers added to 911/112/933 in every profile.
	Emergency []string `mapstructure:"emergency"`
	// OwnNumbers are our DIDs (caller.own_number).
	OwnNumbers []string `mapstructure:"own_numbers" reload:"restart"`
	// Honeypots are unassigned DIDs (caller.honeypot).
	Honeypots []string `mapstructure:"honeypots" reload:"restart"`
	// DIDs maps a dialed number or prefix to a profile name.
	DIDs       map[string]string  `mapstructure:"dids"`
	Redis      Redis              `mapstructure:"redis" reload:"restart"`
	Reputation Reputation         `mapstructure:"reputation"`
	Providers  Providers          `mapstructure:"providers"`
	Feed       Feed               `mapstructure:"feed" reload:"restart"`
	Audit      Audit              `mapstructure:"audit" reload:"restart"`
	ARI        ARI                `mapstructure:"ari" reload:"restart"`
	Profiles   map[string]Profile `mapstructure:"profiles"`
	// Outbound reads CDRs to judge our own outbound numbers (outbound.go).
	Outbound Outbound `mapstructure:"outbound" reload:"restart"`

	// Set by Load.
	path     string
	resolved map[string]resolvedProfile
	dids     []didEntry
	version  string
}

// Number configures number parsing.
type Number struct {
	// DefaultRegion reads numbers written in national form (ISO 3166).
	DefaultRegion string `mapstructure:"default_region"`
}

// Log configures logging.
type Log struct {
	Level  string `mapstructure:"level"`  // debug, info, warn, error
	Format string `mapstructure:"format"` // auto, text, json
}

// AGI configures the FastAGI server.
type AGI struct {
	Listen         string        `mapstructure:"listen" reload:"restart"`
	MaxSessions    int           `mapstructure:"max_sessions" reload:"restart"`
	Allow          []string      `mapstructure:"allow" reload:"restart"`
	HeaderTimeout  time.Duration `mapstructure:"header_timeout" reload:"restart"`
	SessionTimeout time.Duration `mapstructure:"session_timeout"`
}

// Admin configures the admin HTTP API.
type Admin struct {
	// Listen is host:port; "" turns the admin server off.
	Listen    string `mapstructure:"listen" reload:"restart"`
	Token     Secret `mapstructure:"token" reload:"restart"`
	TokenFile string `mapstructure:"token_file" reload:"restart"`
}

// Lists configures the must-pass and must-block list files.
type Lists struct {
	AllowFile string `mapstructure:"allow_file" reload:"restart"`
	BlockFile string `mapstructure:"block_file" reload:"restart"`
	Watch     bool   `mapstructure:"watch" reload:"restart"`
}

// Redis configures the shared Redis; no addrs means none.
type Redis struct {
	Addrs      []string `mapstructure:"addrs"`
	MasterName string   `mapstructure:"master_name"`
	// Cluster forces Cluster mode with a single seed address.
	Cluster              bool          `mapstructure:"cluster"`
	Username             string        `mapstructure:"username"`
	Password             Secret        `mapstructure:"password"`
	PasswordFile         string        `mapstructure:"password_file"`
	SentinelPassword     Secret        `mapstructure:"sentinel_password"`
	SentinelPasswordFile string        `mapstructure:"sentinel_password_file"`
	DB                   int           `mapstructure:"db"`
	TLS                  bool          `mapstructure:"tls"`
	TLSCAFile            string        `mapstructure:"tls_ca_file"`
	TLSServerName        string        `mapstructure:"tls_server_name"`
	DialTimeout          time.Duration `mapstructure:"dial_timeout"`
	ReadTimeout          time.Duration `mapstructure:"read_timeout"`
	WriteTimeout         time.Duration `mapstructure:"write_timeout"`
	// PoolSize is connections per node; 0 is the client's default.
	PoolSize int `mapstructure:"pool_size"`
}

// Reputation configures lookups.
type Reputation struct {
	// Budget is the time every provider lookup of one call shares.
	Budget time.Duration `mapstructure:"budget"`
	// ProviderTimeout bounds one provider request; answers later than
	// Budget only fill the cache.
	ProviderTimeout time.Duration `mapstructure:"provider_timeout"`
	// MaxRetryAfter caps the pause a provider's Retry-After imposes.
	MaxRetryAfter time.Duration `mapstructure:"max_retry_after"`
	Breaker       Breaker       `mapstructure:"breaker"`
	Cache         Cache         `mapstructure:"cache" reload:"restart"`
}

// Breaker tunes every provider's circuit breaker.
type Breaker struct {
	Failures int           `mapstructure:"failures"`
	OpenFor  time.Duration `mapstructure:"open_for"`
}

// Cache configures the reputation cache (in memory, and in Redis when
// redis.addrs is set).
type Cache struct {
	// Size bounds the in-memory cache in entries.
	Size int `mapstructure:"size"`
	// TTLLow keeps clean and business verdicts, TTLSuspect medium-risk or
	// recently reported ones, TTLSpam spam and high-risk ones.
	TTLLow     time.Duration `mapstructure:"ttl_low"`
	TTLSuspect time.Duration `mapstructure:"ttl_suspect"`
	TTLSpam    time.Duration `mapstructure:"ttl_spam"`
	// L2Timeout bounds one Redis cache operation.
	L2Timeout time.Duration `mapstructure:"l2_timeout"`
}

// Providers configures the external reputation providers. A provider is
// on when its key (or, for http, its URL) is set.
type Providers struct {
	CallerAPI CallerAPI    `mapstructure:"callerapi"`
	YouMail   YouMail      `mapstructure:"youmail"`
	HTTP      HTTPProvider `mapstructure:"http"`
}

// CallerAPI configures the CallerAPI provider.
type CallerAPI struct {
	URL     string `mapstructure:"url"`
	Key     Secret `mapstructure:"key"`
	KeyFile string `mapstructure:"key_file"`
}

// YouMail configures the YouMail provider.
type YouMail struct {
	URL     string `mapstructure:"url"`
	SID     Secret `mapstructure:"sid"`
	SIDFile string `mapstructure:"sid_file"`
	Key     Secret `mapstructure:"key"`
	KeyFile string `mapstructure:"key_file"`
}

// HTTPProvider configures the generic HTTP provider.
type HTTPProvider struct {
	URL       string `mapstructure:"url"`
	Token     Secret `mapstructure:"token"`
	TokenFile string `mapstructure:"token_file"`
}

// Feed configures the daily spam-report feed.
type Feed struct {
	URL       string        `mapstructure:"url"`
	Headers   Headers       `mapstructure:"headers"`
	Format    string        `mapstructure:"format"` // json, ftc
	Time      string        `mapstructure:"time"`   // HH:MM UTC
	Retention time.Duration `mapstructure:"retention"`
}

// Audit configures the signed decision log.
type Audit struct {
	Enabled            bool          `mapstructure:"enabled"`
	Dir                string        `mapstructure:"dir"`
	Fsync              string        `mapstructure:"fsync"` // batch, always, none
	FsyncInterval      time.Duration `mapstructure:"fsync_interval"`
	CheckpointEvery    int           `mapstructure:"checkpoint_every"`
	CheckpointInterval time.Duration `mapstructure:"checkpoint_interval"`
	RotateSize         ByteSize      `mapstructure:"rotate_size"`
	KeyFile            string        `mapstructure:"key_file"`
	Witness            AuditWitness  `mapstructure:"witness"`
}

// AuditWitness configures the off-box copy of the decision log's signed
// checkpoints: an HTTPS URL or a file on another mount (one of them).
type AuditWitness struct {
	URL       string `mapstructure:"url"`
	File      string `mapstructure:"file"`
	Token     Secret `mapstructure:"token"`
	TokenFile string `mapstructure:"token_file"`
}

// ARI configures the Asterisk REST Interface transport.
type ARI struct {
	Servers []ARIServer `mapstructure:"servers"`
}

// ARIServer is one Asterisk server reached over ARI.
type ARIServer struct {
	URL          string `mapstructure:"url"`
	Username     string `mapstructure:"username"`
	Password     Secret `mapstructure:"password"`
	PasswordFile string `mapstructure:"password_file"`
	App          string `mapstructure:"app"`
	Tenant       string `mapstructure:"tenant"`
	Profile      string `mapstructure:"profile"`
}

// Profile is one profile as configured. Unset fields inherit from
// profiles.default, which starts from policy.Default().
type Profile struct {
	Mode        string            `mapstructure:"mode"`
	Coverage    string            `mapstructure:"coverage"`
	Actions     map[string]string `mapstructure:"actions"`
	AfterHours  map[string]string `mapstructure:"after_hours"`
	Hours       []Hours           `mapstructure:"hours"`
	Timezone    string            `mapstructure:"timezone"`
	Emergency   []string          `mapstructure:"emergency"`
	Scores      Scores            `mapstructure:"scores"`
	BlockResult string            `mapstructure:"block_result"`
	Challenge   Challenge         `mapstructure:"challenge"`
	Thresholds  Thresholds        `mapstructure:"thresholds"`
}

// Hours is one business-hours window.
type Hours struct {
	Days  []string `mapstructure:"days"`  // mon ... sun
	Open  string   `mapstructure:"open"`  // HH:MM
	Close string   `mapstructure:"close"` // HH:MM, after open
}

// Scores turn a provider's 0–100 spam score into reasons; 0 is off.
type Scores struct {
	Block     int `mapstructure:"block"`
	Challenge int `mapstructure:"challenge"`
}

// Challenge configures the DTMF challenge.
type Challenge struct {
	Digits      int           `mapstructure:"digits"`
	Attempts    int           `mapstructure:"attempts"`
	Timeout     time.Duration `mapstructure:"timeout"`
	OnFail      string        `mapstructure:"on_fail"`
	VerifiedFor time.Duration `mapstructure:"verified_for"`
	Prompts     Prompts       `mapstructure:"prompts"`
}

// Prompts are sound names without extension.
type Prompts struct {
	Intro   string `mapstructure:"intro"`
	Retry   string `mapstructure:"retry"`
	Thanks  string `mapstructure:"thanks"`
	Blocked string `mapstructure:"blocked"`
}

// Thresholds are the limits of the behaviour and report sources.
type Thresholds struct {
	BurstCalls               int           `mapstructure:"burst_calls"`
	BurstWindow              time.Duration `mapstructure:"burst_window"`
	FloodPerMinute           int           `mapstructure:"flood_per_minute"`
	FloodPerMinuteAfterHours int           `mapstructure:"flood_per_minute_after_hours"`
	RepeatGray               int           `mapstructure:"repeat_gray"`
	RepeatWindow             time.Duration `mapstructure:"repeat_window"`
	ReportWindow             time.Duration `mapstructure:"report_window"`
	HoneypotFor              time.Duration `mapstructure:"honeypot_for"`
}
