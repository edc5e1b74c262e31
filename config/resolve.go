package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones work on hosts without zoneinfo

	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/nyaruka/phonenumbers"
	"go.yaml.in/yaml/v3"
)

type resolvedProfile struct{ policy.Profile }

type didEntry struct {
	prefix  string // digits, country code included
	profile string
}

// resolve reads secret files, validates every value and builds the
// policy profiles and the DID map.
func (c *Config) resolve() error {
	c.Mode = strings.ToLower(c.Mode)
	if err := oneOf("mode", c.Mode, "enforce", "monitor"); err != nil {
		return err
	}
	region := strings.ToUpper(strings.TrimSpace(c.Number.DefaultRegion))
	if phonenumbers.GetCountryCodeForRegion(region) == 0 {
		return fmt.Errorf("number.default_region %q: want an ISO 3166 region code such as US or GB", c.Number.DefaultRegion)
	}
	c.Number.DefaultRegion = region
	if c.DataDir == "" {
		return fmt.Errorf("data_dir: must not be empty")
	}
	c.Log.Level = strings.ToLower(c.Log.Level)
	c.Log.Format = strings.ToLower(c.Log.Format)
	if err := oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error"); err != nil {
		return err
	}
	if err := oneOf("log.format", c.Log.Format, "auto", "text", "json"); err != nil {
		return err
	}
	if err := c.resolveAGI(); err != nil {
		return err
	}
	if err := positive("shutdown_timeout", c.ShutdownTimeout); err != nil {
		return err
	}
	if c.Admin.Listen != "" {
		if err := hostPort("admin.listen", c.Admin.Listen); err != nil {
			return err
		}
	}
	if err := c.resolveSecrets(); err != nil {
		return err
	}
	var err error
	for key, f := range map[string]string{"lists.allow_file": c.Lists.AllowFile, "lists.block_file": c.Lists.BlockFile} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%s %q: %w", key, f, errorsCause(err))
		}
	}
	if c.Emergency, err = emergencyEntries("emergency", c.Emergency, region); err != nil {
		return err
	}
	for _, l := range []struct {
		key  string
		list *[]string
	}{{"own_numbers", &c.OwnNumbers}, {"honeypots", &c.Honeypots}} {
		if *l.list, err = numbers(l.key, *l.list, region); err != nil {
			return err
		}
	}
	if err := c.resolveRedis(); err != nil {
		return err
	}
	if err := c.resolveReputation(); err != nil {
		return err
	}
	if err := c.resolveFeed(); err != nil {
		return err
	}
	if err := c.resolveAudit(); err != nil {
		return err
	}
	if err := c.resolveProfiles(); err != nil {
		return err
	}
	if err := c.resolveDIDs(); err != nil {
		return err
	}
	if err := c.resolveARI(); err != nil {
		return err
	}
	if err := c.resolveOutbound(); err != nil {
		return err
	}
	c.version = c.computeVersion()
	return nil
}

func errorsCause(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func oneOf(key, val string, allowed ...string) error {
	if slices.Contains(allowed, val) {
		return nil
	}
	return fmt.Errorf("%s %q: want %s", key, val, orList(allowed))
}

func orList(s []string) string {
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

func positive(key string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%s %s: must be positive", key, d)
	}
	return nil
}

func hostPort(key, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		if n, perr := strconv.Atoi(port); perr != nil || n < 0 || n > 65535 {
			err = fmt.Errorf("bad port")
		}
	}
	if err != nil {
		return fmt.Errorf("%s %q: want host:port", key, addr)
	}
	return nil
}

func httpURL(key, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s %q: want an http or https URL", key, s)
	}
	return nil
}

// numbers normalises a list of numbers: E.164 when the number is a
// possible one, else its digits (short codes such as 911).
func numbers(key string, in []string, region string) ([]string, error) {
	out := make([]string, 0, len(in))
	for i, s := range in {
		n := number.Parse(s, region)
		if n.Digits == "" {
			return nil, fmt.Errorf("%s[%d] %q: not a telephone number", key, i, s)
		}
		if n.E164 != "" {
			out = append(out, n.E164)
		} else {
			out = append(out, n.Digits)
		}
	}
	return out, nil
}

