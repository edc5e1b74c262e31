package service

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/callscreen/callscreen/admin"
	"github.com/callscreen/callscreen/agi"
	"github.com/callscreen/callscreen/ari"
	"github.com/callscreen/callscreen/bridge"
	"github.com/callscreen/callscreen/config"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/screen"
)

// components builds every component cfg describes, in the order they
// start (and, CallTakers aside, the reverse of the order they stop):
// watchers first, then the admin API, then the transports. A new part of
// the server is one more line here.
func components(cfg *config.Config) ([]Component, error) {
	var out []Component
	add := func(c Component, err error) error {
		if err != nil {
			return err
		}
		if c != nil {
			out = append(out, c)
		}
		return nil
	}
	for _, err := range []error{
		add(listsWatcher(cfg), nil),
		add(feedWatcher(), nil),
		add(feedPuller(cfg), nil),
		add(newOutboundMonitor(cfg), nil),
		add(newStatsRunner(cfg), nil),
		add(newAdminServer(cfg)),
		add(newAGIListener(cfg)),
		add(newARIApps(cfg)),
	} {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// runner is a component that runs one function until stopped: a watcher,
// a scheduler. Its failure is logged, not fatal: the server screens on
// with what it has.
type runner struct {
	name string
	run  func(ctx context.Context, h *Host) error

	cancel context.CancelFunc
	done   chan struct{}
}

func (r *runner) Name() string { return r.name }

func (r *runner) Start(ctx context.Context, h *Host) error {
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel, r.done = cancel, make(chan struct{})
	go func() {
		defer close(r.done)
		if err := r.run(rctx, h); err != nil && rctx.Err() == nil {
			h.Log.Warn(r.name+" stopped; SIGHUP still reloads", "err", err)
		}
	}()
	return nil
}

func (r *runner) Stop(ctx context.Context) error {
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", r.name, ctx.Err())
	}
}

// listsWatcher keeps the lists current: the files and the store
// (lists.watch), or the store alone; the files are then read at start
// and on SIGHUP only.
func listsWatcher(cfg *config.Config) Component {
	if cfg.Lists.Watch {
		return &runner{name: "lists watcher", run: func(ctx context.Context, h *Host) error { return h.Lists.Watch(ctx) }}
	}
	return &runner{name: "lists store follower", run: func(ctx context.Context, h *Host) error {
		h.Lists.FollowStore(ctx)
		return nil
	}}
}

// feedWatcher loads the feed another process or instance stored.
func feedWatcher() Component {
	return &runner{name: "feed watcher", run: func(ctx context.Context, h *Host) error {
		h.Feed.Watch(ctx)
		return nil
	}}
}

// feedPuller pulls feed.url daily; nil without one.
func feedPuller(cfg *config.Config) Component {
	if cfg.Feed.URL == "" {
		return nil
	}
	return &runner{name: "feed scheduler", run: func(ctx context.Context, h *Host) error {
		return feedScheduler(h.Config, h.Feed, h.Log).Run(ctx)
	}}
}

// adminServer is the admin API, /metrics and the dashboard.
type adminServer struct {
	listen, token, region string
	maxStreams            int

	addr   string
	cancel context.CancelFunc
	done   chan error
}

var _ Describer = (*adminServer)(nil)

// newAdminServer builds the admin server of cfg; nil when admin.listen is
// "". A non-loopback address without a token is refused here, as New
// would refuse it.
func newAdminServer(cfg *config.Config) (Component, error) {
	if cfg.Admin.Listen == "" {
		return nil, nil
	}
	if err := admin.CheckAccess(cfg.Admin.Listen, cfg.Admin.Token.Value()); err != nil {
		return nil, err
	}
	return &adminServer{listen: cfg.Admin.Listen, token: cfg.Admin.Token.Value(), region: cfg.Number.DefaultRegion,
		maxStreams: cfg.Admin.StreamMaxSubscribers}, nil
}

func (a *adminServer) Name() string { return "admin" }

func (a *adminServer) Start(ctx context.Context, h *Host) error {
	srv, err := admin.New(admin.Options{
		Listen: a.listen, Token: a.token, Gatherer: h.Registry,
		Checker: flowChecker(h.Flow), Feedback: admin.FeedbackStore(h.Feedback, a.region),
		Decisions: h.Recent, Stream: h.Recent, Region: a.region, Lists: admin.Lists(h.Lists, a.region),
		Logger: h.Log, Metrics: h.AdminMetrics, Ready: h.Ready, Details: h.Details, Outbound: h.Outbound,
		StreamMaxSubscribers: a.maxStreams,
		Stats:                h.supervision.statistics(),
		// The commands' way through the server: what they import applies
		// to the next call, and the files in data_dir stay the server's.
		ListTransfer: admin.ListTransfers(h.Lists, ListStore(h.Config, h.Redis), a.region),
		Reports:      admin.FeedbackReports(h.Feedback),
		Feed:         admin.Feed(h.Feed, FeedPullOptions(h.Config)),
	})
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", a.listen)
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	a.addr = l.Addr().String()
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancel, a.done = cancel, make(chan error, 1)
	go func() {
		err := srv.Serve(sctx, l)
		if err != nil && sctx.Err() == nil {
			h.Fail(err)
		}
		a.done <- err
	}()
	return nil
}

func (a *adminServer) Stop(ctx context.Context) error {
	if a.cancel == nil {
		return nil
	}
	a.cancel()
	select {
	case <-a.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("admin: %w", ctx.Err())
	}
}

func (a *adminServer) Describe() []any { return []any{"admin", a.addr} }

// flowChecker explains calls with the flow in force at the time.
type flowChecker func() *screen.Flow

var _ admin.Checker = flowChecker(nil)

func (f flowChecker) Explain(ctx context.Context, info decision.CallInfo) (*decision.Result, error) {
	return f().Explain(ctx, info)
}

// agiListener is the FastAGI server.
type agiListener struct {
	listen        string
	maxSessions   int
	allow         []netip.Prefix
	headerTimeout time.Duration

	srv  *agi.Server
	addr string
	// The systemd watchdog fed by this accept loop: stopWatchdog at the
	// start of the drain (STOPPING=1), watchdogDone at its end.
	stopWatchdog, watchdogDone func()
}

var (
	_ CallTaker = (*agiListener)(nil)
	_ Detailer  = (*agiListener)(nil)
	_ Describer = (*agiListener)(nil)
)

func newAGIListener(cfg *config.Config) (Component, error) {
	return &agiListener{
		listen: cfg.AGI.Listen, maxSessions: cfg.AGI.MaxSessions,
		allow: cfg.AGI.AllowPrefixes(), headerTimeout: cfg.AGI.HeaderTimeout,
	}, nil
}

func (a *agiListener) Name() string { return "agi" }
func (a *agiListener) TakesCalls()  {}

func (a *agiListener) Start(ctx context.Context, h *Host) error {
	l, err := net.Listen("tcp", a.listen)
	if err != nil {
		return fmt.Errorf("agi: %w", err)
	}
	a.addr = l.Addr().String()
	a.srv = &agi.Server{
		Handler:       bridge.AGIHandler(h.Flow),
		MaxSessions:   a.maxSessions,
		Allow:         a.allow,
		HeaderTimeout: a.headerTimeout,
		Logger:        h.Log,
		Metrics:       agi.NewMetrics(h.Registry),
	}
	// systemd: READY, WATCHDOG while probes come back, STOPPING.
	a.stopWatchdog, a.watchdogDone = startWatchdog(h, a.srv, l)
	go func() {
		// Serve returns nil once Shutdown closed the listener.
		if err := a.srv.Serve(context.WithoutCancel(ctx), l); err != nil {
			h.Fail(fmt.Errorf("agi: %w", err))
		}
	}()
	return nil
}

// Stop closes the listener (new calls get AGISTATUS=FAILURE and ring
// unscreened) and waits for the sessions in progress.
func (a *agiListener) Stop(ctx context.Context) error {
	if a.srv == nil {
		return nil
	}
	a.stopWatchdog()
	defer a.watchdogDone()
	err := a.srv.Shutdown(ctx)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("agi shutdown: %w", err)
	}
	return err
}

