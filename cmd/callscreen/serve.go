package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/callscreen/callscreen/admin"
	"github.com/callscreen/callscreen/agi"
	"github.com/callscreen/callscreen/ari"
	"github.com/callscreen/callscreen/audit"
	"github.com/callscreen/callscreen/bridge"
	"github.com/callscreen/callscreen/config"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/redisconn"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/behavior"
	"github.com/callscreen/callscreen/reputation/cache"
	"github.com/callscreen/callscreen/reputation/callerapi"
	"github.com/callscreen/callscreen/reputation/emergency"
	"github.com/callscreen/callscreen/reputation/feed"
	"github.com/callscreen/callscreen/reputation/feedback"
	"github.com/callscreen/callscreen/reputation/httpsource"
	"github.com/callscreen/callscreen/reputation/lists"
	"github.com/callscreen/callscreen/reputation/youmail"
	"github.com/callscreen/callscreen/screen"
)

func init() {
	register(command{name: "serve", summary: "run the FastAGI screening server", run: runServe})
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("callscreen serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := configFlag(fs)
	checkOnly := fs.Bool("check-config", false, "validate the configuration and exit: 0 when valid, 1 with the error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "callscreen serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "callscreen serve: %v\n", err)
		return 1
	}
	if *checkOnly {
		src := cfg.Path()
		if src == "" {
			src = "built-in defaults"
		}
		fmt.Fprintf(stdout, "configuration OK: %s (version %s, profiles %s)\n", src, cfg.Version(), strings.Join(cfg.ProfileNames(), ", "))
		return 0
	}
	logger := config.NewLogger(cfg.Log, stderr)
	s := &server{path: *path, log: logger}
	if err := s.run(ctx, cfg); err != nil {
		logger.Error("callscreen serve: stopped", "err", err)
		return 1
	}
	return 0
}

// server is one running `callscreen serve`: the long-lived parts (metrics,
// Redis, cache, verified-caller memory, decision log, listeners) and the
// parts a reload rebuilds (lists, providers, flow), swapped in atomically.
type server struct {
	path string
	log  *slog.Logger
	reg  *prometheus.Registry

	cfgMetrics  *config.Metrics
	flowMetrics *screen.Metrics
	listMetrics *lists.Metrics
	repMetrics  *reputation.Metrics

	redis    redis.UniversalClient
	cache    *cache.Cache
	feedback *feedback.Source   // agents' reports
	lists    *lists.Lists       // must-pass and must-block
	feed     *feed.Feed         // the daily spam report
	behavior *behavior.Behavior // velocity, neighbour, own number, honeypot
	verifier decision.Verifier
	recorder decision.Recorder
	audit    *audit.Log

	mu       sync.Mutex // serialises reloads
	cfg      *config.Config
	sources  *sources
	flow     atomic.Pointer[screen.Flow]
	watchers sync.WaitGroup
}

// sources are the reputation sources built from one configuration: the
// long-lived ones of the server in chain order, around the ones a reload
// rebuilds (critical numbers, providers).
type sources struct {
	// chain screens calls; explain is the same without the sources that
	// count calls (behaviour), for check and the admin API.
	chain, explain reputation.Chain
	emergency      *emergency.Source
	providers      *reputation.Providers
}

// watch runs fn in a goroutine until the server stops.
func (s *server) watch(ctx context.Context, name string, fn func(ctx context.Context) error) {
	s.watchers.Add(1)
	go func() {
		defer s.watchers.Done()
		if err := fn(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn(name+" stopped; SIGHUP still reloads", "err", err)
		}
	}()
}