// emergencyEntries normalises a list of critical numbers: numbers as
// numbers does, and, as the emergency list accepts them, prefixes
// ("+1800555*") and ranges ("+12125550100..+12125550199"), kept as written.
func emergencyEntries(key string, in []string, region string) ([]string, error) {
	out := make([]string, 0, len(in))
	for i, s := range in {
		s = strings.TrimSpace(s)
		if p, ok := strings.CutSuffix(s, "*"); ok {
			if !digitsOnly(strings.TrimPrefix(p, "+")) {
				return nil, fmt.Errorf("%s[%d] %q: want a number, a prefix ending in * or a range A..B", key, i, s)
			}
			out = append(out, s)
			continue
		}
		if a, b, ok := strings.Cut(s, ".."); ok {
			na, nb := number.Parse(a, region), number.Parse(b, region)
			if na.Digits == "" || nb.Digits == "" || len(na.Digits) != len(nb.Digits) || na.Digits > nb.Digits {
				return nil, fmt.Errorf("%s[%d] %q: want a range of two numbers of equal length, low..high", key, i, s)
			}
			out = append(out, s)
			continue
		}
		n, err := numbers(key, []string{s}, region)
		if err != nil {
			return nil, fmt.Errorf("%s[%d] %q: want a number, a prefix ending in * or a range A..B", key, i, s)
		}
		out = append(out, n[0])
	}
	return out, nil
}

