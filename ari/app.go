package ari

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the App's zero fields.
const (
	DefaultCallTimeout  = 3 * time.Minute
	DefaultMaxCalls     = 5000
	DefaultMinBackoff   = 250 * time.Millisecond
	DefaultMaxBackoff   = 30 * time.Second
	DefaultAuthRetry    = time.Minute
	DefaultPingInterval = 15 * time.Second
	DefaultRecoverDelay = 2 * time.Second

	// finishTimeout bounds handing a channel back after its handler.
	finishTimeout = 5 * time.Second
	// handlerGrace is how long past CallTimeout a handler may run before
	// the App hands its channel back without it.
	handlerGrace = 5 * time.Second
	// resolvedFor is how long a handed-back channel is remembered, so
	// that a reconnect does not hand it back twice.
	resolvedFor = 10 * time.Minute
	// recoverWorkers bounds the concurrent hand-backs after a reconnect.
	recoverWorkers = 4
)

// Asterisk's soft-hangup flags (AST_SOFTHANGUP_*) that a soft
// ChannelHangupRequest can carry as its cause without the call ending.
const (
	softAsyncGoto = 1 << 1
	softUnbridge  = 1 << 6
)

// Handler screens one call. ServeStasis returns when it is done with the
// channel; the App then sends it back to the dialplan (continue) unless it
// is gone. ctx ends at the App's CallTimeout or when the App stops.
type Handler interface {
	ServeStasis(ctx context.Context, c *Call)
}