func (s *server) run(ctx context.Context, cfg *config.Config) error {
	s.reg = prometheus.NewRegistry()
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.cfgMetrics = config.NewMetrics(s.reg)
	s.flowMetrics = screen.NewMetrics(s.reg)
	s.listMetrics = lists.NewMetrics(s.reg)
	s.repMetrics = reputation.NewMetrics(s.reg)
	s.cfg = cfg
	redisconn.UseSlog(s.log)

	// Shared state: Redis (optional), the verdict cache, the
	// verified-caller memory. A reload does not rebuild these.
	var err error
	s.redis, err = redisconn.New(redisOptions(cfg))
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	defer func() {
		if s.redis != nil {
			_ = s.redis.Close()
		}
	}()
	s.cache, err = cache.New(cache.Options{
		L1Size: cfg.Reputation.Cache.Size,
		TTL:    cache.TTLs{Clean: cfg.Reputation.Cache.TTLLow, Suspect: cfg.Reputation.Cache.TTLSuspect, Spam: cfg.Reputation.Cache.TTLSpam},
		Redis:  s.redis, L2Timeout: cfg.Reputation.Cache.L2Timeout,
		Metrics: cache.NewMetrics(s.reg),
	})
	if err != nil {
		return fmt.Errorf("reputation cache: %w", err)
	}
	fbStore, err := feedback.Open(s.redis, cfg.DataDir)
	if err != nil {
		return fmt.Errorf("agent feedback: %w", err)
	}
	s.feedback = feedback.NewSource(fbStore, feedback.SourceOptions{Metrics: feedback.NewMetrics(s.reg)})
	if s.redis != nil {
		s.verifier = behavior.NewRedisVerifier(s.redis, "")
	} else {
		s.verifier = decision.NewMemoryVerifier(100000, nil)
	}

	// Lists, feed and behaviour keep state (stores, counters): built once,
	// kept current by their watchers.
	watchCtx, stopWatching := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWatching()
	if s.lists, err = newLists(cfg, s.redis, s.log, s.listMetrics); err != nil {
		return fmt.Errorf("lists: %w", err)
	}
	if cfg.Lists.Watch {
		s.watch(watchCtx, "lists watcher", s.lists.Watch)
	} else {
		// The files are read at start and on SIGHUP only, but a shared
		// store's changes (other instances, the admin API) still apply.
		s.watch(watchCtx, "lists store follower", func(ctx context.Context) error { s.lists.FollowStore(ctx); return nil })
	}
	s.feed = newFeed(ctx, cfg, s.redis, s.log, feed.NewMetrics(s.reg))
	s.watch(watchCtx, "feed watcher", func(ctx context.Context) error { s.feed.Watch(ctx); return nil })
	if sched := feedScheduler(cfg, s.feed, s.log); sched != nil {
		s.watch(watchCtx, "feed scheduler", func(ctx context.Context) error { sched.Run(ctx); return nil })
	}
	if s.behavior, err = newBehavior(cfg, s.redis, s.lists, s.log, behavior.NewMetrics(s.reg)); err != nil {
		return fmt.Errorf("behaviour: %w", err)
	}
	defer s.behavior.Close()

	// Recorders: the decision log, the admin API's recent decisions, the
	// behaviour checks' repeat detection.
	var recs decision.Recorders
	adminMetrics := admin.NewMetrics(s.reg)
	recent := admin.NewRecent(admin.RecentOptions{Metrics: adminMetrics})
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
		defer func() {
			// On an error path before the drain closed it.
			if s.audit != nil {
				_ = s.audit.Close(context.Background())
			}
		}()
		recs = append(recs, s.audit)
	}
	recs = append(recs, recent, s.behavior)
	s.recorder = recs

	srcs, err := s.buildSources(cfg)
	if err != nil {
		return err
	}
	s.sources = srcs
	s.flow.Store(s.buildFlow(cfg, srcs))
	s.cfgMetrics.Loaded(cfg, time.Now())

	// The FastAGI server.
	l, err := net.Listen("tcp", cfg.AGI.Listen)
	if err != nil {
		return fmt.Errorf("agi: %w", err)
	}
	agiSrv := &agi.Server{
		Handler:       bridge.AGIHandler(s.flow.Load),
		MaxSessions:   cfg.AGI.MaxSessions,
		Allow:         cfg.AGI.AllowPrefixes(),
		HeaderTimeout: cfg.AGI.HeaderTimeout,
		Logger:        s.log,
		Metrics:       agi.NewMetrics(s.reg),
	}
	serveCtx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServing()
	agiDone := make(chan error, 1)
	go func() { agiDone <- agiSrv.Serve(serveCtx, l) }()

	// The admin API, dashboard and /metrics.
	adminAddr := "off"
	adminDone := make(chan error, 1)
	if cfg.Admin.Listen != "" {
		adminSrv, err := admin.New(admin.Options{
			Listen: cfg.Admin.Listen, Token: cfg.Admin.Token, Gatherer: s.reg,
			Checker: flowChecker(s.flow.Load), Feedback: feedbackReports{store: fbStore, region: cfg.Number.DefaultRegion},
			Decisions: recent, Stream: recent, Region: cfg.Number.DefaultRegion,
			Lists:  listEntries{lists: s.lists, region: cfg.Number.DefaultRegion},
			Logger: s.log, Metrics: adminMetrics, Ready: s.ready,
		})
		if err != nil {
			_ = agiSrv.Shutdown(context.Background())
			return fmt.Errorf("admin: %w", err)
		}
		al, err := net.Listen("tcp", cfg.Admin.Listen)
		if err != nil {
			_ = agiSrv.Shutdown(context.Background())
			return fmt.Errorf("admin: %w", err)
		}
		adminAddr = al.Addr().String()
		go func() { adminDone <- adminSrv.Serve(serveCtx, al) }()
	}

	// ARI: one Stasis application per configured Asterisk server. They
	// run until the drain is over (their calls in flight need the event
	// connection); the gate stops them screening new calls meanwhile.
	var ariApps sync.WaitGroup
	ariCalls := newGate()
	appCtx, stopApps := context.WithCancel(context.WithoutCancel(ctx))
	defer stopApps()
	ariMetrics := ari.NewMetrics(s.reg)
	for i, as := range cfg.ARI.Servers {
		client, err := ari.NewClient(ari.ClientConfig{URL: as.URL, Username: as.Username, Password: as.Password, Metrics: ariMetrics})
		if err != nil {
			stopServing()
			return fmt.Errorf("ari.servers[%d]: %w", i, err)
		}
		app := &ari.App{
			Client: client, Name: as.App, Tenant: as.Tenant, Profile: as.Profile,
			Handler: drainingARIHandler(ariCalls, bridge.ARIHandler(s.flow.Load), bridge.ARIRecover()), Recover: bridge.ARIRecover(),
			Logger: s.log, Metrics: ariMetrics, CallTimeout: cfg.AGI.SessionTimeout,
		}
		ariApps.Add(1)
		go func() {
			defer ariApps.Done()
			if err := app.Run(appCtx); err != nil && appCtx.Err() == nil {
				s.log.Error("ari application stopped", "server", as.URL, "app", as.App, "err", err)
			}
		}()
	}
	if err := s.serveARIOutbound(appCtx, cfg, &ariApps, ariCalls, ariMetrics); err != nil {
		stopServing()
		return err
	}
	redisMode := "none"
	if s.redis != nil {
		redisMode = redisOptions(cfg).Mode() + " " + strings.Join(cfg.Redis.Addrs, ",")
	}
	s.log.Info("callscreen serving",
		"agi", l.Addr().String(), "admin", adminAddr, "ari_servers", len(cfg.ARI.Servers), "mode", cfg.Mode,
		"sources", strings.Join(chainNames(srcs.chain), ","), "redis", redisMode,
		"profiles", strings.Join(cfg.ProfileNames(), ","), "config", configSource(cfg), "config_version", cfg.Version(),
		"decision_log", auditState(cfg))

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-hup:
			s.reload(ctx)
		case err := <-agiDone:
			runErr = fmt.Errorf("agi: %w", err)
			break loop
		case err := <-adminDone:
			runErr = err
			break loop
		}
	}

	// Drain: stop taking calls on both transports, give the calls in
	// progress shutdown_timeout, then cut off whatever is left.
	s.log.Info("callscreen draining", "timeout", s.current().ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), s.current().ShutdownTimeout)
	defer cancel()
	agiDrained := make(chan error, 1)
	go func() { agiDrained <- agiSrv.Shutdown(sctx) }()
	ariErr := ariCalls.drain(sctx)
	stopApps() // ARI calls still running see their context end and go back to the dialplan
	ariApps.Wait()
	agiErr := <-agiDrained
	switch {
	case agiErr != nil && !errors.Is(agiErr, context.DeadlineExceeded):
		s.log.Warn("agi shutdown", "err", agiErr)
	case agiErr != nil || ariErr != nil:
		s.log.Warn("calls still running at shutdown_timeout were cut off")
	}
	stopServing() // admin API
	stopWatching()
	s.mu.Lock()
	if s.sources.providers != nil {
		_ = s.sources.providers.Drain(sctx)
	}
	s.mu.Unlock()
	s.watchers.Wait()
	if s.audit != nil {
		if err := s.audit.Close(sctx); err != nil {
			s.log.Error("decision log close", "err", err)
		}
		s.audit = nil
	}
	s.log.Info("callscreen stopped")
	return runErr
}