func digitsOnly(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func (c *Config) resolveAGI() error {
	a := &c.AGI
	if err := hostPort("agi.listen", a.Listen); err != nil {
		return err
	}
	if a.MaxSessions < 1 {
		return fmt.Errorf("agi.max_sessions %d: must be at least 1", a.MaxSessions)
	}
	for i, s := range a.Allow {
		if _, err := parsePrefix(s); err != nil {
			return fmt.Errorf("agi.allow[%d] %q: want an IP address or CIDR prefix", i, s)
		}
	}
	if err := positive("agi.header_timeout", a.HeaderTimeout); err != nil {
		return err
	}
	return positive("agi.session_timeout", a.SessionTimeout)
}

func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// AllowPrefixes returns agi.allow parsed; empty means every peer.
func (a AGI) AllowPrefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(a.Allow))
	for _, s := range a.Allow {
		if p, err := parsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func (c *Config) resolveRedis() error {
	r := &c.Redis
	for i, a := range r.Addrs {
		if err := hostPort(fmt.Sprintf("redis.addrs[%d]", i), a); err != nil {
			return err
		}
	}
	if r.DB < 0 {
		return fmt.Errorf("redis.db %d: must not be negative", r.DB)
	}
	if r.TLSCAFile != "" {
		if _, err := os.Stat(r.TLSCAFile); err != nil {
			return fmt.Errorf("redis.tls_ca_file %q: %w", r.TLSCAFile, errorsCause(err))
		}
	}
	for key, d := range map[string]time.Duration{"redis.dial_timeout": r.DialTimeout, "redis.read_timeout": r.ReadTimeout, "redis.write_timeout": r.WriteTimeout} {
		if err := positive(key, d); err != nil {
			return err
		}
	}
	if r.PoolSize < 0 {
		return fmt.Errorf("redis.pool_size %d: must not be negative (0 is the default)", r.PoolSize)
	}
	if r.MasterName != "" && len(r.Addrs) == 0 {
		return fmt.Errorf("redis.master_name %q: needs the Sentinel addresses in redis.addrs", r.MasterName)
	}
	return nil
}

func (c *Config) resolveReputation() error {
	r := &c.Reputation
	if err := positive("reputation.budget", r.Budget); err != nil {
		return err
	}
	if r.Breaker.Failures < 1 {
		return fmt.Errorf("reputation.breaker.failures %d: must be at least 1", r.Breaker.Failures)
	}
	if r.Cache.Size < 0 {
		return fmt.Errorf("reputation.cache.size %d: must not be negative", r.Cache.Size)
	}
	for _, kv := range []struct {
		key string
		d   time.Duration
	}{
		{"reputation.provider_timeout", r.ProviderTimeout}, {"reputation.max_retry_after", r.MaxRetryAfter},
		{"reputation.breaker.open_for", r.Breaker.OpenFor},
		{"reputation.cache.ttl_low", r.Cache.TTLLow}, {"reputation.cache.ttl_suspect", r.Cache.TTLSuspect},
		{"reputation.cache.ttl_spam", r.Cache.TTLSpam}, {"reputation.cache.l2_timeout", r.Cache.L2Timeout},
	} {
		if err := positive(kv.key, kv.d); err != nil {
			return err
		}
	}
	p := &c.Providers
	if err := httpURL("providers.callerapi.url", p.CallerAPI.URL); err != nil {
		return err
	}
	if err := httpURL("providers.youmail.url", p.YouMail.URL); err != nil {
		return err
	}
	if p.YouMail.SID.IsSet() != p.YouMail.Key.IsSet() {
		return fmt.Errorf("providers.youmail: sid and key must be set together")
	}
	if p.HTTP.URL != "" {
		if err := httpURL("providers.http.url", p.HTTP.URL); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) resolveFeed() error {
	f := &c.Feed
	if f.URL != "" {
		if err := httpURL("feed.url", f.URL); err != nil {
			return err
		}
	}
	f.Format = strings.ToLower(f.Format)
	if err := oneOf("feed.format", f.Format, "json", "ftc"); err != nil {
		return err
	}
	if _, err := clock(f.Time); err != nil {
		return fmt.Errorf("feed.time %q: want HH:MM (UTC)", f.Time)
	}
	return positive("feed.retention", f.Retention)
}

// clock reads "HH:MM" as an offset from midnight; "24:00" is allowed.
func clock(s string) (time.Duration, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("bad clock time")
	}
	return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, nil
}

// FeedTime returns feed.time as an offset from midnight UTC.
func (f Feed) FeedTime() time.Duration {
	d, _ := clock(f.Time)
	return d
}

func (c *Config) resolveAudit() error {
	a := &c.Audit
	a.Fsync = strings.ToLower(a.Fsync)
	if err := oneOf("audit.fsync", a.Fsync, "batch", "always", "none"); err != nil {
		return err
	}
	if a.Dir == "" {
		a.Dir = filepath.Join(c.DataDir, "audit")
	}
	if a.KeyFile == "" {
		a.KeyFile = filepath.Join(a.Dir, "ed25519.key")
	}
	if err := positive("audit.fsync_interval", a.FsyncInterval); err != nil {
		return err
	}
	if a.CheckpointEvery < 1 {
		return fmt.Errorf("audit.checkpoint_every %d: must be at least 1", a.CheckpointEvery)
	}
	if err := positive("audit.checkpoint_interval", a.CheckpointInterval); err != nil {
		return err
	}
	if a.RotateSize < 64<<10 {
		return fmt.Errorf("audit.rotate_size %s: must be at least 64KiB", a.RotateSize)
	}
	return a.Witness.resolve()
}

func (w *AuditWitness) resolve() error {
	if w.URL != "" && w.File != "" {
		return fmt.Errorf("audit.witness.url and audit.witness.file are both set: set one")
	}
	if w.URL != "" {
		if u, err := url.Parse(w.URL); err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("audit.witness.url %q: want an https URL", w.URL)
		}
	}
	if w.Token.IsSet() && w.URL == "" {
		return fmt.Errorf("audit.witness.token: set only with audit.witness.url")
	}
	return nil
}

func (c *Config) resolveARI() error {
	for i := range c.ARI.Servers {
		s := &c.ARI.Servers[i]
		key := fmt.Sprintf("ari.servers[%d]", i)
		if err := httpURL(key+".url", s.URL); err != nil {
			return err
		}
		if s.Username == "" {
			return fmt.Errorf("%s.username: must be set", key)
		}
		if s.App == "" {
			s.App = "callscreen"
		}
		if s.Tenant != "" && !validTenant(s.Tenant) {
			return fmt.Errorf("%s.tenant %q: want 1 to 64 letters, digits, '.', '_' or '-'", key, s.Tenant)
		}
		if s.Profile != "" {
			s.Profile = strings.ToLower(s.Profile)
			if _, ok := c.resolved[s.Profile]; !ok {
				return fmt.Errorf("%s.profile %q: no such profile", key, s.Profile)
			}
		}
	}
	return nil
}

