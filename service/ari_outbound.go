package service

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/callscreen/callscreen/ari"
	"github.com/callscreen/callscreen/bridge"
	"github.com/callscreen/callscreen/config"
)

// ariOutbound is the websocket server Asterisk 22.5+ connects to (ARI
// outbound websockets). Its calls go through the same draining gate and
// the same flow as the ARI applications callscreen connects to; it runs
// until the drain is over, then hands back what is still in flight. A
// listener or certificate that cannot be set up is an error: serve does
// not start half-configured.
type ariOutbound struct {
	listen, path      string
	certFile, keyFile string
	maxConns          int
	users             []ari.OutboundUser

	addr string
}

// newARIOutbound checks ari.outbound of cfg; nil when no listen is set.
func newARIOutbound(cfg *config.Config) (*ariOutbound, error) {
	o := cfg.ARI.Outbound
	if o.Listen == "" {
		return nil, nil
	}
	out := &ariOutbound{listen: o.Listen, path: o.Path, certFile: o.TLSCertFile, keyFile: o.TLSKeyFile, maxConns: o.MaxConnections}
	for i, u := range o.Users {
		scope := bridge.ARIScope{Tenant: u.Tenant, Profile: u.Profile}
		if err := scope.Validate(); err != nil {
			return nil, fmt.Errorf("ari.outbound.users[%d]: %w", i, err)
		}
		out.users = append(out.users, ari.OutboundUser{
			Username: u.Username, Password: u.Password.Value(), Scope: scope, MaxConns: u.MaxConnections,
		})
	}
	return out, nil
}

// start listens and serves until ctx ends, waited for through wg.
func (o *ariOutbound) start(ctx context.Context, h *Host, handler ari.Handler, m *ari.Metrics, callTimeout time.Duration, wg *sync.WaitGroup) error {
	var tlsCfg *tls.Config
	if o.certFile != "" {
		cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
		if err != nil {
			return fmt.Errorf("ari.outbound: tls: %w", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	l, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("ari.outbound: %w", err)
	}
	o.addr = l.Addr().String()
	srv := &ari.OutboundServer{
		Users: o.users, Path: o.path, TLS: tlsCfg, MaxConns: o.maxConns,
		Handler: handler, Recover: bridge.ARIRecover(), CallTimeout: callTimeout,
		Logger: h.Log, Metrics: m, OutboundMetrics: ari.NewOutboundMetrics(h.Registry),
		// A persistent connection's PBX has its prompts checked at once.
		OnConnect: bridge.ARIPromptCheck(h.Flow, h.Log),
	}
	scheme := "ws"
	if tlsCfg != nil {
		scheme = "wss"
	}
	h.Log.Info("ari outbound listening", "addr", o.addr, "scheme", scheme, "path", o.path, "users", len(o.users))
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ctx, l); err != nil && ctx.Err() == nil {
			h.Log.Error("ari outbound stopped; Asterisk's Stasis() calls fail open until restart", "err", err)
		}
	}()
	return nil
}
