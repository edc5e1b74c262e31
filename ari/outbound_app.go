package ari

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// whyLinkLost is the reason of a call given up with its connection.
const whyLinkLost = "connection from asterisk lost"

// appKey names a Stasis application across reconnects: the user Asterisk
// logged in as, its asterisk_id (two PBXs sharing credentials stay apart)
// and the application name as events carry it.
type appKey struct{ user, asterisk, name string }

// outApp is one Stasis application Asterisk serves over outbound
// websockets: "callscreen" on a persistent connection, or
// "callscreen-pc:PJSIP/trunk-00000001" on the connection Asterisk opened
// for that one call. It outlives its connection: when Asterisk
// reconnects (it does, for both kinds), the calls in flight go on over
// the new one, and the events Asterisk queued meanwhile arrive first.
type outApp struct {
	srv  *OutboundServer
	key  appKey
	user *OutboundUser
	// base is the application of the dialplan's Stasis(); channel, for a
	// per-call application, the channel name after the ':'.
	base, channel string
	perCall       bool
	fol           *follower
	client        *Client
	log           *slog.Logger

	calls    sync.Map // channel id -> *Call in flight (or claimed by a recovery)
	resolved sync.Map // channel id -> time handed back
	ncalls   atomic.Int64

	mu         sync.Mutex
	cur        *session
	registered bool // ApplicationRegistered seen on cur
	held       []*Call
	holdTimer  *time.Timer
	lostTimer  *time.Timer
	started    bool   // per-call: its StasisStart came (or its channel was recovered)
	chanID     string // per-call: its channel's id
	ended      bool   // per-call: its channel left Stasis
	timers     []*time.Timer
}

func newOutApp(s *OutboundServer, key appKey, u *OutboundUser) *outApp {
	base, channel, perCall := strings.Cut(key.name, ":")
	a := &outApp{srv: s, key: key, user: u, base: base, channel: channel, perCall: perCall, fol: newFollower()}
	a.client = &Client{
		server:  "outbound/" + u.Username,
		user:    u.Username,
		timeout: dur(s.RequestTimeout, DefaultTimeout),
		metrics: s.Metrics,
		tunnel:  a.fol,
	}
	a.log = s.log.With("ari_user", u.Username, "ari_app", key.name)
	return a
}

// call returns the call in flight on channel id, nil when there is none.
func (a *outApp) call(id string) *Call {
	if c, ok := a.calls.Load(id); ok {
		return c.(*Call)
	}
	return nil
}

// idle reports whether a has neither a connection nor calls.
func (a *outApp) idle() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cur == nil && a.ncalls.Load() == 0
}

// attach makes ss the application's connection.
func (a *outApp) attach(ss *session) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cur = ss
	a.registered = false
	if a.lostTimer != nil {
		a.lostTimer.Stop()
		a.lostTimer = nil
	}
	a.fol.set(ss.link)
}

// detach notes that ss closed. The calls in flight wait LinkWait for
// Asterisk to reconnect, then are given up.
func (a *outApp) detach(ss *session) {
	a.mu.Lock()
	if a.cur != ss {
		a.mu.Unlock()
		return
	}
	a.cur = nil
	a.registered = false
	a.fol.set(nil)
	for _, t := range a.timers {
		t.Stop()
	}
	a.timers = nil
	if a.ncalls.Load() > 0 && a.lostTimer == nil {
		a.lostTimer = time.AfterFunc(dur(a.srv.LinkWait, DefaultLinkWait), a.linkLost)
	}
	a.mu.Unlock()
	a.srv.dropApp(a)
}

// later runs f after d unless the connection goes first.
func (a *outApp) later(d time.Duration, f func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cur != nil {
		a.timers = append(a.timers, time.AfterFunc(d, f))
	}
}

// linkLost gives up the calls of an application whose connection did not
// come back: their requests fail and their handlers end. The channels
// stay with Asterisk: a per-call one leaves Stasis() with
// STASISSTATUS=FAILED once Asterisk cannot reconnect; a persistent one is
// handed back by whichever callscreen Asterisk reconnects to.
func (a *outApp) linkLost() {
	a.mu.Lock()
	if a.cur != nil {
		a.mu.Unlock()
		return
	}
	a.lostTimer = nil
	a.mu.Unlock()
	a.fol.giveUp(fmt.Errorf("%w: no reconnect within %s", ErrLinkLost, dur(a.srv.LinkWait, DefaultLinkWait)))
	n := 0
	a.calls.Range(func(_, v any) bool {
		v.(*Call).onGone(whyLinkLost)
		n++
		return true
	})
	if n > 0 {
		a.log.Warn("ari outbound: connection from Asterisk lost and not re-established; giving up its calls", "calls", n, "waited", dur(a.srv.LinkWait, DefaultLinkWait))
	}
	a.releaseHeld()
}