func (c *Config) resolveProfiles() error {
	if c.Profiles == nil {
		c.Profiles = map[string]Profile{}
	}
	if _, ok := c.Profiles["default"]; !ok {
		c.Profiles["default"] = profileFromPolicy(policy.Default())
	}
	c.resolved = make(map[string]resolvedProfile, len(c.Profiles))
	names := make([]string, 0, len(c.Profiles))
	for name := range c.Profiles {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		p, err := c.buildProfile(name, c.Profiles[name])
		if err != nil {
			return err
		}
		c.resolved[name] = resolvedProfile{p}
	}
	return nil
}

func (c *Config) buildProfile(name string, in Profile) (policy.Profile, error) {
	key := "profiles." + name + "."
	mode := strings.ToLower(in.Mode)
	if mode == "" {
		mode = c.Mode
	}
	if err := oneOf(key+"mode", mode, "enforce", "monitor"); err != nil {
		return policy.Profile{}, err
	}
	if err := oneOf(key+"coverage", strings.ToLower(in.Coverage), "all", "nanp"); err != nil {
		return policy.Profile{}, err
	}
	p := policy.Profile{
		Name:        name,
		Mode:        policy.Mode(mode),
		Coverage:    policy.Coverage(strings.ToLower(in.Coverage)),
		Actions:     map[policy.Reason]policy.Action{},
		AfterHours:  map[policy.Reason]policy.Action{},
		BlockResult: policy.Result(strings.ToLower(in.BlockResult)),
		Scores:      policy.ScoreThresholds{Block: in.Scores.Block, Challenge: in.Scores.Challenge},
		Challenge: policy.ChallengeSettings{
			Digits: in.Challenge.Digits, Attempts: in.Challenge.Attempts, Timeout: in.Challenge.Timeout,
			Intro: in.Challenge.Prompts.Intro, Retry: in.Challenge.Prompts.Retry,
			Thanks: in.Challenge.Prompts.Thanks, Blocked: in.Challenge.Prompts.Blocked,
			OnFail: policy.Result(strings.ToLower(in.Challenge.OnFail)), VerifiedFor: in.Challenge.VerifiedFor,
		},
		Thresholds: policy.Thresholds{
			BurstCalls: in.Thresholds.BurstCalls, BurstWindow: in.Thresholds.BurstWindow,
			FloodPerMinute: in.Thresholds.FloodPerMinute, FloodPerMinuteAfterHours: in.Thresholds.FloodPerMinuteAfterHours,
			RepeatGray: in.Thresholds.RepeatGray, RepeatWindow: in.Thresholds.RepeatWindow,
			ReportWindow: in.Thresholds.ReportWindow, HoneypotFor: in.Thresholds.HoneypotFor,
		},
	}
	for _, m := range []struct {
		key string
		in  map[string]string
		out map[policy.Reason]policy.Action
	}{{"actions", in.Actions, p.Actions}, {"after_hours", in.AfterHours, p.AfterHours}} {
		for r, a := range m.in {
			if !policy.Reason(r).Known() {
				return p, fmt.Errorf("%s%s: unknown reason code %q (see docs/reasons.md)", key, m.key, r)
			}
			a = strings.ToLower(a)
			if !policy.Action(a).Valid() {
				return p, fmt.Errorf("%s%s.%s %q: want allow, challenge or block", key, m.key, r, a)
			}
			m.out[policy.Reason(r)] = policy.Action(a)
		}
	}
	if err := oneOf(key+"block_result", string(p.BlockResult), "block", "voicemail"); err != nil {
		return p, err
	}
	loc, err := time.LoadLocation(in.Timezone)
	if err != nil || in.Timezone == "" {
		return p, fmt.Errorf("%stimezone %q: want an IANA time zone such as UTC or America/New_York", key, in.Timezone)
	}
	p.Location = loc
	for i, h := range in.Hours {
		hk := fmt.Sprintf("%shours[%d]", key, i)
		w := policy.Window{}
		if len(h.Days) == 0 {
			return p, fmt.Errorf("%s.days: must list at least one day", hk)
		}
		for _, d := range h.Days {
			wd, ok := weekday(d)
			if !ok {
				return p, fmt.Errorf("%s.days %q: want %s", hk, d, weekdayNames())
			}
			w.Days = append(w.Days, wd)
		}
		if w.Open, err = clock(h.Open); err != nil {
			return p, fmt.Errorf("%s.open %q: want HH:MM", hk, h.Open)
		}
		if w.Close, err = clock(h.Close); err != nil {
			return p, fmt.Errorf("%s.close %q: want HH:MM", hk, h.Close)
		}
		if w.Close <= w.Open {
			return p, fmt.Errorf("%s: close %s is not after open %s", hk, h.Close, h.Open)
		}
		p.Hours = append(p.Hours, w)
	}
	extra, err := emergencyEntries(key+"emergency", in.Emergency, c.Number.DefaultRegion)
	if err != nil {
		return p, err
	}
	p.Emergency = slices.Concat(policy.DefaultEmergency, c.Emergency, extra)
	for _, s := range []struct {
		key string
		v   int
	}{{"scores.block", p.Scores.Block}, {"scores.challenge", p.Scores.Challenge}} {
		if s.v < 0 || s.v > 100 {
			return p, fmt.Errorf("%s%s %d: want 0 to 100 (0 is off)", key, s.key, s.v)
		}
	}
	cs := p.Challenge
	switch {
	case cs.Digits < 1 || cs.Digits > 10:
		return p, fmt.Errorf("%schallenge.digits %d: want 1 to 10", key, cs.Digits)
	case cs.Attempts < 1 || cs.Attempts > 5:
		return p, fmt.Errorf("%schallenge.attempts %d: want 1 to 5", key, cs.Attempts)
	case cs.Timeout < 500*time.Millisecond || cs.Timeout > time.Minute:
		return p, fmt.Errorf("%schallenge.timeout %s: want 500ms to 1m", key, cs.Timeout)
	}
	if err := oneOf(key+"challenge.on_fail", string(cs.OnFail), "block", "voicemail"); err != nil {
		return p, err
	}
	for _, pr := range []struct{ name, v string }{{"intro", cs.Intro}, {"retry", cs.Retry}, {"thanks", cs.Thanks}, {"blocked", cs.Blocked}} {
		if !soundName(pr.v) {
			return p, fmt.Errorf("%schallenge.prompts.%s %q: want a sound name of letters, digits, '/', '_', '-' or '.'", key, pr.name, pr.v)
		}
	}
	if cs.VerifiedFor < 0 {
		return p, fmt.Errorf("%schallenge.verified_for %s: must not be negative (0 turns the memory off)", key, cs.VerifiedFor)
	}
	t := reflect.ValueOf(in.Thresholds)
	for i := range t.NumField() {
		f := t.Type().Field(i)
		v := t.Field(i).Int()
		if v < 1 {
			return p, fmt.Errorf("%sthresholds.%s %s: must be positive", key, f.Tag.Get("mapstructure"), fmtField(t.Field(i)))
		}
	}
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("%s: %w", strings.TrimSuffix(key, "."), err)
	}
	return p, nil
}

