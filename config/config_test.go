package config

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestLoadBadConfigs ties every file in testdata/bad to its exact error.
func TestLoadBadConfigs(t *testing.T) {
	tests := []struct{ file, err string }{
		{"action.yaml", "profiles.sales.actions.caller.anonymous \"drop\": want allow, challenge or block"},
		{"allow_cidr.yaml", "agi.allow[0] \"10.0.0.0/33\": want an IP address or CIDR prefix"},
		{"ari_profile.yaml", "ari.servers[0].profile \"nosuch\": no such profile"},
		{"ari_url.yaml", "ari.servers[0].url \"pbx.example.com\": want an http or https URL"},
		{"ari_tenant.yaml", "ari.servers[0].tenant \"acme corp\": want 1 to 64 letters, digits, '.', '_' or '-'"},
		{"challenge_timeout.yaml", "profiles.default.challenge.timeout 100ms: want 500ms to 1m"},
		{"did_number.yaml", "dids key \"sales-line\": want a number or prefix, E.164 or national"},
		{"did_profile.yaml", "dids key \"+15551230000\": profile \"nosuch\": no such profile"},
		{"digits.yaml", "profiles.sales.challenge.digits 12: want 1 to 10"},
		{"duration.yaml", "agi.header_timeout \"fast\": want a duration such as 500ms, 5s, 2m or 720h"},
		{"emergency.yaml", "emergency[0] \"police\": want a number, a prefix ending in * or a range A..B"},
		{"emergency_range.yaml", "profiles.sales.emergency[0] \"+12125550199..+12125550100\": want a range of two numbers of equal length, low..high"},
		{"feed_format.yaml", "feed.format \"xml\": want json or ftc"},
		{"feed_time.yaml", "feed.time \"25:00\": want HH:MM (UTC)"},
		{"fsync.yaml", "audit.fsync \"sometimes\": want batch, always or none"},
		{"hours_day.yaml", "profiles.sales.hours[0].days \"funday\": want sun, mon, tue, wed, thu, fri, sat"},
		{"hours_order.yaml", "profiles.sales.hours[0]: close 09:00 is not after open 17:00"},
		{"list_missing.yaml", "lists.block_file \"testdata/no-such-list.txt\": no such file or directory"},
		{"listen.yaml", "agi.listen \"localhost\": want host:port"},
		{"log_level.yaml", "log.level \"verbose\": want debug, info, warn or error"},
		{"max_sessions.yaml", "agi.max_sessions 0: must be at least 1"},
		{"mode.yaml", "mode \"enforcing\": want enforce or monitor"},
		{"on_fail.yaml", "profiles.default.challenge.on_fail \"hangup\": want block or voicemail"},
		{"prompt.yaml", "profiles.default.challenge.prompts.intro \"intro;rm -rf\": want a sound name of letters, digits, '/', '_', '-' or '.'"},
		{"outbound_both.yaml", "outbound.cdr_file and outbound.dsn are both set: set one"},
		{"outbound_share.yaml", "outbound.thresholds.short_share 1.5: want a share from 0 to 1"},
		{"outbound_webhook.yaml", "outbound.webhook.secret (or secret_file) is required with outbound.webhook.url: receivers check the signature with it"},
		{"outbound_window.yaml", "outbound.window 36h0m0s: want whole days, such as 24h or 168h"},
		{"provider_url.yaml", "providers.http.url \"ftp://x\": want an http or https URL"},
		{"reason.yaml", "profiles.default.actions: unknown reason code \"caller.spammy\" (see docs/reasons.md)"},
		{"region.yaml", "number.default_region \"XX\": want an ISO 3166 region code such as US or GB"},
		{"rotate_size.yaml", "audit.rotate_size \"64 furlongs\": want a number of bytes, optionally with KiB, MiB, GiB, KB, MB or GB"},
		{"score.yaml", "profiles.default.scores.block 101: want 0 to 100 (0 is off)"},
		{"secret_both.yaml", "redis.password and redis.password_file are both set: set one"},
		{"secret_missing_file.yaml", "admin.token_file \"testdata/no-such-token\": no such file or directory"},
		{"threshold.yaml", "profiles.default.thresholds.burst_calls 0: must be positive"},
		{"timezone.yaml", "profiles.sales.timezone \"Mars/Olympus_Mons\": want an IANA time zone such as UTC or America/New_York"},
		{"type.yaml", "agi.max_sessions \"many\": want an integer"},
		{"unknown_ari_key.yaml", "unknown key \"ari.servers[0].pasword\""},
		{"unknown_key.yaml", "unknown key \"agi.listn\""},
		{"unknown_profile_key.yaml", "unknown key \"profiles.sales.challenge.digitz\""},
		{"witness_both.yaml", "audit.witness.url and audit.witness.file are both set: set one"},
		{"witness_url.yaml", "audit.witness.url \"http://witness.example.com/pbx1\": want an https URL"},
		{"yaml_syntax.yaml", "parse yaml: yaml: line 1: did not find expected ',' or ']'"},
		{"youmail.yaml", "providers.youmail: sid and key must be set together"},
	}
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	if len(files) != len(tests) {
		t.Errorf("%d files in testdata/bad, %d cases: every bad config needs its case", len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := "testdata/bad/" + tt.file
			_, err := Load(path)
			want := "config " + path + ": " + tt.err
			if err == nil || err.Error() != want {
				t.Fatalf("Load error:\n got %v\nwant %s", err, want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.AGI.Listen != "127.0.0.1:4573" || c.Admin.Listen != "127.0.0.1:8089" || c.Mode != "enforce" ||
		c.Number.DefaultRegion != "US" || c.Log.Format != "auto" || c.Audit.RotateSize != 64<<20 ||
		c.Audit.Dir != filepath.Join("data", "audit") || c.Reputation.Budget != 400*time.Millisecond || !c.Lists.Watch {
		t.Fatalf("defaults: %+v", c)
	}
	p, ok := c.Profile("default")
	if !ok {
		t.Fatal("no default profile")
	}
	want := policy.Default()
	if p.Challenge != want.Challenge || p.Thresholds != want.Thresholds || p.Mode != want.Mode ||
		p.Coverage != want.Coverage || p.BlockResult != want.BlockResult || !slices.Equal(p.Emergency, want.Emergency) {
		t.Fatalf("default profile\n got %+v\nwant %+v", p, want)
	}
	if _, ok := c.Profile("nosuch"); ok {
		t.Fatal("unknown profile found")
	}
}

func TestLoadGood(t *testing.T) {
	c, err := Load("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Admin.Token != "tok3n" || c.Redis.Password != "hunter2" || c.Providers.CallerAPI.Key != "abc123" {
		t.Fatalf("secrets not loaded: %q %q %q", c.Admin.Token, c.Redis.Password, c.Providers.CallerAPI.Key)
	}
	if got := c.AGI.AllowPrefixes(); len(got) != 2 || got[1].String() != "192.168.1.5/32" {
		t.Fatalf("allow prefixes %v", got)
	}
	if !slices.Equal(c.Emergency, []string{"+12125550100", "999", "+1800555*", "+12125550200..+12125550299"}) || !slices.Equal(c.OwnNumbers, []string{"+15551230000"}) {
		t.Fatalf("numbers not normalised: %v %v", c.Emergency, c.OwnNumbers)
	}
	if names := c.ProfileNames(); !slices.Equal(names, []string{"default", "pilot", "sales", "support"}) {
		t.Fatalf("profiles %v", names)
	}
	sales, _ := c.Profile("Sales")
	def, _ := c.Profile("default")
	switch {
	case sales.Challenge.Digits != 4 || sales.Challenge.Attempts != 2 || sales.Challenge.OnFail != policy.ResultVoicemail:
		t.Errorf("sales challenge %+v", sales.Challenge)
	case sales.Challenge.Intro != "sales/intro" || sales.Challenge.Retry != "callscreen/retry":
		t.Errorf("sales prompts %+v", sales.Challenge)
	case sales.Scores != def.Scores || def.Scores.Block != 90:
		t.Errorf("scores not inherited: %+v", sales.Scores)
	case sales.Actions[policy.CallerInvalid] != policy.Allow || sales.AfterHours[policy.CallerAnonymous] != policy.Block:
		t.Errorf("actions not merged: %v %v", sales.Actions, sales.AfterHours)
	case len(sales.Hours) != 1 || len(sales.Hours[0].Days) != 5 || sales.Hours[0].Close != 17*time.Hour+30*time.Minute:
		t.Errorf("hours %+v", sales.Hours)
	case sales.Location.String() != "America/New_York" || def.Location.String() != "UTC":
		t.Errorf("time zones %v %v", sales.Location, def.Location)
	case !slices.Contains(sales.Emergency, "911") || !slices.Contains(sales.Emergency, "+12125550100"):
		t.Errorf("emergency %v", sales.Emergency)
	}
	// 10:00 on a Monday in New York is business hours; 03:00 UTC is not.
	if !sales.InHours(time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)) || sales.InHours(time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)) {
		t.Error("business hours not applied in the profile's time zone")
	}
	if pilot, _ := c.Profile("pilot"); pilot.Mode != policy.ModeMonitor {
		t.Errorf("pilot mode %q", pilot.Mode)
	}
	if support, _ := c.Profile("support"); support.Mode != policy.ModeEnforce || support.BlockResult != policy.ResultVoicemail {
		t.Errorf("support %+v", support)
	}
	if c.ARI.Servers[0].Profile != "sales" || c.ARI.Servers[0].App != "callscreen" {
		t.Errorf("ari server %+v", c.ARI.Servers[0])
	}
	if c.Feed.Headers["authorization"] != "Bearer sekret" {
		t.Errorf("feed headers %v", c.Feed.Headers)
	}
}

func TestProfileForDID(t *testing.T) {
	c, err := Load("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		dialed, want string
		ok           bool
	}{
		{"+15551230000", "sales", true},
		{"5551239999", "sales", true},
		{"+15551230042", "pilot", true}, // longest prefix wins
		{"15559990000", "support", true},
		{"+15559990001", "", false},
		{"+442071234567", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := c.ProfileForDID(number.Parse(tt.dialed, "US"))
		if got != tt.want || ok != tt.ok {
			t.Errorf("ProfileForDID(%q) = %q, %v; want %q, %v", tt.dialed, got, ok, tt.want, tt.ok)
		}
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	t.Setenv("CALLSCREEN_AGI_LISTEN", "0.0.0.0:14573")
	t.Setenv("CALLSCREEN_MODE", "monitor")
	t.Setenv("CALLSCREEN_AGI_ALLOW", "10.0.0.0/8,172.16.0.0/12")
	t.Setenv("CALLSCREEN_LISTS_WATCH", "false")
	t.Setenv("CALLSCREEN_REDIS_PASSWORD", "fromenv")
	t.Setenv("CALLSCREEN_REPUTATION_CACHE_TTL_SPAM", "48h")
	t.Setenv("CALLSCREEN_PROFILES_DEFAULT_CHALLENGE_ATTEMPTS", "3")
	t.Setenv("CALLSCREEN_PROFILES_SALES_CHALLENGE_DIGITS", "6")
	t.Setenv("CALLSCREEN_AUDIT_ROTATE_SIZE", "1MiB")
	c, err := Load("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.AGI.Listen != "0.0.0.0:14573" || c.Mode != "monitor" || c.Lists.Watch || c.Redis.Password != "fromenv" ||
		c.Reputation.Cache.TTLSpam != 48*time.Hour || c.Audit.RotateSize != 1<<20 ||
		!slices.Equal(c.AGI.Allow, []string{"10.0.0.0/8", "172.16.0.0/12"}) {
		t.Fatalf("environment not applied: %+v", c)
	}
	sales, _ := c.Profile("sales")
	support, _ := c.Profile("support")
	if sales.Challenge.Digits != 6 || sales.Challenge.Attempts != 3 || support.Challenge.Attempts != 3 {
		t.Fatalf("profile environment: sales %+v support %+v", sales.Challenge, support.Challenge)
	}
	if support.Mode != policy.ModeMonitor {
		t.Fatalf("profile without mode does not follow CALLSCREEN_MODE: %q", support.Mode)
	}

	t.Setenv("CALLSCREEN_AGI_MAX_SESSIONS", "lots")
	_, err = Load("")
	if want := `config (defaults and environment): agi.max_sessions "lots": want an integer`; err == nil || err.Error() != want {
		t.Fatalf("bad environment value: %v; want %s", err, want)
	}
}

func TestSecretFromEnvironmentFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(f, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CALLSCREEN_PROVIDERS_CALLERAPI_KEY_FILE", f)
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Providers.CallerAPI.Key != "s3cret" {
		t.Fatalf("key %q", c.Providers.CallerAPI.Key)
	}
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(""); err == nil || !strings.Contains(err.Error(), "providers.callerapi.key_file") || !strings.Contains(err.Error(), "file is empty") {
		t.Fatalf("empty secret file: %v", err)
	}
}

func TestRedactedAndVersion(t *testing.T) {
	c, err := Load("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(c)
	for _, s := range []string{"hunter2", "abc123", "tok3n", "sekret", `"pw"`, "w1tness-t0k"} {
		if bytes.Contains(out, []byte(s)) || bytes.Contains(js, []byte(s)) {
			t.Errorf("secret %s in the printed config:\n%s", s, out)
		}
	}
	if !bytes.Contains(out, []byte(Redacted)) || !bytes.Contains(out, []byte("x-region: us")) {
		t.Errorf("redacted YAML:\n%s", out)
	}
	if !bytes.Contains(out, []byte("token: \"\"\n")) || !bytes.Contains(out, []byte("token_file: testdata/admin.token")) {
		t.Errorf("a secret read from its file should print empty beside the file:\n%s", out)
	}
	if c.Redis.Password.Value() != "hunter2" || c.Feed.Headers["authorization"] != "Bearer sekret" {
		t.Fatal("printing changed the configuration")
	}
	if len(c.Version()) != 12 {
		t.Fatalf("version %q", c.Version())
	}

	// The YAML loads back to the same configuration.
	path := filepath.Join(t.TempDir(), "effective.yaml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatalf("loading the printed config: %v", err)
	}
	if back.Version() != c.Version() {
		t.Fatalf("version %s after a round trip; want %s", back.Version(), c.Version())
	}

	// A changed setting changes the version; a changed secret does not.
	t.Setenv("CALLSCREEN_REDIS_PASSWORD", "other")
	same, _ := Load("testdata/good.yaml")
	t.Setenv("CALLSCREEN_AGI_LISTEN", "0.0.0.0:1")
	diff, _ := Load("testdata/good.yaml")
	if same.Version() != c.Version() || diff.Version() == c.Version() {
		t.Fatalf("versions: base %s, other secret %s, other listen %s", c.Version(), same.Version(), diff.Version())
	}
}

func TestEmptyProfileInherits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("profiles:\n  night: {}\n  default:\n    challenge:\n      digits: 5\n"), 0o600)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	night, ok := c.Profile("night")
	if !ok || night.Challenge.Digits != 5 || night.Name != "night" {
		t.Fatalf("night = %+v, %v", night, ok)
	}
}

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	NewLogger(Log{Level: "info", Format: "auto"}, &buf).Info("hello", "k", "v")
	NewLogger(Log{Level: "info", Format: "auto"}, &buf).Debug("hidden")
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil || m["msg"] != "hello" {
		t.Fatalf("auto off a terminal is not JSON: %q (%v)", buf.String(), err)
	}
	buf.Reset()
	NewLogger(Log{Level: "debug", Format: "text"}, &buf).Debug("hello", "k", "v")
	if !strings.Contains(buf.String(), "hello") || strings.HasPrefix(buf.String(), "{") || strings.Contains(buf.String(), "\x1b[") {
		t.Fatalf("text: %q", buf.String())
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	c, _ := Load("")
	m.Loaded(c, time.Unix(1700000000, 0))
	if testutil.ToFloat64(m.successful) != 1 || testutil.ToFloat64(m.version.WithLabelValues(c.Version())) != 1 {
		t.Fatal("success not recorded")
	}
	m.Loaded(nil, time.Now())
	if testutil.ToFloat64(m.successful) != 0 || testutil.ToFloat64(m.successAt) != 1700000000 {
		t.Fatal("failure not recorded")
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) > 0 {
		t.Fatalf("promlint: %v %v", problems, err)
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"64MiB": 64 << 20, "1024": 1024, "10 KB": 10000, "2GiB": 2 << 30, "7B": 7} {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "-1", "1.5MiB", "MiB", "1 TiB"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) accepted", in)
		}
	}
	if s := ByteSize(64 << 20).String(); s != "64MiB" {
		t.Errorf("String = %s", s)
	}
}

// TestConfigurationDoc checks that docs/configuration.md documents every
// key of the schema.
func TestConfigurationDoc(t *testing.T) {
	b, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	dotted := func(k string) string { return strings.ReplaceAll(k, delim, ".") }
	for _, k := range leafKeys(reflect.TypeFor[Config](), "") {
		k = dotted(k)
		if k == "profiles" || k == "ari.servers" && strings.Contains(doc, "`ari.servers`") {
			continue
		}
		if !strings.Contains(doc, "`"+k+"`") {
			t.Errorf("key %s is not documented in docs/configuration.md", k)
		}
	}
	for _, k := range leafKeys(profileType, "") {
		if !strings.Contains(doc, "`"+dotted(k)+"`") {
			t.Errorf("profile key %s is not documented in docs/configuration.md", dotted(k))
		}
	}
	for _, k := range leafKeys(reflect.TypeFor[ARIServer](), "") {
		if !strings.Contains(doc, "`ari.servers[]."+dotted(k)+"`") {
			t.Errorf("key ari.servers[].%s is not documented in docs/configuration.md", dotted(k))
		}
	}
}
