package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

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

// Options configure a Server.
type Options struct {
	// Logger is the process logger; nil is slog.Default().
	Logger *slog.Logger
	// Load reads the configuration anew for a reload (the file and
	// environment serve started with). nil refuses reloads.
	Load func() (*config.Config, error)
}

// Server is one `callscreen serve`: the shared parts (metrics, the data
// directory's lock, Redis, the verdict cache, the providers' states, the
// lists, the feed, the agents' reports, the behaviour checks, the
// verified-caller memory, the decision log), opened once, the flow built
// from the Set in force over them, swapped whole by a reload, and the
// components, started once. New opens nothing; Start opens, Close closes.
type Server struct {
	log  *slog.Logger
	load func() (*config.Config, error)
	reg  *prometheus.Registry

	cfgMetrics   *config.Metrics
	flowMetrics  *screen.Metrics
	repMetrics   *reputation.Metrics
	adminMetrics *admin.Metrics

	// The shared parts, open from Start to Close.
	lock     *DirLock
	redis    redis.UniversalClient
	cache    *cache.Cache
	states   *reputation.ProviderStates
	fbStore  feedback.Store
	feedback *feedback.Source
	lists    *lists.Lists
	feed     *feed.Feed
	behavior *behavior.Behavior
	verifier decision.Verifier
	audit    *audit.Log
	recent   *admin.Recent
	recorder decision.Recorder
	host     *Host

	mu      sync.Mutex // serialises Start, Reload and Close
	first   *Set       // the set the server started with
	live    *live      // the set in force, over the shared parts
	flow    atomic.Pointer[screen.Flow]
	started []Component
	failed  chan error
	retired sync.WaitGroup // sets a reload replaced, finishing
}

// live is a Set provisioned over the shared parts: its chain and flow.
type live struct {
	set       *Set
	providers *reputation.Providers // nil without providers
	chain     reputation.Chain
	flow      *screen.Flow
}

// New returns a server for set. It opens nothing.
func New(set *Set, opts Options) *Server {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Server{log: log, load: opts.Load, first: set, failed: make(chan error, 1)}
}

// Run starts the server, serves until ctx ends or a component fails, and
// reloads the configuration each time reload delivers (SIGHUP); then it
// drains and closes. ctx already done returns at once, having started
// nothing (a SIGTERM during start-up).
func (s *Server) Run(ctx context.Context, reload <-chan os.Signal) error {
	if ctx.Err() != nil {
		s.log.Info("callscreen serve: stopped before serving")
		return nil
	}
	if err := s.Start(ctx); err != nil {
		return err
	}
	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-reload:
			_ = s.Reload(ctx)
		case runErr = <-s.failed:
			break loop
		}
	}
	s.Close()
	return runErr
}

// Flow returns the flow in force.
func (s *Server) Flow() *screen.Flow { return s.flow.Load() }

// fail stops the server with err (the first failure wins).
func (s *Server) fail(err error) {
	select {
	case s.failed <- err:
	default:
	}
}

// Start opens the shared parts, builds the flow of the first set over
// them and starts the components, in that order; on an error, what it
// opened is closed again. The data directory is locked first: a second
// server on it is refused before it touches anything.
func (s *Server) Start(ctx context.Context) (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	set, cfg := s.first, s.first.cfg
	defer func() {
		if err != nil {
			s.closeShared(context.Background())
		}
	}()
	if s.lock, err = LockDataDir(cfg.DataDir); err != nil {
		return err
	}
	if err := s.openShared(ctx, cfg); err != nil {
		return err
	}
	l, err := s.provision(set)
	if err != nil {
		return err
	}
	s.live = l
	s.flow.Store(l.flow)
	s.cfgMetrics.Loaded(cfg, time.Now())

	for _, c := range set.components {
		if ctx.Err() != nil {
			s.stopStarted(context.Background())
			return fmt.Errorf("stopped during start-up: %w", ctx.Err())
		}
		if err := c.Start(ctx, s.host); err != nil {
			s.stopStarted(context.Background())
			return err
		}
		s.started = append(s.started, c)
	}

	attrs := []any{"agi", "off", "admin", "off", "ari_servers", 0}
	for _, c := range s.started {
		if d, ok := c.(Describer); ok {
			attrs = setAttrs(attrs, d.Describe())
		}
	}
	redisMode := "none"
	if s.redis != nil {
		redisMode = set.redis.Mode() + " " + strings.Join(cfg.Redis.Addrs, ",")
	}
	s.log.Info("callscreen serving", append(attrs,
		"mode", cfg.Mode, "sources", strings.Join(chainNames(l.chain), ","), "redis", redisMode,
		"profiles", strings.Join(cfg.ProfileNames(), ","), "config", ConfigSource(cfg), "config_version", cfg.Version(),
		"decision_log", auditState(cfg))...)
	return nil
}

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
	s.feedback = feedback.NewSource(s.fbStore, feedback.SourceOptions{Metrics: feedback.NewMetrics(s.reg)})
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
		s.audit, err = audit.Open(audit.Options{
			Dir: cfg.Audit.Dir, Fsync: cfg.Audit.Fsync, FsyncInterval: cfg.Audit.FsyncInterval,
			CheckpointEvery: cfg.Audit.CheckpointEvery, CheckpointInterval: cfg.Audit.CheckpointInterval,
			RotateSize: int64(cfg.Audit.RotateSize), KeyFile: cfg.Audit.KeyFile,
			ConfigVersion: cfg.Version(), Logger: s.log, Metrics: audit.NewMetrics(s.reg),
		})
		if err != nil {
			return fmt.Errorf("decision log: %w", err)
		}
		recs = append(recs, s.audit)
	}
	s.recorder = append(recs, s.recent, s.behavior)

	s.host = &Host{
		Config: cfg, Log: s.log, Registry: s.reg, Flow: s.flow.Load, Redis: s.redis,
		Lists: s.lists, Feed: s.feed, Feedback: s.fbStore,
		Recent: s.recent, AdminMetrics: s.adminMetrics,
		Ready: s.ready, Details: s.details, Fail: s.fail,
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

// Close drains and closes: every CallTaker stops taking calls at once and
// the calls in progress get shutdown_timeout to finish (then they are cut
// off, and fail open); then the other components stop, in the reverse of
// their start order; then the providers finish, and the decision log is
// sealed, Redis closed and the data directory unlocked.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live == nil {
		return
	}
	timeout := s.live.set.cfg.ShutdownTimeout
	s.log.Info("callscreen draining", "timeout", timeout.String())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	s.stopStarted(ctx)
	if s.live.providers != nil {
		_ = s.live.providers.Drain(ctx)
	}
	s.retired.Wait()
	s.live = nil
	s.closeShared(ctx)
	s.log.Info("callscreen stopped")
}