func (a *agiListener) Describe() []any { return []any{"agi", a.addr} }

// Details warns when anyone who can reach the port can have calls
// screened and read the verdicts.
func (a *agiListener) Details(context.Context) []Detail {
	var warnings []string
	if a.srv != nil {
		warnings = a.srv.Warnings()
	} else if w := agi.ExposureWarning(a.listen, a.allow); w != "" {
		warnings = []string{w}
	}
	out := make([]Detail, len(warnings))
	for i, w := range warnings {
		out[i] = Detail{Text: w}
	}
	return out
}

// ariApps are the Stasis applications, one per ari.servers entry. They run
// until the drain is over (their calls in flight need the event
// connection); the gate stops them screening new calls meanwhile.
type ariApps struct {
	servers []ariServer
	timeout time.Duration
	// outbound is the websocket server Asterisk 22.5+ connects to (ARI
	// outbound websockets); nil when ari.outbound.listen is not set.
	outbound *ariOutbound

	gate   *gate
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type ariServer struct {
	client ari.ClientConfig
	app    string
	scope  bridge.ARIScope
}

var (
	_ CallTaker = (*ariApps)(nil)
	_ Describer = (*ariApps)(nil)
)

// newARIApps builds the ARI applications of cfg and the outbound
// websocket server; nil without either.
func newARIApps(cfg *config.Config) (Component, error) {
	if len(cfg.ARI.Servers) == 0 && cfg.ARI.Outbound.Listen == "" {
		return nil, nil
	}
	a := &ariApps{timeout: cfg.AGI.SessionTimeout}
	var err error
	if a.outbound, err = newARIOutbound(cfg); err != nil {
		return nil, err
	}
	for i, s := range cfg.ARI.Servers {
		cc := ari.ClientConfig{URL: s.URL, Username: s.Username, Password: s.Password.Value()}
		// The client is made again at Start, with the metrics; here it
		// checks the settings.
		if _, err := ari.NewClient(cc); err != nil {
			return nil, fmt.Errorf("ari.servers[%d]: %w", i, err)
		}
		scope := bridge.ARIScope{Tenant: s.Tenant, Profile: s.Profile}
		if err := scope.Validate(); err != nil {
			return nil, fmt.Errorf("ari.servers[%d]: %w", i, err)
		}
		a.servers = append(a.servers, ariServer{client: cc, app: s.App, scope: scope})
	}
	return a, nil
}

func (a *ariApps) Name() string { return "ari" }
func (a *ariApps) TakesCalls()  {}

func (a *ariApps) Start(ctx context.Context, h *Host) error {
	m := ari.NewMetrics(h.Registry)
	a.gate = newGate()
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancel = cancel
	handler := drainingARIHandler(a.gate, bridge.ARIHandler(h.Flow), bridge.ARIRecover())
	for i, s := range a.servers {
		cc := s.client
		cc.Metrics = m
		client, err := ari.NewClient(cc)
		if err != nil {
			cancel()
			a.wg.Wait()
			return fmt.Errorf("ari.servers[%d]: %w", i, err)
		}
		app := &ari.App{
			Client: client, Name: s.app, Scope: s.scope,
			Handler: handler, Recover: bridge.ARIRecover(),
			Logger: h.Log, Metrics: m, CallTimeout: a.timeout,
			// The prompts are checked as soon as the PBX is connected.
			OnConnect: bridge.ARIPromptCheck(h.Flow, h.Log),
		}
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			if err := app.Run(actx); err != nil && actx.Err() == nil {
				h.Log.Error("ari application stopped", "server", cc.URL, "app", s.app, "err", err)
			}
		}()
	}
	if a.outbound != nil {
		if err := a.outbound.start(actx, h, handler, m, a.timeout, &a.wg); err != nil {
			cancel()
			a.wg.Wait()
			return err
		}
	}
	return nil
}

// Stop hands the calls that arrive from now on straight back to the
// dialplan, waits for the calls in progress, then closes the event
// connections (calls still running see their context end and go back to
// the dialplan).
func (a *ariApps) Stop(ctx context.Context) error {
	if a.gate == nil {
		return nil
	}
	err := a.gate.drain(ctx)
	a.cancel()
	a.wg.Wait()
	return err
}

func (a *ariApps) Describe() []any {
	d := []any{"ari_servers", len(a.servers)}
	if a.outbound != nil {
		d = append(d, "ari_outbound", a.outbound.addr)
	}
	return d
}
