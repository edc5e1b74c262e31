package config

import (
	"fmt"
	"time"
)

// Stats configures the supervisors' statistics (charts, per-DID figures).
type Stats struct {
	// Retention is how far back the statistics go; they are rebuilt from
	// the decision log over it at start.
	Retention time.Duration `mapstructure:"retention"`
	// MaxDIDs bounds the dialed numbers counted apart; calls to more are
	// counted as "(other)".
	MaxDIDs int `mapstructure:"max_dids"`
	// DIDs are the dialed numbers that get their own Prometheus series.
	DIDs    []string     `mapstructure:"dids"`
	Release StatsRelease `mapstructure:"release"`
}

// StatsRelease says when a DID's junk share earns the release hint.
type StatsRelease struct {
	// JunkShare is the threshold, 0..1 exclusive.
	JunkShare float64 `mapstructure:"junk_share"`
	// Days is how many 24-hour windows in a row it must be exceeded.
	Days int `mapstructure:"days"`
	// MinCalls is the fewest calls a window needs to count.
	MinCalls int `mapstructure:"min_calls"`
}

func defaultStats() Stats {
	return Stats{
		Retention: 8 * 24 * time.Hour, MaxDIDs: 1000, DIDs: []string{},
		Release: StatsRelease{JunkShare: 0.6, Days: 3, MinCalls: 10},
	}
}

func (c *Config) resolveStats() error {
	s := &c.Stats
	if s.Retention < time.Hour || s.Retention > 90*24*time.Hour {
		return fmt.Errorf("stats.retention %s: want 1h to 2160h (90 days)", s.Retention)
	}
	if s.MaxDIDs < 1 || s.MaxDIDs > 100000 {
		return fmt.Errorf("stats.max_dids %d: want 1 to 100000", s.MaxDIDs)
	}
	var err error
	if s.DIDs, err = numbers("stats.dids", s.DIDs, c.Number.DefaultRegion); err != nil {
		return err
	}
	if len(s.DIDs) > 1000 {
		return fmt.Errorf("stats.dids: %d numbers: at most 1000 (each is a Prometheus series)", len(s.DIDs))
	}
	r := &s.Release
	if !(r.JunkShare > 0 && r.JunkShare < 1) {
		return fmt.Errorf("stats.release.junk_share %v: want a share between 0 and 1, such as 0.6", r.JunkShare)
	}
	if r.Days < 1 || time.Duration(r.Days)*24*time.Hour > s.Retention {
		return fmt.Errorf("stats.release.days %d: want 1 to the days stats.retention keeps (%d)", r.Days, int(s.Retention/(24*time.Hour)))
	}
	if r.MinCalls < 1 {
		return fmt.Errorf("stats.release.min_calls %d: must be at least 1", r.MinCalls)
	}
	return nil
}
