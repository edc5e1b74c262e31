package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"

	"github.com/callscreen/callscreen/ari"
	"github.com/callscreen/callscreen/bridge"
	"github.com/callscreen/callscreen/config"
)

// serveARIOutbound starts the websocket server Asterisk 22.5+ connects to
// (ARI outbound websockets) when ari.outbound.listen is set, and logs
// where it listens. Its calls go through the same draining gate and the
// same flow as the ARI applications callscreen connects to; it runs until
// ctx ends (after the drain), hands back what is still in flight, and is
// waited for through wg. A listener or certificate that cannot be set up
// is an error: serve does not start half-configured.
func (s *server) serveARIOutbound(ctx context.Context, cfg *config.Config, wg *sync.WaitGroup, calls *gate, m *ari.Metrics) error {
	o := cfg.ARI.Outbound
	if o.Listen == "" {
		return nil
	}
	var tlsCfg *tls.Config
	if o.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.TLSCertFile, o.TLSKeyFile)
		if err != nil {
			return fmt.Errorf("ari.outbound: tls: %w", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	users := make([]ari.OutboundUser, len(o.Users))
	for i, u := range o.Users {
		users[i] = ari.OutboundUser{Username: u.Username, Password: u.Password, Tenant: u.Tenant, Profile: u.Profile, MaxConns: u.MaxConnections}
	}
	l, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("ari.outbound: %w", err)
	}
	srv := &ari.OutboundServer{
		Users: users, Path: o.Path, TLS: tlsCfg, MaxConns: o.MaxConnections,
		Handler: drainingARIHandler(calls, bridge.ARIHandler(s.flow.Load), bridge.ARIRecover()),
		Recover: bridge.ARIRecover(), CallTimeout: cfg.AGI.SessionTimeout,
		Logger: s.log, Metrics: m, OutboundMetrics: ari.NewOutboundMetrics(s.reg),
	}
	scheme := "ws"
	if tlsCfg != nil {
		scheme = "wss"
	}
	s.log.Info("ari outbound listening", "addr", l.Addr().String(), "scheme", scheme, "path", o.Path, "users", len(users))
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ctx, l); err != nil && ctx.Err() == nil {
			s.log.Error("ari outbound stopped; Asterisk's Stasis() calls fail open until restart", "err", err)
		}
	}()
	return nil
}
