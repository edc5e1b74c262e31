package loadtest_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callscreen/callscreen/agi"
	"github.com/callscreen/callscreen/agi/loadtest"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestRunBothServers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	agiL, minL := listen(t), listen(t)
	go func() { _ = (&agi.Server{Handler: loadtest.Handler()}).Serve(ctx, agiL) }()
	go func() { _ = loadtest.ServeMinimal(minL) }()
	for _, addr := range []string{agiL.Addr().String(), minL.Addr().String()} {
		res := loadtest.Run(ctx, addr, 4, 40, 10*time.Second)
		if res.Sessions != 40 || res.Errors != 0 || res.P50 <= 0 || res.P99 < res.P50 || res.PerSecond() <= 0 {
			t.Errorf("%s: %v", addr, res)
		}
	}
	// A server that does not run the three commands counts as errors.
	bad := listen(t)
	go func() {
		_ = (&agi.Server{Handler: agi.HandlerFunc(func(context.Context, *agi.Session) {})}).Serve(ctx, bad)
	}()
	if res := loadtest.Run(ctx, bad.Addr().String(), 2, 10, 10*time.Second); res.Errors != 10 || res.Sessions != 0 {
		t.Errorf("empty handler: %v", res)
	}
	// Bounded by time as well as count.
	start := time.Now()
	loadtest.Run(ctx, minL.Addr().String(), 2, 1<<30, 200*time.Millisecond)
	if time.Since(start) > 5*time.Second {
		t.Errorf("Run ignored its duration: %v", time.Since(start))
	}
}

func TestHold(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var agiHeld, minHeld atomic.Int64
	agiL, minL := listen(t), listen(t)
	go func() { _ = (&agi.Server{Handler: loadtest.HoldHandler(&agiHeld)}).Serve(ctx, agiL) }()
	cl := &loadtest.CountingListener{Listener: minL}
	go func() { _ = loadtest.ServeMinimalHold(cl, &minHeld) }()
	for _, tc := range []struct {
		addr string
		held *atomic.Int64
	}{{agiL.Addr().String(), &agiHeld}, {minL.Addr().String(), &minHeld}} {
		stop := make(chan struct{})
		ready := make(chan struct{})
		done := make(chan error, 1)
		go func() { done <- loadtest.Hold(ctx, tc.addr, 5, true, func() { close(ready) }, stop) }()
		<-ready
		for deadline := time.Now().Add(20 * time.Second); tc.held.Load() != 5 && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		}
		if tc.held.Load() != 5 {
			t.Errorf("%s: held %d, want 5", tc.addr, tc.held.Load())
		}
		close(stop)
		if err := <-done; err != nil {
			t.Error(err)
		}
		for deadline := time.Now().Add(20 * time.Second); tc.held.Load() != 0 && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		}
		if tc.held.Load() != 0 {
			t.Errorf("%s: %d still held after the client closed", tc.addr, tc.held.Load())
		}
	}
	if cl.Accepted.Load() != 5 {
		t.Errorf("counted %d accepts", cl.Accepted.Load())
	}
}
