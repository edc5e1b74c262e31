package timingtest

import (
	"errors"
	"net"
	"testing"
	"time"
)

// recorder is a testing.TB that records a Fatalf instead of ending the
// test, so the helpers' failures can be checked.
type recorder struct {
	testing.TB
	failed []string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = append(r.failed, format)
}

func TestReturns(t *testing.T) {
	Returns(t, "a call that returns", func() {})
	ran := false
	Returns(t, "a call that sets a flag", func() { ran = true })
	if !ran {
		t.Fatal("Returns did not wait for its call")
	}
	// A call that never returns fails the test.
	r := &recorder{TB: t}
	block := make(chan struct{})
	defer close(block)
	returns(r, "a call that hangs", time.Millisecond, func() { <-block })
	if len(r.failed) != 1 || r.failed[0] != "%s: still running after %s" {
		t.Fatalf("failed with %q", r.failed)
	}
}

func TestWaitFor(t *testing.T) {
	n := 0
	WaitFor(t, "three polls", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Fatalf("polled %d times; want 3", n)
	}
}

func TestSilent(t *testing.T) {
	s := Silent(t)
	if n := s.Dialled(t); n != 0 {
		t.Fatalf("Dialled = %d before any connection", n)
	}
	var conns []net.Conn
	for range 3 {
		c, err := net.DialTimeout("tcp", s.Addr(), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	// Three, plus the one the first Dialled made.
	if n := s.Dialled(t); n != 4 {
		t.Fatalf("Dialled = %d; want 4", n)
	}
	c := conns[0]
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	var b [1]byte
	n, err := c.Read(b[:])
	var ne net.Error
	if n != 0 || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read %d bytes, %v; want a timeout with nothing read", n, err)
	}
}
