package agi_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/callscreen/callscreen/agi"
	"github.com/callscreen/callscreen/agi/agitest"
)

// goroutineID reads the running goroutine's number from its stack header
// ("goroutine 42 [running]:").
func goroutineID() int {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	f := bytes.Fields(buf)
	if len(f) < 2 {
		return -1
	}
	id, err := strconv.Atoi(string(f[1]))
	if err != nil {
		return -1
	}
	return id
}

// waitIdle polls until srv has want idle workers.
func waitIdle(t *testing.T, srv *agi.Server, want int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); srv.IdleWorkers() != want; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d idle workers, want %d", srv.IdleWorkers(), want)
		}
	}
}

// waitNoWorkers polls until srv has no worker left.
func waitNoWorkers(t *testing.T, srv *agi.Server) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); srv.Workers() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d workers (%d idle), want none", srv.Workers(), srv.IdleWorkers())
		}
	}
}

// TestWorkerServesTheNextConnection: a goroutine that served a session
// serves the next connection, keeping its grown stack, instead of a new
// goroutine per connection.
func TestWorkerServesTheNextConnection(t *testing.T) {
	ids := make(chan int, 2)
	srv := &agi.Server{Logger: quietLogger(), Handler: agi.HandlerFunc(func(context.Context, *agi.Session) {
		ids <- goroutineID()
	})}
	srv.SetWorkerIdle(time.Hour) // however slow the machine, the worker waits
	addr := startServer(t, srv)
	if _, err := agitest.Dial(callCtx(t), addr, agitest.Call{}); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, srv, 1)
	if _, err := agitest.Dial(callCtx(t), addr, agitest.Call{}); err != nil {
		t.Fatal(err)
	}
	first, second := <-ids, <-ids
	if first <= 0 || first != second {
		t.Errorf("sessions ran on goroutines %d and %d, want the same one", first, second)
	}
	waitIdle(t, srv, 1)
}

// TestIdleWorkersEnd: a worker with nothing to serve ends after its idle
// time, and at once when the server stops.
func TestIdleWorkersEnd(t *testing.T) {
	t.Run("idle time", func(t *testing.T) {
		srv := &agi.Server{Logger: quietLogger(), Handler: agi.HandlerFunc(func(context.Context, *agi.Session) {})}
		srv.SetWorkerIdle(50 * time.Millisecond)
		addr := startServer(t, srv)
		if _, err := agitest.Dial(callCtx(t), addr, agitest.Call{}); err != nil {
			t.Fatal(err)
		}
		waitNoWorkers(t, srv)
	})
	t.Run("server stops", func(t *testing.T) {
		srv := &agi.Server{Logger: quietLogger(), Handler: agi.HandlerFunc(func(context.Context, *agi.Session) {})}
		srv.SetWorkerIdle(time.Hour)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ctx, l) }()
		for range 3 {
			if _, err := agitest.Dial(callCtx(t), l.Addr().String(), agitest.Call{}); err != nil {
				t.Fatal(err)
			}
		}
		if srv.Workers() == 0 {
			t.Fatal("no worker left after the sessions (idle time 1h)")
		}
		sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer scancel()
		if err := srv.Shutdown(sctx); err != nil {
			t.Fatal(err)
		}
		waitNoWorkers(t, srv)
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Serve: %v", err)
		}
	})
}
