package service

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/callscreen/callscreen/config"
)

// Reload loads the configuration again and builds, checks and provisions
// a whole new Set before it changes anything. A configuration that fails
// any of that leaves the set in force untouched, and says so (log and
// callscreen_config_last_reload_successful 0). Otherwise the new flow is
// swapped in at once (calls in progress finish with the old one), the
// keys that need a restart are named, and the old set's providers finish
// their requests in the background, within shutdown_timeout.
func (s *Server) Reload(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live == nil {
		return errors.New("reload: the server is not running")
	}
	old := s.live
	l, err := s.build()
	if err != nil {
		s.cfgMetrics.Loaded(nil, time.Now())
		s.log.Error("config reload failed; keeping the previous configuration", "err", err, "config_version", old.set.cfg.Version())
		return err
	}
	cfg := l.set.cfg
	for _, k := range config.RestartKeys(old.set.cfg, cfg) {
		s.log.Warn("config reload: this setting takes effect at the next restart", "key", k)
	}
	if !s.first.cfg.Lists.Watch {
		// Nothing follows the list files: read them and the store now.
		if err := s.lists.Reload(); err != nil {
			s.log.Warn("lists: reload failed; the last good lists stay", "err", err)
		}
		if err := s.lists.Sync(ctx); err != nil {
			s.log.Warn("lists: store sync failed; the last good lists stay", "err", err)
		}
	}
	s.live = l
	s.flow.Store(l.flow)
	// The new profiles may play other prompts: each PBX's next call
	// checks the sets it has no fresh answer for.
	s.prompts.Recheck()
	s.retire(old)
	s.cfgMetrics.Loaded(cfg, time.Now())
	s.log.Info("config reloaded", "config_version", cfg.Version(), "mode", cfg.Mode,
		"profiles", strings.Join(cfg.ProfileNames(), ","), "sources", strings.Join(chainNames(l.chain), ","))
	return nil
}

// build loads, builds, validates and provisions the next set.
func (s *Server) build() (*live, error) {
	if s.load == nil {
		return nil, errors.New("reload: no configuration to load")
	}
	cfg, err := s.load()
	if err != nil {
		return nil, err
	}
	set, err := Build(cfg)
	if err != nil {
		return nil, err
	}
	if err := set.Validate(); err != nil {
		return nil, err
	}
	return s.provision(set)
}

// retire lets a replaced set finish: its providers' requests in flight
// (their answers fill the cache), within its shutdown_timeout.
func (s *Server) retire(old *live) {
	if old.providers == nil {
		return
	}
	s.retired.Add(1)
	go func() {
		defer s.retired.Done()
		ctx, cancel := context.WithTimeout(context.Background(), old.set.cfg.ShutdownTimeout)
		defer cancel()
		if err := old.providers.Drain(ctx); err != nil {
			s.log.Warn("reload: the previous providers did not finish", "err", err)
		}
	}()
}
