package service

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/callscreen/callscreen/admin"
	"github.com/callscreen/callscreen/config"
	"github.com/callscreen/callscreen/reputation/feed"
	"github.com/callscreen/callscreen/reputation/feedback"
	"github.com/callscreen/callscreen/reputation/lists"
	"github.com/callscreen/callscreen/screen"
)

// Component is one part of a running server that works in the background:
// a listener that takes calls, a watcher, a scheduler. Build makes it from
// the configuration, running nothing and opening nothing; the Server
// starts it once the shared parts are open, and stops it at shutdown.
type Component interface {
	// Name names the component in logs ("agi", "admin", "lists watcher").
	Name() string
	// Start begins the work with the server's shared parts and returns
	// once it runs (a listener is bound), or with the error that keeps
	// the server from starting. Work that later ends by itself with an
	// error reports it through h.Fail, which stops the server.
	Start(ctx context.Context, h *Host) error
	// Stop takes no new work from now on, lets the work in progress
	// finish until ctx ends, then cuts it off, and returns once the
	// component has stopped: nil, or ctx's error when work was cut off.
	// Stop of a component that was never started returns nil.
	Stop(ctx context.Context) error
}

// CallTaker is a component that takes calls (a transport). At shutdown
// every CallTaker stops taking calls at the same moment and they drain
// together, within shutdown_timeout; the other components stop after
// them, so that the calls in progress keep everything they use.
type CallTaker interface {
	Component
	TakesCalls()
}

// Detailer is a component with something to say in /readyz.
type Detailer interface {
	Component
	// Details returns what an operator should know about the component
	// now; a Detail with NotReady set makes /readyz answer 503.
	Details(ctx context.Context) []Detail
}

// Detail is one line of /readyz.
type Detail struct {
	// NotReady says the server cannot screen calls as configured.
	NotReady bool
	// Text says what, prefixed with the component's name by the server.
	Text string
}

// Describer is a component that adds fields to the "callscreen serving"
// log line (the address it listens on, say), as key, value pairs.
type Describer interface {
	Component
	Describe() []any
}

// Host is what a component works with: the server's shared parts, open
// from Start to Close, the same across reloads.
type Host struct {
	// Config is the configuration the server started with: what the
	// settings read only at start come from.
	Config *config.Config
	// Log is the server's logger.
	Log *slog.Logger
	// Registry takes the component's metrics and serves /metrics.
	Registry *prometheus.Registry
	// Flow returns the flow in force. Call it at the start of each call
	// and keep what it returns for that call: a reload swaps it.
	Flow func() *screen.Flow
	// Redis is the shared Redis, nil when none is configured.
	Redis redis.UniversalClient
	// Lists, Feed and Feedback are the reputation state the chain reads.
	Lists    *lists.Lists
	Feed     *feed.Feed
	Feedback feedback.Store
	// Recent is the admin API's store of recent decisions, AdminMetrics
	// its metrics and the admin server's.
	Recent       *admin.Recent
	AdminMetrics *admin.Metrics
	// Ready and Details are the server's whole /readyz: Redis and every
	// Detailer.
	Ready   func(ctx context.Context) error
	Details func(ctx context.Context) []string
	// Fail stops the server with err: a component's work ended by itself.
	Fail func(err error)
	// Outbound is what the outbound monitor judged, for the admin API;
	// nil when outbound health is off. The monitor sets it when it starts,
	// before the admin API does.
	Outbound admin.Outbound
}