func fmtField(v reflect.Value) string {
	if v.Type() == durationType {
		return time.Duration(v.Int()).String()
	}
	return strconv.FormatInt(v.Int(), 10)
}

func (c *Config) resolveDIDs() error {
	c.dids = c.dids[:0]
	for did, prof := range c.DIDs {
		prof = strings.ToLower(strings.TrimSpace(prof))
		if _, ok := c.resolved[prof]; !ok {
			return fmt.Errorf("dids key %q: profile %q: no such profile", did, prof)
		}
		prefix, err := didPrefix(did, c.Number.DefaultRegion)
		if err != nil {
			return fmt.Errorf("dids key %q: %w", did, err)
		}
		c.dids = append(c.dids, didEntry{prefix: prefix, profile: prof})
	}
	// Longest prefix first: the most specific entry wins.
	slices.SortFunc(c.dids, func(a, b didEntry) int {
		if len(a.prefix) != len(b.prefix) {
			return len(b.prefix) - len(a.prefix)
		}
		return strings.Compare(a.prefix, b.prefix)
	})
	return nil
}

// didPrefix turns a DID or prefix written in E.164 ("+1555123", with an
// optional trailing "*") or national form ("555123") into digits with the
// country code.
func didPrefix(s, region string) (string, error) {
	t := strings.TrimSuffix(strings.TrimSpace(s), "*")
	plus := strings.HasPrefix(t, "+")
	digits := strings.Map(func(r rune) rune {
		switch {
		case r >= '0' && r <= '9':
			return r
		case r == ' ' || r == '-' || r == '(' || r == ')' || r == '.' || r == '+':
			return -1
		}
		return 'x'
	}, t)
	if digits == "" || strings.Contains(digits, "x") || len(digits) > 15 {
		return "", fmt.Errorf("want a number or prefix, E.164 or national")
	}
	if plus {
		return digits, nil
	}
	if n := number.Parse(t, region); n.Kind == number.Valid {
		return strings.TrimPrefix(n.E164, "+"), nil
	}
	cc := phonenumbers.GetCountryCodeForRegion(region)
	if cc != 1 {
		digits = strings.TrimPrefix(digits, "0") // national trunk prefix
	} else if len(digits) == 11 && digits[0] == '1' {
		return digits, nil
	}
	return strconv.Itoa(cc) + digits, nil
}