// dispatch applies one event. It never blocks.
func (a *outApp) dispatch(ss *session, e Event, arrived time.Time) {
	switch e := e.(type) {
	case *StasisStart:
		a.stasisStart(e, arrived)
	case *StasisEnd:
		route(e, a.call)
		a.resolved.Delete(e.Channel.ID)
		a.mu.Lock()
		end := a.perCall && e.Channel.ID == a.chanID && !a.ended
		if end {
			a.ended = true
		}
		a.mu.Unlock()
		if end {
			// Asterisk closes the connection 3.5 s after StasisEnd; if
			// it does not, close it.
			a.later(dur(a.srv.PeerCloseWait, DefaultPeerCloseWait), func() {
				ss.log.Debug("ari outbound: Asterisk did not close a finished per-call connection; closing it")
				ss.close(websocket.StatusNormalClosure, "")
			})
		}
	case *OtherEvent:
		if e.Type == "ApplicationRegistered" {
			a.registeredOn(ss)
		}
	default:
		route(e, a.call)
	}
}

// registeredOn handles ApplicationRegistered: Asterisk sends it on every
// connect and reconnect, after the events it queued while it had no
// connection (res/ari/ari_websockets.c, session_update).
func (a *outApp) registeredOn(ss *session) {
	a.mu.Lock()
	if a.cur != ss {
		a.mu.Unlock()
		return
	}
	a.registered = true
	started := a.started
	a.mu.Unlock()
	a.releaseHeld()
	if !a.perCall && a.srv.OnConnect != nil && a.srv.admit() {
		go func() {
			defer a.srv.calls.Done()
			a.srv.OnConnect(a.srv.base, a.client)
		}()
	}
	switch {
	case !a.perCall || started:
		connected := time.Now()
		if a.srv.admit() {
			go func() {
				defer a.srv.calls.Done()
				a.recoverChannels(connected)
			}()
		}
	default:
		a.later(dur(a.srv.OrphanWait, DefaultOrphanWait), func() {
			if a.srv.admit() {
				defer a.srv.calls.Done()
				a.recoverOrphan()
			}
		})
	}
}

// stasisStart takes a new call. Until the connection's
// ApplicationRegistered it is held: what comes before are the events
// Asterisk queued while it had no connection, and a queued call whose
// caller already gave up (its StasisEnd follows in the same burst) is
// counted as abandoned instead of screened.
func (a *outApp) stasisStart(e *StasisStart, arrived time.Time) {
	c := newCall(a.client, e, arrived, nil)
	var warn []any
	if a.user.Scope != nil {
		c.Tenant, c.Profile, warn = a.user.Scope.Scope(c.Params)
	}
	c.log = a.log.With("call_id", c.id, "tenant", c.Tenant, "profile", c.Profile)
	if len(warn) > 0 {
		c.log.Warn("ari: Stasis argument ignored; using the user's default", warn...)
	}
	if _, dup := a.calls.LoadOrStore(c.id, c); dup {
		c.log.Debug("ari: StasisStart for a channel already handled")
		return
	}
	a.resolved.Delete(c.id)
	a.ncalls.Add(1)
	a.srv.ncalls.Add(1)
	if !e.Timestamp.IsZero() {
		if age := arrived.Sub(e.Timestamp.Time); age > 2*time.Second {
			c.log.Info("ari outbound: StasisStart queued by Asterisk while callscreen was unreachable", "queued_for", age.Round(time.Millisecond))
		}
	}
	a.mu.Lock()
	if a.perCall {
		a.started, a.chanID = true, c.id
	}
	if !a.registered {
		a.held = append(a.held, c)
		if a.holdTimer == nil {
			a.holdTimer = time.AfterFunc(holdMax, a.releaseHeld)
		}
		a.mu.Unlock()
		return
	}
	a.mu.Unlock()
	a.launch(c)
}

// releaseHeld starts the held calls whose caller is still there.
func (a *outApp) releaseHeld() {
	a.mu.Lock()
	held := a.held
	a.held = nil
	if a.holdTimer != nil {
		a.holdTimer.Stop()
		a.holdTimer = nil
	}
	a.mu.Unlock()
	for _, c := range held {
		if !c.Gone() {
			a.launch(c)
			continue
		}
		first, _ := c.takeResolve()
		if !first {
			continue
		}
		if c.goneReason() == whyLinkLost {
			a.srv.Metrics.call(c.Tenant, outcomeLost)
			a.srv.OutboundMetrics.callLost(a.user.Username)
		} else {
			a.resolved.Store(c.id, time.Now())
			a.srv.Metrics.call(c.Tenant, outcomeAbandoned)
			c.log.Info("ari outbound: the caller hung up while Asterisk held the call for callscreen; not screened")
		}
		a.forget(c)
	}
}

