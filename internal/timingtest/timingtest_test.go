package timingtest

import (
	"errors"
	"net"
	"testing"
	"time"
)

func TestOverrun(t *testing.T) {
	if got := Overrun(20*time.Millisecond, 5*time.Millisecond, func() {}); got != "" {
		t.Errorf("a call that returns at once overran: %s", got)
	}
	if got := Overrun(10*time.Millisecond, 0, func() { time.Sleep(500 * time.Millisecond) }); got == "" {
		t.Error("a 500ms call within a 10ms limit did not overrun")
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
	c, err := net.DialTimeout("tcp", Silent(t), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
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