// Profile returns the policy profile called name (case-insensitive); ok
// is false when there is none.
func (c *Config) Profile(name string) (policy.Profile, bool) {
	p, ok := c.resolved[strings.ToLower(name)]
	return p.Profile, ok
}

// ProfileNames returns the configured profile names, sorted.
func (c *Config) ProfileNames() []string {
	names := make([]string, 0, len(c.resolved))
	for n := range c.resolved {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// ProfileForDID returns the profile the DID map assigns to the dialed
// number (longest matching prefix); ok is false when none matches.
func (c *Config) ProfileForDID(dialed number.Number) (string, bool) {
	digits := strings.TrimPrefix(dialed.E164, "+")
	for _, e := range c.dids {
		if (digits != "" && strings.HasPrefix(digits, e.prefix)) || (dialed.Digits != "" && dialed.Digits == e.prefix) {
			return e.profile, true
		}
	}
	return "", false
}

// Path is the file the configuration was loaded from, "" for none.
func (c *Config) Path() string { return c.path }

// Version identifies the effective configuration: a short hash of it
// (secrets left out), recorded with every decision.
func (c *Config) Version() string { return c.version }

func (c *Config) computeVersion() string {
	// Secrets marshal as "[redacted]": they are not part of the version.
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// YAML writes the effective configuration as YAML: every key, defaults
// included, in the form a file would use. Secrets show as "[redacted]",
// or empty when they were read from their *_file key (the file name shows
// where they come from), so the output loads back.
func (c *Config) YAML() ([]byte, error) {
	return yaml.Marshal(plain(reflect.ValueOf(*c)))
}

// weekday reads "mon" or "monday", any case.
func weekday(s string) (time.Weekday, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) < 3 {
		return 0, false
	}
	wd, ok := weekdays[s[:3]]
	if !ok || (len(s) > 3 && s != strings.ToLower(wd.String())) {
		return 0, false
	}
	return wd, true
}

// soundName accepts the sound names Asterisk plays and nothing that would
// need quoting (policy.Profile.Validate checks the same).
func soundName(s string) bool {
	if s == "" || len(s) > 128 || strings.HasPrefix(s, "/") || strings.Contains(s, "..") {
		return false
	}
	for _, c := range []byte(s) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '/' || c == '_' || c == '-' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}

// validTenant accepts the tenant names the ARI transport accepts: they end
// up in Redis keys and metric labels.
func validTenant(t string) bool {
	if len(t) == 0 || len(t) > 64 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
