package timingtest

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// WaitTimeout is how long WaitFor waits before failing the test.
const WaitTimeout = 20 * time.Second

// WaitFor polls cond until it holds, failing the test (naming what it
// waited for) after WaitTimeout.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", WaitTimeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Overrun runs f and says how it overran limit + slack, or "" when it did
// not. A bare timer of limit, started at the same moment, measures what
// the scheduler of a loaded machine adds on its own; only time beyond that
// counts against the code.
func Overrun(limit, slack time.Duration, f func()) string {
	bare := make(chan time.Duration, 1)
	start := time.Now()
	go func() {
		<-time.After(limit)
		bare <- time.Since(start)
	}()
	f()
	elapsed := time.Since(start)
	noise := max(<-bare-limit, 0)
	if elapsed <= limit+noise+slack {
		return ""
	}
	return fmt.Sprintf("took %s; limit %s + slack %s + scheduler noise %s", elapsed, limit, slack, noise)
}

// Silent listens on 127.0.0.1:0, accepts every connection and holds it
// open without a byte in answer until the test ends. It returns the
// address.
func Silent(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return l.Addr().String()
}
