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
	"github.com/redis/go-redis/v9"

	"github.com/callscreen/callscreen/admin"
	"github.com/callscreen/callscreen/audit"
	"github.com/callscreen/callscreen/config"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/behavior"
	"github.com/callscreen/callscreen/reputation/cache"
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
	// prompts remembers which PBXes have the sounds a challenge needs;
	// every flow shares it, so a reload does not ask every PBX again.
	prompts *screen.Prompts
	host    *Host

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
// drains and closes. ctx ended before or during Start (a SIGTERM during
// start-up) returns nil without serving: at once when it ended before,
// once what Start had opened is closed when it ended during.
func (s *Server) Run(ctx context.Context, reload <-chan os.Signal) error {
	if ctx.Err() != nil {
		s.log.Info("callscreen serve: stopped before serving")
		return nil
	}
	if err := s.Start(ctx); err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			// SIGTERM while opening: what was opened is closed again.
			s.log.Info("callscreen serve: stopped before serving")
			return nil
		}
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
// server on it is refused before it touches anything; a command that
// holds it (callscreen lists import while no server ran) is waited for,
// at most CommandWait.
func (s *Server) Start(ctx context.Context) (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	set, cfg := s.first, s.first.cfg
	defer func() {
		if err != nil {
			s.closeShared(context.Background())
		}
	}()
	if s.lock, err = waitDataDir(ctx, cfg.DataDir, CommandWait, s.log); err != nil {
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