// Scope names a call's tenant and profile from its Stasis arguments; the
// rules are the screening's, not the wire's (package bridge's ARIScope
// reads tenant= and profile=).
type Scope interface {
	// Scope returns the tenant and profile of a call whose Stasis
	// arguments are params (keys lower-cased; nil for a channel found
	// waiting after a reconnect), and the arguments it ignored as key,
	// value pairs for the log (none when it used them all).
	Scope(params map[string]string) (tenant, profile string, ignored []any)
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(ctx context.Context, c *Call)

// ServeStasis calls f.
func (f HandlerFunc) ServeStasis(ctx context.Context, c *Call) { f(ctx, c) }

// App is one Stasis application on one Asterisk server: an event
// connection kept up, a goroutine per call. Set the fields, then Run.
type App struct {
	// Client is the server's REST client.
	Client *Client
	// Name is the Stasis application name (Stasis(NAME,...)).
	Name string
	// Scope gives each call its Tenant and Profile, asked once per call:
	// the App labels its metrics with the tenant, its log lines with
	// both, and logs a warning for the arguments Scope ignored. nil gives
	// every call tenant "" and profile "".
	Scope Scope
	// Handler screens each call.
	Handler Handler
	// Recover lists the variables set on a channel found waiting in the
	// application after a (re)connect, before it is continued; nil sets
	// none. Such a channel is not screened: it has waited long enough.
	Recover []Var
	// Logger; nil is slog.Default().
	Logger *slog.Logger
	// Metrics may be nil.
	Metrics *Metrics

	// CallTimeout bounds a handler; 0 is DefaultCallTimeout. A handler
	// still running a grace period later (CallTimeout again, at most 5s)
	// has its channel continued without it.
	CallTimeout time.Duration
	// MaxCalls bounds the calls in flight; calls over it are continued at
	// once, unscreened. 0 is DefaultMaxCalls.
	MaxCalls int
	// MinBackoff and MaxBackoff bound the jittered exponential wait
	// between reconnect attempts; 0 is DefaultMinBackoff/DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// AuthRetry is the wait after a refused login (401/403); 0 is
	// DefaultAuthRetry.
	AuthRetry time.Duration
	// PingInterval is how often the event connection is pinged to detect
	// a dead peer; 0 is DefaultPingInterval.
	PingInterval time.Duration
	// RecoverDelay is how long after listing the channels at connect the
	// App waits before treating those without a StasisStart as leftovers,
	// so that calls entering right then are not mistaken for them (one
	// mistaken would be continued unscreened); 0 is DefaultRecoverDelay.
	RecoverDelay time.Duration

	running atomic.Bool
	// calls maps channel ids to the calls in flight (and to channels a
	// recovery has claimed); resolved maps ids of channels handed back to
	// when. Both are sync.Maps so that the event loop never waits on a
	// lock a handler holds.
	calls    sync.Map
	ncalls   atomic.Int64
	resolved sync.Map
	// ended maps the ids of channels whose StasisEnd came while a
	// recovery ran (recovering > 0) to when: a recovery's listing is
	// RecoverDelay old when it hands channels back, and a channel that
	// left Stasis since (its handler handed it back, and StasisEnd
	// dropped it from resolved) is not left in the application.
	ended      sync.Map
	recovering atomic.Int64
	wg         sync.WaitGroup
	log        *slog.Logger
}

func dur(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Run keeps the application connected and serves its calls until ctx
// ends. It then stops taking calls, lets running handlers end (their ctx
// is cancelled), hands their channels back, and returns nil. Its only
// errors are about the App's own fields.
func (a *App) Run(ctx context.Context) error {
	switch {
	case a.Client == nil:
		return errors.New("ari app: no client")
	case a.Handler == nil:
		return fmt.Errorf("ari app %q: no handler", a.Name)
	}
	if err := checkName("application name", a.Name); err != nil {
		return fmt.Errorf("ari app: %w", err)
	}
	if !a.running.CompareAndSwap(false, true) {
		return fmt.Errorf("ari app %q: already running", a.Name)
	}
	defer a.running.Store(false)
	a.log = a.Logger
	if a.log == nil {
		a.log = slog.Default()
	}
	a.log = a.log.With("ari_server", a.Client.Server(), "ari_app", a.Name)
	a.calls.Clear()
	a.resolved.Clear()
	a.ended.Clear()
	a.ncalls.Store(0)

	server := a.Client.Server()
	attempt := 0
	authLogged := false
	everConnected := false
	for ctx.Err() == nil {
		ev, err := a.Client.Subscribe(ctx, a.Name)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if errors.Is(err, ErrUnauthorized) {
				// Once per streak: a wrong password does not fix itself.
				if !authLogged {
					a.log.Error("ari: login refused; retrying slowly", "err", err, "retry_in", dur(a.AuthRetry, DefaultAuthRetry))
					authLogged = true
				}
				sleep(ctx, jitter(dur(a.AuthRetry, DefaultAuthRetry)))
				continue
			}
			attempt++
			wait := a.backoff(attempt)
			if attempt == 1 {
				a.log.Warn("ari: cannot connect; retrying", "err", err, "retry_in", wait)
			} else {
				a.log.Debug("ari: cannot connect", "attempt", attempt, "err", err, "retry_in", wait)
			}
			sleep(ctx, wait)
			continue
		}
		authLogged = false
		if everConnected {
			a.Metrics.reconnect(server)
		}
		everConnected = true
		a.Metrics.connected(server, true)
		a.log.Info("ari: connected", "after_attempts", attempt)
		connectedAt := time.Now()

		rctx, stopRecover := context.WithCancel(ctx)
		a.wg.Add(1)
		go a.recoverChannels(rctx, ev, connectedAt)
		replaced, err := a.readLoop(ctx, ev)
		stopRecover()
		ev.Abort()
		a.Metrics.connected(server, false)
		if ctx.Err() != nil {
			break
		}
		if time.Since(connectedAt) > dur(a.MaxBackoff, DefaultMaxBackoff) {
			attempt = 0
		}
		attempt++
		wait := a.backoff(attempt)
		if replaced {
			// Another connection took the name: fighting back would make
			// both flap. Retry slowly and say so.
			wait = jitter(dur(a.AuthRetry, DefaultAuthRetry))
			a.log.Error("ari: another connection registered this application; is a second instance using the same name?", "retry_in", wait)
		} else {
			a.log.Warn("ari: event connection lost; reconnecting", "err", err, "retry_in", wait)
		}
		sleep(ctx, wait)
	}
	a.shutdown()
	return nil
}

// shutdown waits for every handler and recovery to end. Handlers see
// their ctx cancelled, return, and have their channels continued.
func (a *App) shutdown() {
	a.wg.Wait()
}

// backoff is the jittered, capped exponential wait before attempt n (1-based).
func (a *App) backoff(n int) time.Duration {
	lo, hi := dur(a.MinBackoff, DefaultMinBackoff), dur(a.MaxBackoff, DefaultMaxBackoff)
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	return jitter(min(d, hi))
}

// jitter returns a duration uniformly in [d/2, d).
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// readLoop reads and dispatches events until the connection fails. It
// reports whether the application was replaced by another connection.
// When ctx ends (the App stops) the connection is closed with a close
// frame, not dropped: reading with ctx itself would make the WebSocket
// library cut the TCP connection, which Asterisk logs as "Web socket
// closed abruptly".
func (a *App) readLoop(ctx context.Context, ev *Events) (replaced bool, err error) {
	pctx, stopPing := context.WithCancel(ctx)
	defer stopPing()
	stopClose := context.AfterFunc(ctx, func() { _ = ev.Close() })
	defer stopClose()
	rctx := context.WithoutCancel(ctx)
	go func() {
		t := time.NewTicker(dur(a.PingInterval, DefaultPingInterval))
		defer t.Stop()
		for {
			select {
			case <-pctx.Done():
				return
			case <-t.C:
			}
			c, cancel := context.WithTimeout(pctx, dur(a.PingInterval, DefaultPingInterval))
			err := ev.Ping(c)
			cancel()
			if err != nil && pctx.Err() == nil {
				a.log.Debug("ari: ping failed; dropping connection", "err", err)
				ev.Abort()
				return
			}
		}
	}()
	for {
		data, err := ev.Read(rctx)
		if err != nil {
			return false, err
		}
		arrived := time.Now()
		e, err := ParseEvent(data)
		if err != nil {
			a.Metrics.event("invalid")
			a.log.Debug("ari: ignoring malformed event", "err", err)
			continue
		}
		a.Metrics.event(e.EventHeader().Type)
		if _, ok := e.(*ApplicationReplaced); ok {
			return true, errors.New("application replaced")
		}
		a.dispatch(ctx, e, arrived)
		a.Metrics.eventDelay(time.Since(arrived))
	}
}

// call returns the call in flight on channel id, nil when there is none.
func (a *App) call(id string) *Call {
	if c, ok := a.calls.Load(id); ok {
		return c.(*Call)
	}
	return nil
}

// dispatch applies one event. It never blocks: a new call gets its own
// goroutine, everything else updates a call's state.
func (a *App) dispatch(ctx context.Context, e Event, arrived time.Time) {
	switch e := e.(type) {
	case *StasisStart:
		a.start(ctx, e, arrived)
	case *StasisEnd:
		route(e, a.call)
		if a.recovering.Load() > 0 {
			a.ended.Store(e.Channel.ID, arrived)
		}
		a.resolved.Delete(e.Channel.ID)
	default:
		route(e, a.call)
	}
}

// start registers a call and starts its handler.
func (a *App) start(ctx context.Context, e *StasisStart, arrived time.Time) {
	c := newCall(a.Client, e, arrived, nil)
	if ignored := a.scope(c); len(ignored) > 0 {
		c.log.Warn("ari: Stasis argument ignored; using the server's default", ignored...)
	}

	if _, dup := a.calls.LoadOrStore(c.id, c); dup {
		// Already being handled (or handed back by a reconnect).
		c.log.Debug("ari: StasisStart for a channel already handled")
		return
	}
	// A channel handed back earlier can come back into Stasis (a
	// transfer): it is a new call.
	a.resolved.Delete(c.id)
	overload := a.ncalls.Add(1) > int64(a.maxCalls())
	a.wg.Add(1)
	if overload {
		go a.overload(c)
		return
	}
	go a.serve(ctx, c)
}

func (a *App) maxCalls() int {
	if a.MaxCalls > 0 {
		return a.MaxCalls
	}
	return DefaultMaxCalls
}

// serve runs the handler for c, then hands the channel back.
func (a *App) serve(ctx context.Context, c *Call) {
	defer a.wg.Done()
	a.Metrics.inFlightAdd(c.Tenant, 1)
	defer a.Metrics.inFlightAdd(c.Tenant, -1)
	timeout := dur(a.CallTimeout, DefaultCallTimeout)
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// A handler that overruns its deadline does not hold the caller: the
	// channel goes back with the Recover (fail-open) variables, as the
	// handler would have set them.
	watchdog := time.AfterFunc(timeout+min(handlerGrace, timeout), func() {
		c.log.Error("ari: handler overran its deadline; handing the channel back without it")
		ctx, cancel := context.WithTimeout(context.Background(), finishTimeout)
		defer cancel()
		a.handBack(ctx, c, outcomeOverrun)
	})
	defer watchdog.Stop()
	func() {
		defer func() {
			if p := recover(); p != nil {
				c.log.Error("ari: handler panic; handing the channel back", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
		}()
		a.Handler.ServeStasis(cctx, c)
	}()
	a.finish(c)
	a.forget(c)
}

// forget drops c from the calls in flight.
func (a *App) forget(c *Call) {
	if a.calls.CompareAndDelete(c.id, c) {
		a.ncalls.Add(-1)
	}
}

// overload hands a call over MaxCalls straight back.
func (a *App) overload(c *Call) {
	defer a.wg.Done()
	c.log.Warn("ari: too many calls in flight; continuing unscreened", "max_calls", a.maxCalls())
	ctx, cancel := context.WithTimeout(context.Background(), finishTimeout)
	defer cancel()
	a.handBack(ctx, c, outcomeOverload)
	a.forget(c)
}

// finish continues c once, unless it is gone.
func (a *App) finish(c *Call) {
	ctx, cancel := context.WithTimeout(context.Background(), finishTimeout)
	defer cancel()
	a.handBack(ctx, c, outcomeContinued)
}

// handBack stops any playback (continue would wait for it), sets the
// recovery variables when the call was not screened, and continues the
// channel. It acts once per call.
func (a *App) handBack(ctx context.Context, c *Call, outcome string) {
	first, gone := c.takeResolve()
	if !first {
		return
	}
	// Before the call leaves a.calls: a recovery that claims the channel
	// next finds it here and leaves it alone.
	a.resolved.Store(c.id, time.Now())
	if gone {
		a.Metrics.call(c.Tenant, outcomeHangup)
		return
	}
	c.stopPlayback(ctx)
	if outcome != outcomeContinued && len(a.Recover) > 0 {
		err := a.Client.SetVariables(ctx, c.id, a.Recover)
		switch {
		case errors.Is(err, ErrHangup):
			// Gone, or out of Stasis already (a snapshot older than
			// its StasisEnd).
			a.Metrics.call(c.Tenant, outcomeHangup)
			return
		case err != nil:
			c.log.Warn("ari: cannot set variables before handing the channel back", "err", err)
		}
	}
	err := a.Client.Continue(ctx, c.id)
	switch {
	case err == nil:
		a.Metrics.call(c.Tenant, outcome)
	case errors.Is(err, ErrHangup):
		c.onGone("asterisk: channel gone")
		a.Metrics.call(c.Tenant, outcomeHangup)
	default:
		a.Metrics.call(c.Tenant, outcomeError)
		c.log.Error("ari: cannot hand the channel back to the dialplan; it stays in the application until the caller hangs up", "err", err)
	}
}

// recoverChannels runs after each connect: calls in flight whose channel
// vanished while the connection was down are marked gone, the others
// re-check what they wait for; channels sitting in the application with
// no call (their StasisStart went to a connection now lost, or to an
// earlier process) are handed back once, fail-open.
//
// A channel listed here that entered Stasis after this connection was made
// has its StasisStart on this connection, perhaps not yet read: handing it
// back would route a new call unscreened. So, after RecoverDelay, a
// WebSocket ping is the barrier: its pong comes after every event Asterisk
// wrote before it, and the read loop dispatches (and claims, in a.calls)
// each event before it reads on to the pong, so once Ping returns every
// StasisStart sent before the listing has been claimed, however far
// behind the read loop was (a loaded machine, where the delay alone was
// not enough: bridge TestARITenants saw such a call handed back).
func (a *App) recoverChannels(ctx context.Context, ev *Events, connectedAt time.Time) {
	defer a.wg.Done()
	// From before the listing, every StasisEnd is noted in ended: a
	// listed channel whose StasisEnd the read loop dispatches later is
	// found there, not handed back.
	a.recovering.Add(1)
	listedAt := time.Now()
	defer func() {
		a.recovering.Add(-1)
		a.ended.Range(func(k, v any) bool {
			if time.Since(v.(time.Time)) > resolvedFor {
				a.ended.Delete(k)
			}
			return true
		})
	}()
	lctx, cancel := context.WithTimeout(ctx, dur(a.Client.timeout, DefaultTimeout))
	chans, err := a.Client.Channels(lctx)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			a.log.Warn("ari: cannot list channels after connecting; channels left in the application stay until they hang up", "err", err)
		}
		return
	}
	present := make(map[string]bool, len(chans))
	for _, ch := range chans {
		present[ch.ID] = true
	}
	a.calls.Range(func(k, v any) bool {
		id, c := k.(string), v.(*Call)
		switch {
		case c.Started.After(connectedAt):
			// Started on this connection: nothing was missed.
		case !present[id]:
			c.onGone("gone while disconnected")
		default:
			c.onResync()
		}
		return true
	})

	// Give StasisStart events already on their way time to arrive, then
	// make sure the read loop has dispatched everything sent so far.
	sleep(ctx, dur(a.RecoverDelay, DefaultRecoverDelay))
	if ctx.Err() != nil {
		return
	}
	pctx, pcancel := context.WithTimeout(ctx, dur(a.Client.timeout, DefaultTimeout))
	err = ev.Ping(pctx)
	pcancel()
	if err != nil {
		if ctx.Err() == nil {
			a.log.Warn("ari: event connection did not answer before recovering channels; left for the next connection", "err", err)
		}
		return
	}
	var left []*Call
	now := time.Now()
	a.resolved.Range(func(k, v any) bool {
		if now.Sub(v.(time.Time)) > resolvedFor {
			a.resolved.Delete(k)
		}
		return true
	})
	for i := range chans {
		ch := &chans[i]
		if !ch.InApp(a.Name) {
			continue
		}
		c := newCall(a.Client, &StasisStart{Channel: *ch}, now, nil)
		a.scope(c)
		// Claimed first (a late StasisStart is then ignored), then checked
		// against the channels handed back: a handler stores there before
		// it lets go of its claim.
		if _, taken := a.calls.LoadOrStore(ch.ID, c); taken {
			continue
		}
		a.ncalls.Add(1)
		if _, done := a.resolved.Load(ch.ID); done {
			a.forget(c)
			continue
		}
		if at, gone := a.ended.Load(ch.ID); gone && !at.(time.Time).Before(listedAt) {
			// Left Stasis after the listing (handed back by its
			// handler, or hung up): nothing is left to hand back.
			a.forget(c)
			continue
		}
		left = append(left, c)
	}
	if len(left) == 0 {
		a.log.Debug(recoveryDone, "handed_back", 0)
		return
	}
	a.log.Warn("ari: handing back channels left in the application", "channels", len(left))
	work := make(chan *Call)
	var wg sync.WaitGroup
	for range min(recoverWorkers, len(left)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
				a.handBack(hctx, c, outcomeRecovered)
				cancel()
				a.forget(c)
			}
		}()
	}
	for _, c := range left {
		work <- c
	}
	close(work)
	wg.Wait()
	a.log.Debug(recoveryDone, "handed_back", len(left))
}

// recoveryDone is logged (debug) when the scan after a connect has
// finished, channels handed back included.
const recoveryDone = "ari: recovery after connect done"

// scope sets c's tenant, profile and logger, and returns the arguments
// the Scope ignored.
func (a *App) scope(c *Call) (ignored []any) {
	if a.Scope != nil {
		c.Tenant, c.Profile, ignored = a.Scope.Scope(c.Params)
	}
	c.log = a.log.With("call_id", c.id, "tenant", c.Tenant, "profile", c.Profile)
	return ignored
}
