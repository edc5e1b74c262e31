package service

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/callscreen/callscreen/admin"
	"github.com/callscreen/callscreen/audit"
	"github.com/callscreen/callscreen/config"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/redisconn"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/behavior"
	"github.com/callscreen/callscreen/reputation/cache"
	"github.com/callscreen/callscreen/reputation/emergency"
	"github.com/callscreen/callscreen/reputation/feed"
	"github.com/callscreen/callscreen/reputation/feedback"
	"github.com/callscreen/callscreen/reputation/lists"
	"github.com/callscreen/callscreen/screen"
)

// openShared opens the parts every set shares, for cfg.
func (s *Server) openShared(ctx context.Context, cfg *config.Config) error {
	s.reg = prometheus.NewRegistry()
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.cfgMetrics = config.NewMetrics(s.reg)
	s.flowMetrics = screen.NewMetrics(s.reg)
	s.repMetrics = reputation.NewMetrics(s.reg)
	s.adminMetrics = admin.NewMetrics(s.reg)
	redisconn.UseSlog(s.log)

	var err error
	if s.redis, err = redisconn.New(RedisOptions(cfg)); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	s.cache, err = cache.New(cache.Options{
		L1Size: cfg.Reputation.Cache.Size,
		TTL:    cache.TTLs{Clean: cfg.Reputation.Cache.TTLLow, Suspect: cfg.Reputation.Cache.TTLSuspect, Spam: cfg.Reputation.Cache.TTLSpam},
		Redis:  s.redis, L2Timeout: cfg.Reputation.Cache.L2Timeout,
		Metrics: cache.NewMetrics(s.reg),
	})
	if err != nil {
		return fmt.Errorf("reputation cache: %w", err)
	}
	s.states = reputation.NewProviderStates()
	if s.fbStore, err = feedback.Open(s.redis, cfg.DataDir); err != nil {
		return fmt.Errorf("agent feedback: %w", err)
	}
	s.feedback = feedback.NewSource(s.fbStore, feedback.SourceOptions{Metrics: feedback.NewMetrics(s.reg), Timeout: feedbackTimeout(cfg, s.redis)})
	if s.redis != nil {
		s.verifier = behavior.NewRedisVerifier(s.redis, "")
	} else {
		s.verifier = decision.NewMemoryVerifier(100000, nil)
	}
	if s.lists, err = OpenLists(cfg, s.redis, s.log, lists.NewMetrics(s.reg)); err != nil {
		return fmt.Errorf("lists: %w", err)
	}
	s.feed = OpenFeed(ctx, cfg, s.redis, s.log, feed.NewMetrics(s.reg))
	if s.behavior, err = openBehavior(cfg, s.redis, s.lists, s.log, behavior.NewMetrics(s.reg)); err != nil {
		return fmt.Errorf("behaviour: %w", err)
	}

	// Recorders: the decision log, the admin API's recent decisions, the
	// behaviour checks' repeat detection.
	var recs decision.Recorders
	s.recent = admin.NewRecent(admin.RecentOptions{Metrics: s.adminMetrics})
	if cfg.Audit.Enabled {
		s.audit, err = audit.Open(auditOptions(cfg, s.log, s.reg))
		if err != nil {
			return fmt.Errorf("decision log: %w", err)
		}
		recs = append(recs, s.audit)
	}
	sv := openSupervision(cfg, s.redis, s.recent, s.reg, s.log)
	s.recorder = append(recs, s.recent, s.behavior, sv)
	s.prompts = &screen.Prompts{Logger: s.log, Metrics: s.flowMetrics}

	s.host = &Host{
		Config: cfg, Log: s.log, Registry: s.reg, Flow: s.flow.Load, Redis: s.redis,
		Lists: s.lists, Feed: s.feed, Feedback: s.fbStore,
		Recent: s.recent, AdminMetrics: s.adminMetrics,
		Ready: s.ready, Details: s.details, Fail: s.fail, supervision: sv,
	}
	return nil
}