// launch starts a call's handler, or hands it straight back over MaxCalls.
func (a *outApp) launch(c *Call) {
	if !a.srv.admit() {
		// Stopping: the channel stays with Asterisk, which fails a
		// per-call Stasis() once it cannot reconnect and queues a
		// persistent one for the next connection.
		c.log.Info("ari outbound: call arrived while stopping; left to Asterisk")
		a.forget(c)
		return
	}
	if a.srv.ncalls.Load() > a.srv.maxCalls() {
		go a.overload(c)
		return
	}
	go a.serve(c)
}

// admit counts a goroutine that must end before Serve returns; false
// once the server is stopping.
func (s *OutboundServer) admit() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.calls.Add(1)
	return true
}

func (a *outApp) serve(c *Call) {
	defer a.srv.calls.Done()
	m := a.srv.Metrics
	m.inFlightAdd(c.Tenant, 1)
	defer m.inFlightAdd(c.Tenant, -1)
	timeout := dur(a.srv.CallTimeout, DefaultCallTimeout)
	ctx, cancel := context.WithTimeout(a.srv.base, timeout)
	defer cancel()
	watchdog := time.AfterFunc(timeout+min(handlerGrace, timeout), func() {
		c.log.Error("ari: handler overran its deadline; handing the channel back without it")
		a.handBack(c, outcomeContinued)
	})
	defer watchdog.Stop()
	func() {
		defer func() {
			if p := recover(); p != nil {
				c.log.Error("ari: handler panic; handing the channel back", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
		}()
		a.srv.Handler.ServeStasis(ctx, c)
	}()
	a.handBack(c, outcomeContinued)
	a.forget(c)
}

func (a *outApp) overload(c *Call) {
	defer a.srv.calls.Done()
	c.log.Warn("ari: too many calls in flight; continuing unscreened", "max_calls", a.srv.maxCalls())
	a.handBack(c, outcomeOverload)
	a.forget(c)
}

// forget drops c from the calls in flight.
func (a *outApp) forget(c *Call) {
	if a.calls.CompareAndDelete(c.id, c) {
		a.ncalls.Add(-1)
		a.srv.ncalls.Add(-1)
		a.srv.dropApp(a)
	}
}

// handBack continues c once, unless it is gone: with the recovery
// variables first when it was not screened.
func (a *outApp) handBack(c *Call, outcome string) {
	m := a.srv.Metrics
	first, gone := c.takeResolve()
	if !first {
		return
	}
	if gone && c.goneReason() == whyLinkLost {
		m.call(c.Tenant, outcomeLost)
		a.srv.OutboundMetrics.callLost(a.user.Username)
		return
	}
	a.resolved.Store(c.id, time.Now())
	if gone {
		m.call(c.Tenant, outcomeHangup)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), finishTimeout)
	defer cancel()
	c.stopPlayback(ctx)
	if outcome != outcomeContinued && len(a.srv.Recover) > 0 {
		err := a.client.SetVariables(ctx, c.id, a.srv.Recover)
		switch {
		case errors.Is(err, ErrHangup):
			m.call(c.Tenant, outcomeHangup)
			return
		case err != nil:
			c.log.Warn("ari: cannot set variables before handing the channel back", "err", err)
		}
	}
	err := a.client.Continue(ctx, c.id)
	switch {
	case err == nil:
		m.call(c.Tenant, outcome)
	case errors.Is(err, ErrHangup):
		c.onGone("asterisk: channel gone")
		m.call(c.Tenant, outcomeHangup)
	case errors.Is(err, ErrLinkLost):
		m.call(c.Tenant, outcomeLost)
		a.srv.OutboundMetrics.callLost(a.user.Username)
		c.log.Warn("ari outbound: connection from Asterisk lost before the channel was handed back; Asterisk decides (a per-call Stasis() fails open)", "err", err)
	default:
		m.call(c.Tenant, outcomeError)
		c.log.Error("ari: cannot hand the channel back to the dialplan; it stays in the application until the caller hangs up", "err", err)
	}
}

// recoverChannels runs when a connection is (re)established: calls in
// flight whose channel vanished meanwhile are marked gone, the others
// re-check what they wait for (an event written to the connection that
// dropped is lost); on a persistent connection, channels waiting in the
// application that no call here handles (their StasisStart went to a
// connection of a callscreen that stopped) are handed back once,
// fail-open.
func (a *outApp) recoverChannels(connected time.Time) {
	ctx := a.srv.base
	chans, err := a.client.Channels(ctx)
	if err != nil {
		if ctx.Err() == nil {
			a.log.Warn("ari outbound: cannot list channels after connecting; channels left in the application stay until they hang up", "err", err)
		}
		return
	}
	present := make(map[string]bool, len(chans))
	for _, ch := range chans {
		present[ch.ID] = true
	}
	a.calls.Range(func(k, v any) bool {
		c := v.(*Call)
		switch {
		case c.Started.After(connected):
		case !present[k.(string)]:
			c.onGone("gone while disconnected")
		default:
			c.onResync()
		}
		return true
	})
	if a.perCall {
		a.closeIfOver(chans)
		return
	}
	// Give StasisStart events on their way time to arrive, then look
	// again: only a channel in the application both times, and still not
	// handled here, is left over (one listed first may have been screened
	// and gone meanwhile).
	sleep(ctx, dur(a.srv.RecoverDelay, DefaultRecoverDelay))
	if ctx.Err() != nil {
		return
	}
	again, err := a.client.Channels(ctx)
	if err != nil {
		if ctx.Err() == nil {
			a.log.Warn("ari outbound: cannot list channels after connecting; channels left in the application stay until they hang up", "err", err)
		}
		return
	}
	before := make(map[string]bool, len(chans))
	for _, ch := range chans {
		if ch.InApp(a.base) {
			before[ch.ID] = true
		}
	}
	for i := range again {
		ch := &again[i]
		if before[ch.ID] && ch.InApp(a.base) {
			a.claimAndHandBack(ch)
		}
	}
}

// closeIfOver closes a per-call connection that Asterisk made again after
// its channel left the application (the drop came between StasisEnd and
// Asterisk's close, which then found no connection to close, while the
// call was still being wound up here): nothing more comes on it, and
// nothing but callscreen would close it.
func (a *outApp) closeIfOver(chans []Channel) {
	a.mu.Lock()
	id, ss := a.chanID, a.cur
	a.mu.Unlock()
	for i := range chans {
		if chans[i].ID == id && chans[i].InApp(a.base) {
			return
		}
	}
	if ss != nil {
		a.log.Debug("ari outbound: per-call connection made again after its channel left the application; closing it")
		ss.close(websocket.StatusNormalClosure, "")
	}
}

// recoverOrphan runs when a per-call connection brought no StasisStart:
// Asterisk reconnected the websocket of a call whose StasisStart went to
// a connection that dropped (to another callscreen, behind a load
// balancer). The channel is found by name and handed back, fail-open.
func (a *outApp) recoverOrphan() {
	a.mu.Lock()
	started := a.started
	a.mu.Unlock()
	if started {
		return
	}
	chans, err := a.client.Channels(a.srv.base)
	if err != nil {
		a.log.Warn("ari outbound: cannot list channels for a per-call connection without its StasisStart", "err", err)
		return
	}
	for i := range chans {
		ch := &chans[i]
		if ch.Name == a.channel && ch.InApp(a.base) {
			a.claimAndHandBack(ch)
			return
		}
	}
	// Its call is over (the connection dropped after StasisEnd and
	// Asterisk made it again): nothing will close it but us.
	a.log.Debug("ari outbound: per-call connection without its StasisStart, and its channel is not in the application; closing it")
	a.mu.Lock()
	ss := a.cur
	a.mu.Unlock()
	if ss != nil {
		ss.close(websocket.StatusNormalClosure, "")
	}
}

// claimAndHandBack hands back a channel that no call here handles.
func (a *outApp) claimAndHandBack(ch *Channel) {
	c := newCall(a.client, &StasisStart{Channel: *ch}, time.Now(), nil)
	if a.user.Scope != nil {
		c.Tenant, c.Profile, _ = a.user.Scope.Scope(nil)
	}
	c.log = a.log.With("call_id", c.id, "tenant", c.Tenant)
	if _, taken := a.calls.LoadOrStore(ch.ID, c); taken {
		return
	}
	a.ncalls.Add(1)
	a.srv.ncalls.Add(1)
	a.mu.Lock()
	if a.perCall {
		a.started, a.chanID = true, ch.ID
	}
	a.mu.Unlock()
	if _, done := a.resolved.Load(ch.ID); done {
		a.forget(c)
		return
	}
	c.log.Warn("ari outbound: handing back a channel left waiting in the application, unscreened")
	a.handBack(c, outcomeRecovered)
	a.forget(c)
}

// goneReason returns why the call is gone, "" when it is not.
func (c *Call) goneReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.goneWhy
}
