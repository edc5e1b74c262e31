package agi_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/callscreen/callscreen/agi"
	"github.com/callscreen/callscreen/agi/agitest"
	"github.com/callscreen/callscreen/agi/loadtest"
)

// TestIdleConnectionsDoNotStarveCalls holds 1,100 connections that send
// nothing (more than the 1,000 session slots), then places 20 calls: every
// call is served. Measured before the pre-block stage: 0 of 20.
func TestIdleConnectionsDoNotStarveCalls(t *testing.T) {
	const idle, calls = 1100, 20
	m := agi.NewMetrics(nil)
	var served atomic.Int64
	srv := &agi.Server{Metrics: m, Logger: quietLogger(), HeaderTimeout: time.Minute,
		Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
			if err := s.SetVariables(ctx, []agi.Variable{{Name: "CALLSCREEN_RESULT", Value: "block"}}); err == nil {
				served.Add(1)
			}
		})}
	addr := startServer(t, srv)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ready, stop, held := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() { held <- loadtest.Hold(ctx, addr, idle, false, func() { close(ready) }, stop) }()
	select {
	case <-ready:
	case err := <-held:
		t.Fatalf("holding idle connections: %v", err)
	}
	defer func() { close(stop); <-held }()
	// Every idle connection has been accepted into the pre-block stage (or
	// pushed out of it by a newer one) before the calls start.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		waiting := srv.PendingLen() + int(testutil.ToFloat64(m.RejectedCounter(agi.RejectPending)))
		if waiting >= idle {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d idle connections reached the server", waiting)
		}
	}

	blocked := 0
	for i := range calls {
		cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
		tr, err := agitest.Dial(cctx, addr, agitest.Call{CallerID: "+12125550666"})
		ccancel()
		if err != nil {
			t.Errorf("call %d: %v", i, err)
			continue
		}
		if tr.Vars["CALLSCREEN_RESULT"] == "block" {
			blocked++
		}
	}
	if blocked != calls {
		t.Errorf("%d of %d calls screened with %d idle connections held", blocked, calls, idle)
	}
	if p := srv.PendingLen(); p > agi.DefaultMaxPendingPerPeer {
		t.Errorf("%d connections waiting from one peer, cap %d", p, agi.DefaultMaxPendingPerPeer)
	}
}

// TestEmptyBlockIsNotACall: a probe that connects and sends an empty line
// gets the connection closed; the handler never runs.
func TestEmptyBlockIsNotACall(t *testing.T) {
	m := agi.NewMetrics(nil)
	var ran atomic.Bool
	srv := &agi.Server{Metrics: m, Logger: quietLogger(),
		Handler: agi.HandlerFunc(func(context.Context, *agi.Session) { ran.Store(true) })}
	addr := startServer(t, srv)
	for _, probe := range []string{"\n", "\r\n"} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write([]byte(probe)); err != nil {
			t.Fatal(err)
		}
		waitClosed(t, conn, 20*time.Second)
		conn.Close()
	}
	for deadline := time.Now().Add(20 * time.Second); testutil.ToFloat64(m.RejectedCounter(agi.RejectProbe)) < 2 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if got := testutil.ToFloat64(m.RejectedCounter(agi.RejectProbe)); got != 2 || ran.Load() || testutil.ToFloat64(m.AcceptedCounter()) != 0 {
		t.Errorf("probes %v, handler ran %t, accepted %v; want 2 probes, no call", got, ran.Load(), testutil.ToFloat64(m.AcceptedCounter()))
	}
}
