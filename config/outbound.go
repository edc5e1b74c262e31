package config

import (
	"fmt"
	"regexp"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/callscreen/callscreen/outbound"
)

// Outbound configures outbound number health from CDRs
// (docs/outbound-health.md). It is off unless cdr_file or dsn is set, and
// it never affects how inbound calls are screened.
type Outbound struct {
	// CDRFile is Asterisk's cdr_csv Master.csv, followed as it grows.
	CDRFile string      `mapstructure:"cdr_file"`
	CSV     OutboundCSV `mapstructure:"csv"`
	// DSN reads FreePBX's CDR table instead (go-sql-driver/mysql form,
	// user@tcp(host:3306)/asteriskcdrdb); the password is a secret kept
	// out of it.
	DSN          Secret        `mapstructure:"dsn"`
	DSNFile      string        `mapstructure:"dsn_file"`
	Password     Secret        `mapstructure:"password"`
	PasswordFile string        `mapstructure:"password_file"`
	Table        string        `mapstructure:"table"`
	Lookback     time.Duration `mapstructure:"lookback"`
	// Timezone is the zone of the CDR times and of the days.
	Timezone string `mapstructure:"timezone"`
	// Contexts are the outbound dialplan contexts; empty: the rows whose
	// lastapp is Dial.
	Contexts   []string           `mapstructure:"contexts"`
	Window     time.Duration      `mapstructure:"window"`
	Refresh    time.Duration      `mapstructure:"refresh"`
	MaxNumbers int                `mapstructure:"max_numbers"`
	Thresholds OutboundThresholds `mapstructure:"thresholds"`
	Webhook    OutboundWebhook    `mapstructure:"webhook"`
}

// OutboundCSV is the Master.csv layout, as cdr.conf's [csv] section sets it.
type OutboundCSV struct {
	LogUniqueID   bool `mapstructure:"loguniqueid"`
	LogUserField  bool `mapstructure:"loguserfield"`
	NewCDRColumns bool `mapstructure:"newcdrcolumns"`
}

// OutboundThresholds flag a number (see outbound.Thresholds).
type OutboundThresholds struct {
	ShortCall        time.Duration `mapstructure:"short_call"`
	ShortShare       float64       `mapstructure:"short_share"`
	UnreachableShare float64       `mapstructure:"unreachable_share"`
	CallsPerDay      float64       `mapstructure:"calls_per_day"`
	MinCalls         int           `mapstructure:"min_calls"`
}

// OutboundWebhook is told when a number crosses a threshold, and when it
// is healthy again.
type OutboundWebhook struct {
	URL        string        `mapstructure:"url"`
	Secret     Secret        `mapstructure:"secret"`
	SecretFile string        `mapstructure:"secret_file"`
	Retries    int           `mapstructure:"retries"`
	Timeout    time.Duration `mapstructure:"timeout"`
}

func defaultOutbound() Outbound {
	t := outbound.DefaultThresholds()
	return Outbound{
		CSV:      OutboundCSV{LogUniqueID: true, LogUserField: true},
		Table:    "cdr",
		Lookback: 4 * time.Hour,
		Timezone: "UTC",
		Contexts: []string{},
		Window:   7 * 24 * time.Hour,
		Refresh:  5 * time.Minute,
		// Each number is a few Prometheus series: keep them bounded.
		MaxNumbers: 50,
		Thresholds: OutboundThresholds{
			ShortCall: t.ShortCall, ShortShare: t.ShortShare, UnreachableShare: t.UnreachableShare,
			CallsPerDay: t.CallsPerDay, MinCalls: t.MinCalls,
		},
		Webhook: OutboundWebhook{Retries: 3, Timeout: 10 * time.Second},
	}
}

// Enabled reports whether a CDR source is configured.
func (o Outbound) Enabled() bool { return o.CDRFile != "" || o.DSN.IsSet() }

// ThresholdsValue is the thresholds in the outbound package's form.
func (o Outbound) ThresholdsValue() outbound.Thresholds {
	t := o.Thresholds
	return outbound.Thresholds{ShortCall: t.ShortCall, ShortShare: t.ShortShare, UnreachableShare: t.UnreachableShare,
		CallsPerDay: t.CallsPerDay, MinCalls: t.MinCalls}
}

// Location is the zone of Timezone (valid after Load).
func (o Outbound) Location() *time.Location {
	loc, err := time.LoadLocation(o.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

var tableNameRE = regexp.MustCompile(`^[A-Za-z0-9_$]{1,64}(\.[A-Za-z0-9_$]{1,64})?$`)

func (c *Config) resolveOutbound() error {
	o := &c.Outbound
	if o.CDRFile != "" && o.DSN.IsSet() {
		return fmt.Errorf("outbound.cdr_file and outbound.dsn are both set: set one")
	}
	if o.DSN.IsSet() {
		if _, err := mysql.ParseDSN(o.DSN.Value()); err != nil {
			return fmt.Errorf("outbound.dsn: %v (want user@tcp(host:3306)/asteriskcdrdb)", err)
		}
	}
	if !tableNameRE.MatchString(o.Table) {
		return fmt.Errorf("outbound.table %q: want a table name such as cdr or asteriskcdrdb.cdr", o.Table)
	}
	if err := positive("outbound.lookback", o.Lookback); err != nil {
		return err
	}
	if _, err := time.LoadLocation(o.Timezone); err != nil || o.Timezone == "" {
		return fmt.Errorf("outbound.timezone %q: want an IANA time zone such as UTC or America/New_York", o.Timezone)
	}
	for i, ctx := range o.Contexts {
		if ctx == "" {
			return fmt.Errorf("outbound.contexts[%d]: must not be empty", i)
		}
	}
	if o.Window < 24*time.Hour || o.Window%(24*time.Hour) != 0 {
		return fmt.Errorf("outbound.window %s: want whole days, such as 24h or 168h", o.Window)
	}
	if o.Refresh < time.Second {
		return fmt.Errorf("outbound.refresh %s: must be at least 1s", o.Refresh)
	}
	if o.MaxNumbers < 1 || o.MaxNumbers > 1000 {
		return fmt.Errorf("outbound.max_numbers %d: want 1 to 1000", o.MaxNumbers)
	}
	if err := o.ThresholdsValue().Validate(); err != nil {
		return fmt.Errorf("outbound.thresholds.%w", err)
	}
	w := &o.Webhook
	if w.URL != "" {
		if err := httpURL("outbound.webhook.url", w.URL); err != nil {
			return err
		}
		if !w.Secret.IsSet() {
			return fmt.Errorf("outbound.webhook.secret (or secret_file) is required with outbound.webhook.url: receivers check the signature with it")
		}
	}
	if w.Retries < 0 || w.Retries > 10 {
		return fmt.Errorf("outbound.webhook.retries %d: want 0 to 10", w.Retries)
	}
	return positive("outbound.webhook.timeout", w.Timeout)
}
