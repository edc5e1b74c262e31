package timingtest

import (
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

// WaitTimeout is how long WaitFor waits before failing the test.
const WaitTimeout = 20 * time.Second

// HangTimeout is how long Returns waits for a call: far beyond anything a
// loaded machine adds, so only a hang (or a wait for something that never
// comes) reaches it.
const HangTimeout = 20 * time.Second

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

// Returns runs f and fails the test, naming what f does, when f has not
// returned after HangTimeout. It bounds a call only to catch a hang; how
// fast the call is belongs in a benchmark. A test that must show a call
// returned because of a deadline, rather than because what it waited on
// answered, holds that answer back until f has returned.
func Returns(t testing.TB, what string, f func()) {
	t.Helper()
	returns(t, what, HangTimeout, f)
}

func returns(t testing.TB, what string, limit time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("%s: still running after %s", what, limit)
	}
}

// SilentServer accepts every connection and holds it open without a byte
// in answer until the test ends.
type SilentServer struct {
	addr string
	mu   sync.Mutex
	// remotes are the accepted connections' remote addresses, in order.
	remotes []string
}

// Addr is the server's address on 127.0.0.1.
func (s *SilentServer) Addr() string { return s.addr }

// Dialled returns how many connections were made to the server before
// the call. The count is exact, not a snapshot racing the server's
// accepts: Dialled makes one more connection and waits until the server
// has accepted it, which it does only after every connection made before.
func (s *SilentServer) Dialled(t testing.TB) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	marker := c.LocalAddr().String()
	n := -1
	WaitFor(t, "the server to accept its connections", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		n = slices.Index(s.remotes, marker)
		return n >= 0
	})
	return n
}

// Silent starts a SilentServer on 127.0.0.1:0.
func Silent(t testing.TB) *SilentServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &SilentServer{addr: l.Addr().String()}
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			conns = append(conns, c)
			s.remotes = append(s.remotes, c.RemoteAddr().String())
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		s.mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	return s
}
