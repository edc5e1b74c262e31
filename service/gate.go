package service

import (
	"context"
	"sync"

	"github.com/callscreen/callscreen/ari"
)

// gate counts the calls in flight on a transport that cannot stop taking
// calls by itself (an ARI application keeps its event connection: the
// calls in flight read their DTMF from it), so that serve can drain them
// like FastAGI sessions: once closed, enter refuses new calls, and wait
// returns when the last call in flight has left.
type gate struct {
	mu      sync.Mutex
	n       int
	closed  bool
	emptied chan struct{} // closed when closed && n == 0
}

func newGate() *gate { return &gate{emptied: make(chan struct{})} }

// enter admits a call, or reports false once the gate is closed.
func (g *gate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.n++
	return true
}

// leave ends a call enter admitted.
func (g *gate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n--
	if g.closed && g.n == 0 {
		close(g.emptied)
	}
}

// drain closes the gate and waits until the calls in flight have left
// (nil) or ctx ends (its error; those calls are still running).
func (g *gate) drain(ctx context.Context) error {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		if g.n == 0 {
			close(g.emptied)
		}
	}
	g.mu.Unlock()
	select {
	case <-g.emptied:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drainingARIHandler screens calls through h while g is open. A call that
// arrives once g is closed (serve is draining) is not screened: it gets
// the variables of a call callscreen could not screen (recover, the
// fail-open allow) and goes straight back to the dialplan, as a FastAGI
// call does when the listener is closed.
func drainingARIHandler(g *gate, h ari.Handler, recover []ari.Var) ari.Handler {
	return ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
		if !g.enter() {
			c.Logger().Info("ari: call arrived while draining; handed back unscreened")
			if err := c.SetVariables(ctx, recover); err != nil {
				c.Logger().Debug("ari: cannot set variables on a call handed back while draining", "err", err)
			}
			return
		}
		defer g.leave()
		h.ServeStasis(ctx, c)
	})
}