// provision builds set's chain and flow over the shared parts: critical
// numbers, agents' reports, lists, the feed, behaviour, then the providers
// through the cache, with their breakers and holds from the shared states.
func (s *Server) provision(set *Set) (*live, error) {
	l := &live{set: set}
	chain, explain, providers, err := chain(set, parts{
		feedback: s.feedback, lists: s.lists, feed: s.feed, behavior: s.behavior,
		cache: s.cache, states: s.states, metrics: s.repMetrics,
	})
	if err != nil {
		return nil, err
	}
	l.chain, l.providers = chain, providers
	l.flow = flow(set, chain, explain, s.recorder, s.verifier, s.log, s.flowMetrics)
	l.flow.Prompts = s.prompts
	return l, nil
}

// parts are the shared sources and state a set's chain is built over; a
// nil source is left out.
type parts struct {
	feedback, lists, feed, behavior reputation.Source
	cache                           reputation.Cache
	states                          *reputation.ProviderStates
	metrics                         *reputation.Metrics
}

// chain builds the reputation chain of set over p, cheapest first, and the
// same without the sources that count calls (behaviour), for explanations.
func chain(set *Set, p parts) (chain, explain reputation.Chain, ps *reputation.Providers, err error) {
	add := func(name string, src reputation.Source, explains bool) {
		if src == nil {
			return
		}
		chain = append(chain, reputation.Named{Name: name, Source: src})
		if explains {
			explain = append(explain, reputation.Named{Name: name, Source: src})
		}
	}
	add(emergency.SourceName, set.emergency, true)
	add("feedback", p.feedback, true)
	add(lists.SourceName, p.lists, true)
	add(feed.SourceName, p.feed, true)
	add("behavior", p.behavior, false) // it counts the call: not for explanations
	if len(set.providers) > 0 {
		o := set.providerOpts
		o.Cache, o.States, o.Metrics = p.cache, p.states, p.metrics
		if ps, err = reputation.NewProviders(o, set.providers...); err != nil {
			return nil, nil, nil, fmt.Errorf("providers: %w", err)
		}
		add("providers", ps, true)
	}
	return chain, explain, ps, nil
}

// flow builds the call flow of set over a chain.
func flow(set *Set, chain, explain reputation.Chain, rec decision.Recorder, v decision.Verifier, log *slog.Logger, m *screen.Metrics) *screen.Flow {
	cfg := set.cfg
	return &screen.Flow{
		Source:        chain,
		ExplainSource: explain,
		Critical:      set.emergency,
		Profiles:      cfg,
		Recorder:      rec,
		Verifier:      v,
		Region:        cfg.Number.DefaultRegion,
		LookupTimeout: cfg.Reputation.Budget + 100*time.Millisecond,
		CallTimeout:   cfg.AGI.SessionTimeout,
		ConfigVersion: cfg.Version(),
		Logger:        log,
		Metrics:       m,
	}
}

// closeShared closes the shared parts that are open, last opened first.
func (s *Server) closeShared(ctx context.Context) {
	if s.behavior != nil {
		s.behavior.Close()
		s.behavior = nil
	}
	if s.audit != nil {
		if err := s.audit.Close(ctx); err != nil {
			s.log.Error("decision log close", "err", err)
		}
		s.audit = nil
	}
	if s.redis != nil {
		_ = s.redis.Close()
		s.redis = nil
	}
	if s.lock != nil {
		_ = s.lock.Unlock()
		s.lock = nil
	}
}

// auditOptions turns the audit configuration into the decision log's
// options, the witness included.
func auditOptions(cfg *config.Config, log *slog.Logger, reg prometheus.Registerer) audit.Options {
	a := cfg.Audit
	o := audit.Options{
		Dir: a.Dir, Fsync: a.Fsync, FsyncInterval: a.FsyncInterval,
		CheckpointEvery: a.CheckpointEvery, CheckpointInterval: a.CheckpointInterval,
		RotateSize: int64(a.RotateSize), KeyFile: a.KeyFile,
		ConfigVersion: cfg.Version(), Logger: log, Metrics: audit.NewMetrics(reg),
	}
	switch {
	case a.Witness.URL != "":
		o.Witness = audit.HTTPWitness{URL: a.Witness.URL, Token: a.Witness.Token.Value()}
	case a.Witness.File != "":
		o.Witness = audit.FileWitness{Path: a.Witness.File}
	}
	return o
}
