package service

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestGate(t *testing.T) {
	t.Run("drain with nothing in flight returns at once", func(t *testing.T) {
		g := newGate()
		if err := g.drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		if g.enter() {
			t.Fatal("a closed gate admitted a call")
		}
	})
	t.Run("drain waits for the calls in flight", func(t *testing.T) {
		g := newGate()
		for range 3 {
			if !g.enter() {
				t.Fatal("an open gate refused a call")
			}
		}
		done := make(chan error, 1)
		go func() { done <- g.drain(context.Background()) }()
		// Closed for new calls as soon as the drain starts.
		deadline := time.Now().Add(20 * time.Second)
		for g.enter() {
			g.leave()
			if time.Now().After(deadline) {
				t.Fatal("the gate did not close")
			}
			time.Sleep(time.Millisecond)
		}
		g.leave()
		g.leave()
		select {
		case err := <-done:
			t.Fatalf("drain returned %v with a call in flight", err)
		case <-time.After(50 * time.Millisecond):
		}
		g.leave()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("drain gives up at the deadline", func(t *testing.T) {
		g := newGate()
		g.enter()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if err := g.drain(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("drain = %v; want the deadline", err)
		}
		g.leave() // the call ends later: no panic, no second close
		if err := g.drain(context.Background()); err != nil {
			t.Fatalf("second drain = %v", err)
		}
	})
}