// ready reports whether serve can screen calls as configured: Redis, when
// configured, answers. (Without Redis, screening needs nothing else.)
func (s *server) ready(ctx context.Context) error {
	if s.redis == nil {
		return nil
	}
	if err := redisconn.Check(ctx, s.redis); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

func (s *server) current() *config.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

// reload re-reads the configuration and swaps in new lists, providers and
// flow. Anything invalid keeps the previous configuration in force.
func (s *server) reload(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg, err := config.Load(s.path)
	if err != nil {
		s.cfgMetrics.Loaded(nil, time.Now())
		s.log.Error("config reload failed; keeping the previous configuration", "err", err, "config_version", s.cfg.Version())
		return
	}
	srcs, err := s.buildSources(cfg)
	if err != nil {
		s.cfgMetrics.Loaded(nil, time.Now())
		s.log.Error("config reload failed; keeping the previous configuration", "err", err, "config_version", s.cfg.Version())
		return
	}
	for _, k := range restartKeys(s.cfg, cfg) {
		s.log.Warn("config reload: this setting takes effect at the next restart", "key", k)
	}
	if !cfg.Lists.Watch {
		// Nothing follows the list files: read them and the store now.
		if err := s.lists.Reload(); err != nil {
			s.log.Warn("lists: reload failed; the last good lists stay", "err", err)
		}
		if err := s.lists.Sync(ctx); err != nil {
			s.log.Warn("lists: store sync failed; the last good lists stay", "err", err)
		}
	}
	s.sources, s.cfg = srcs, cfg
	s.flow.Store(s.buildFlow(cfg, srcs))
	s.cfgMetrics.Loaded(cfg, time.Now())
	s.log.Info("config reloaded", "config_version", cfg.Version(), "mode", cfg.Mode,
		"profiles", strings.Join(cfg.ProfileNames(), ","), "sources", strings.Join(chainNames(srcs.chain), ","))
}

// restartKeys lists the settings that differ between a and b and are read
// only at start.
func restartKeys(a, b *config.Config) []string {
	var out []string
	check := func(key string, changed bool) {
		if changed {
			out = append(out, key)
		}
	}
	check("agi.listen", a.AGI.Listen != b.AGI.Listen)
	check("agi.max_sessions", a.AGI.MaxSessions != b.AGI.MaxSessions)
	check("agi.allow", strings.Join(a.AGI.Allow, ",") != strings.Join(b.AGI.Allow, ","))
	check("agi.header_timeout", a.AGI.HeaderTimeout != b.AGI.HeaderTimeout)
	check("admin.listen", a.Admin.Listen != b.Admin.Listen)
	check("admin.token", a.Admin.Token != b.Admin.Token)
	check("lists.allow_file", a.Lists.AllowFile != b.Lists.AllowFile)
	check("lists.block_file", a.Lists.BlockFile != b.Lists.BlockFile)
	check("lists.watch", a.Lists.Watch != b.Lists.Watch)
	check("own_numbers", strings.Join(a.OwnNumbers, ",") != strings.Join(b.OwnNumbers, ","))
	check("honeypots", strings.Join(a.Honeypots, ",") != strings.Join(b.Honeypots, ","))
	check("feed", fmt.Sprint(a.Feed) != fmt.Sprint(b.Feed))
	check("ari.servers", fmt.Sprint(a.ARI) != fmt.Sprint(b.ARI))
	check("data_dir", a.DataDir != b.DataDir)
	check("redis", fmt.Sprint(a.Redis) != fmt.Sprint(b.Redis))
	check("reputation.cache", a.Reputation.Cache != b.Reputation.Cache)
	check("audit", a.Audit != b.Audit)
	check("log", a.Log != b.Log)
	return out
}

// buildSources builds the reputation chain for cfg, cheapest first:
// critical numbers, agents' reports, lists, the feed, behaviour, then the
// providers through the cache. The critical numbers and the providers
// follow cfg; the rest are the server's long-lived sources.
func (s *server) buildSources(cfg *config.Config) (*sources, error) {
	out := &sources{}
	var err error
	if out.emergency, err = newEmergency(cfg); err != nil {
		return nil, err
	}
	add := func(name string, src reputation.Source, explain bool) {
		out.chain = append(out.chain, reputation.Named{Name: name, Source: src})
		if explain {
			out.explain = append(out.explain, reputation.Named{Name: name, Source: src})
		}
	}
	add(emergency.SourceName, out.emergency, true)
	if s.feedback != nil {
		add("feedback", s.feedback, true)
	}
	if s.lists != nil {
		add(lists.SourceName, s.lists, true)
	}
	if s.feed != nil {
		add("feed", s.feed, true)
	}
	if s.behavior != nil {
		add("behavior", s.behavior, false) // it counts the call: not for explanations
	}

	// External providers, asked through the cache under one budget.
	var ps []reputation.Provider
	if c := (callerapi.Config{URL: cfg.Providers.CallerAPI.URL, Key: cfg.Providers.CallerAPI.Key}); c.Enabled() {
		src, err := callerapi.New(c)
		if err != nil {
			return nil, fmt.Errorf("providers.callerapi: %w", err)
		}
		ps = append(ps, reputation.Provider{Name: "callerapi", Source: src})
	}
	if c := (youmail.Config{URL: cfg.Providers.YouMail.URL, SID: cfg.Providers.YouMail.SID, Key: cfg.Providers.YouMail.Key}); c.Enabled() {
		src, err := youmail.New(c)
		if err != nil {
			return nil, fmt.Errorf("providers.youmail: %w", err)
		}
		ps = append(ps, reputation.Provider{Name: "youmail", Source: src})
	}
	if c := (httpsource.Config{URL: cfg.Providers.HTTP.URL, Token: cfg.Providers.HTTP.Token}); c.Enabled() {
		src, err := httpsource.New(c)
		if err != nil {
			return nil, fmt.Errorf("providers.http: %w", err)
		}
		ps = append(ps, reputation.Provider{Name: "http", Source: src})
	}
	if len(ps) > 0 {
		opts := reputation.ProvidersOptions{
			Budget: cfg.Reputation.Budget, ProviderTimeout: cfg.Reputation.ProviderTimeout,
			BreakerFailures: cfg.Reputation.Breaker.Failures, BreakerOpenFor: cfg.Reputation.Breaker.OpenFor,
			MaxRetryAfter: cfg.Reputation.MaxRetryAfter, Metrics: s.repMetrics,
		}
		if s.cache != nil {
			opts.Cache = s.cache
		}
		out.providers, err = reputation.NewProviders(opts, ps...)
		if err != nil {
			return nil, fmt.Errorf("providers: %w", err)
		}
		add("providers", out.providers, true)
	}
	return out, nil
}

func (s *server) buildFlow(cfg *config.Config, srcs *sources) *screen.Flow {
	return &screen.Flow{
		Source:        srcs.chain,
		ExplainSource: srcs.explain,
		Critical:      srcs.emergency,
		Profiles:      cfg,
		Recorder:      s.recorder,
		Verifier:      s.verifier,
		Region:        cfg.Number.DefaultRegion,
		LookupTimeout: cfg.Reputation.Budget + 100*time.Millisecond,
		CallTimeout:   cfg.AGI.SessionTimeout,
		ConfigVersion: cfg.Version(),
		Logger:        s.log,
		Metrics:       s.flowMetrics,
	}
}

func redisOptions(cfg *config.Config) redisconn.Options {
	r := cfg.Redis
	return redisconn.Options{
		Addrs: r.Addrs, MasterName: r.MasterName, Cluster: r.Cluster,
		Username: r.Username, Password: r.Password, SentinelPassword: r.SentinelPassword, DB: r.DB,
		TLS: r.TLS, TLSCAFile: r.TLSCAFile, TLSServerName: r.TLSServerName,
		DialTimeout: r.DialTimeout, ReadTimeout: r.ReadTimeout, WriteTimeout: r.WriteTimeout, PoolSize: r.PoolSize,
	}
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

func configSource(cfg *config.Config) string {
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

// flowChecker explains calls with the flow in force at the time.
type flowChecker func() *screen.Flow

var _ admin.Checker = flowChecker(nil)

func (f flowChecker) Explain(ctx context.Context, info decision.CallInfo) (*decision.Result, error) {
	return f().Explain(ctx, info)
}

// feedbackReports stores the admin API's agent reports in the feedback
// store the chain reads.
type feedbackReports struct {
	store  feedback.Store
	region string
}

var _ admin.Feedback = feedbackReports{}

func (f feedbackReports) Report(ctx context.Context, r admin.FeedbackReport) error {
	n := number.Parse(r.Caller, f.region)
	if n.E164 == "" {
		return fmt.Errorf("caller %q: not a telephone number: %w", r.Caller, admin.ErrInvalid)
	}
	kind := feedback.NotSpam
	if r.Spam {
		kind = feedback.Spam
	}
	rep := feedback.Report{Tenant: r.Tenant, Number: n.E164, Kind: kind, Note: r.Note, Agent: r.Agent, DecisionID: r.DecisionID, Time: r.Time}
	if rep.Time.IsZero() {
		rep.Time = time.Now().UTC()
	}
	if err := rep.Validate(); err != nil {
		return fmt.Errorf("%w: %w", admin.ErrInvalid, err)
	}
	if err := f.store.Put(ctx, rep); err != nil {
		return fmt.Errorf("store report: %w", err)
	}
	return nil
}

// listEntries is the admin API's view of the lists: entries added through
// it go to the lists' store (shared through Redis when configured) and
// apply at once.
type listEntries struct {
	lists  *lists.Lists
	region string
}

var _ admin.ListStore = listEntries{}

func (le listEntries) list(name string) (lists.List, error) {
	l := lists.List(strings.ToLower(name))
	if !l.Valid() {
		return "", fmt.Errorf("list %q: want allow or block: %w", name, admin.ErrInvalid)
	}
	return l, nil
}

func (le listEntries) Entries(_ context.Context, tenant, list string) ([]admin.ListEntry, error) {
	l, err := le.list(list)
	if err != nil {
		return nil, err
	}
	out := []admin.ListEntry{}
	for e := range le.lists.Entries(tenant) {
		if e.List == l {
			out = append(out, adminEntry(e))
		}
	}
	return out, nil
}

func (le listEntries) Add(ctx context.Context, in admin.ListEntry) (admin.ListEntry, error) {
	l, err := le.list(in.List)
	if err != nil {
		return admin.ListEntry{}, err
	}
	e, err := lists.ParseEntry(in.Value, le.region)
	if err != nil {
		return admin.ListEntry{}, fmt.Errorf("value %q: %w: %w", in.Value, admin.ErrInvalid, err)
	}
	e.Tenant, e.List, e.Note, e.AddedBy, e.Added, e.Expires = in.Tenant, l, in.Note, in.AddedBy, in.Added, in.Expires
	if e.Added.IsZero() {
		e.Added = time.Now().UTC()
	}
	if err := le.lists.Add(ctx, e); err != nil {
		return admin.ListEntry{}, fmt.Errorf("add list entry: %w", err)
	}
	return adminEntry(&e), nil
}

func (le listEntries) Remove(ctx context.Context, tenant, list, value string) error {
	l, err := le.list(list)
	if err != nil {
		return err
	}
	e, err := lists.ParseEntry(value, le.region)
	if err != nil {
		return fmt.Errorf("value %q: %w: %w", value, admin.ErrInvalid, err)
	}
	e.Tenant, e.List = tenant, l
	found := false
	for have := range le.lists.Entries(tenant) {
		if have.List == l && have.Kind == e.Kind && have.Value == e.Value && have.High == e.High && have.Tenant == tenant {
			found = true
			break
		}
	}
	if !found {
		return fmt.Errorf("%s list entry %q: %w", l, value, admin.ErrNotFound)
	}
	if err := le.lists.Remove(ctx, e); err != nil {
		return fmt.Errorf("remove list entry: %w", err)
	}
	return nil
}

func adminEntry(e *lists.Entry) admin.ListEntry {
	return admin.ListEntry{
		List: string(e.List), Value: e.String(), Tenant: e.Tenant, Note: e.Note,
		AddedBy: e.AddedBy, Added: e.Added, Expires: e.Expires,
	}
}
