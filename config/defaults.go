package config

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/callscreen/callscreen/policy"
)

// Defaults returns the configuration callscreen runs on with no file: the
// values docs/configuration.md lists as defaults.
func Defaults() *Config {
	return &Config{
		Mode:            string(policy.ModeEnforce),
		Number:          Number{DefaultRegion: "US"},
		DataDir:         "./data",
		Log:             Log{Level: "info", Format: "auto"},
		AGI:             AGI{Listen: "127.0.0.1:4573", MaxSessions: 1000, Allow: []string{}, HeaderTimeout: 5 * time.Second, SessionTimeout: 2 * time.Minute},
		ShutdownTimeout: 30 * time.Second,
		Admin:           Admin{Listen: "127.0.0.1:8089"},
		Lists:           Lists{Watch: true},
		Emergency:       []string{},
		OwnNumbers:      []string{},
		Honeypots:       []string{},
		DIDs:            map[string]string{},
		Redis: Redis{
			Addrs:       []string{},
			DialTimeout: 200 * time.Millisecond, ReadTimeout: 50 * time.Millisecond, WriteTimeout: 50 * time.Millisecond,
		},
		Reputation: Reputation{
			Budget: 400 * time.Millisecond, ProviderTimeout: 5 * time.Second, MaxRetryAfter: 10 * time.Minute,
			Breaker: Breaker{Failures: 5, OpenFor: 30 * time.Second},
			Cache: Cache{
				Size: 100000, TTLLow: 15 * time.Minute, TTLSuspect: time.Hour, TTLSpam: 24 * time.Hour,
				L2Timeout: 50 * time.Millisecond,
			},
		},
		Providers: Providers{
			CallerAPI: CallerAPI{URL: "https://callerapi.com"},
			YouMail:   YouMail{URL: "https://dataapi.youmail.com"},
		},
		Feed: Feed{Headers: map[string]string{}, Format: "json", Time: "13:30", Retention: 720 * time.Hour},
		Audit: Audit{
			Enabled: true, Fsync: "batch", FsyncInterval: 100 * time.Millisecond,
			CheckpointEvery: 1000, CheckpointInterval: 60 * time.Second, RotateSize: 64 << 20,
		},
		ARI:      ARI{Servers: []ARIServer{}},
		Profiles: map[string]Profile{"default": profileFromPolicy(policy.Default())},
		Outbound: defaultOutbound(),
	}
}

// profileFromPolicy writes a policy profile in config form. Mode is left
// empty: a profile without a mode follows the top-level mode.
func profileFromPolicy(p policy.Profile) Profile {
	c := p.Challenge
	t := p.Thresholds
	out := Profile{
		Coverage:    string(p.Coverage),
		Actions:     map[string]string{},
		AfterHours:  map[string]string{},
		Hours:       []Hours{},
		Timezone:    "UTC",
		Emergency:   []string{},
		Scores:      Scores{Block: p.Scores.Block, Challenge: p.Scores.Challenge},
		BlockResult: string(p.BlockResult),
		Challenge: Challenge{
			Digits: c.Digits, Attempts: c.Attempts, Timeout: c.Timeout, OnFail: string(c.OnFail), VerifiedFor: c.VerifiedFor,
			Prompts: Prompts{Intro: c.Intro, Retry: c.Retry, Thanks: c.Thanks, Blocked: c.Blocked},
		},
		Thresholds: Thresholds{
			BurstCalls: t.BurstCalls, BurstWindow: t.BurstWindow, FloodPerMinute: t.FloodPerMinute,
			FloodPerMinuteAfterHours: t.FloodPerMinuteAfterHours, RepeatGray: t.RepeatGray, RepeatWindow: t.RepeatWindow,
			ReportWindow: t.ReportWindow, HoneypotFor: t.HoneypotFor,
		},
	}
	for r, a := range p.Actions {
		out.Actions[string(r)] = string(a)
	}
	for r, a := range p.AfterHours {
		out.AfterHours[string(r)] = string(a)
	}
	for _, e := range p.Emergency {
		if !slices.Contains(policy.DefaultEmergency, e) {
			out.Emergency = append(out.Emergency, e)
		}
	}
	return out
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

func weekdayNames() string {
	names := slices.Collect(maps.Keys(weekdays))
	slices.SortFunc(names, func(a, b string) int { return int(weekdays[a]) - int(weekdays[b]) })
	return strings.Join(names, ", ")
}