// stopStarted stops the started components: the CallTakers together, then
// the others in reverse order.
func (s *Server) stopStarted(ctx context.Context) {
	var takers, others []Component
	for _, c := range s.started {
		if _, ok := c.(CallTaker); ok {
			takers = append(takers, c)
		} else {
			others = append(others, c)
		}
	}
	s.started = nil
	errs := make([]error, len(takers))
	var wg sync.WaitGroup
	for i, c := range takers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.Stop(ctx)
		}()
	}
	wg.Wait()
	cutOff := false
	for i, err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, context.DeadlineExceeded):
			cutOff = true
		default:
			s.log.Warn(takers[i].Name()+" shutdown", "err", err)
		}
	}
	if cutOff {
		s.log.Warn("calls still running at shutdown_timeout were cut off")
	}
	for i := len(others) - 1; i >= 0; i-- {
		if err := others[i].Stop(ctx); err != nil {
			s.log.Warn(others[i].Name()+" did not stop in time", "err", err)
		}
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

// ready reports whether the server can screen calls as configured: Redis,
// when configured, answers, and no component says it cannot.
func (s *Server) ready(ctx context.Context) error {
	var errs []error
	if s.redis != nil {
		if err := redisconn.Check(ctx, s.redis); err != nil {
			errs = append(errs, fmt.Errorf("redis: %w", err))
		}
	}
	for _, d := range s.componentDetails(ctx) {
		if d.NotReady {
			errs = append(errs, errors.New(d.Text))
		}
	}
	return errors.Join(errs...)
}

// details returns the components' notes that do not stop readiness.
func (s *Server) details(ctx context.Context) []string {
	var out []string
	for _, d := range s.componentDetails(ctx) {
		if !d.NotReady {
			out = append(out, d.Text)
		}
	}
	return out
}

func (s *Server) componentDetails(ctx context.Context) []Detail {
	var out []Detail
	for _, c := range s.first.components {
		if d, ok := c.(Detailer); ok {
			for _, det := range d.Details(ctx) {
				det.Text = c.Name() + ": " + det.Text
				out = append(out, det)
			}
		}
	}
	return out
}

// setAttrs sets key, value pairs in a key, value list, replacing a key
// already there.
func setAttrs(attrs, kv []any) []any {
	for i := 0; i+1 < len(kv); i += 2 {
		replaced := false
		for j := 0; j+1 < len(attrs); j += 2 {
			if attrs[j] == kv[i] {
				attrs[j+1], replaced = kv[i+1], true
			}
		}
		if !replaced {
			attrs = append(attrs, kv[i], kv[i+1])
		}
	}
	return attrs
}

func chainNames(c reputation.Chain) []string {
	if len(c) == 0 {
		return []string{"none"}
	}
	names := make([]string, len(c))
	for i, n := range c {
		names[i] = n.Name
	}
	return names
}

// ConfigSource names where cfg came from, for logs and output.
func ConfigSource(cfg *config.Config) string {
	if cfg.Path() == "" {
		return "defaults"
	}
	return cfg.Path()
}

func auditState(cfg *config.Config) string {
	if !cfg.Audit.Enabled {
		return "off"
	}
	return cfg.Audit.Dir
}
