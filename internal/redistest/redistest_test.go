package redistest

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

func TestStartKillRestart(t *testing.T) {
	s := Start(t)
	if r, err := s.Do("SET", "k", "v"); err != nil || !strings.HasPrefix(r, "+OK") {
		t.Fatalf("SET = %q, %v", r, err)
	}
	s.Kill()
	if _, err := s.Do("PING"); err == nil {
		t.Fatal("killed server still answers")
	}
	s.Restart()
	if r, err := s.Do("GET", "k"); err != nil || !strings.HasPrefix(r, "$-1") {
		t.Fatalf("restarted server GET = %q, %v; want empty", r, err)
	}
}

// TestPortOutsideEphemeralRange: the port is never one the kernel could
// hand to an outgoing connection while the server is down for a Restart.
func TestPortOutsideEphemeralRange(t *testing.T) {
	lo := ephemeralLow()
	for range 20 {
		if p := freePort(t); p < minPort || p >= lo {
			t.Fatalf("port %d outside [%d, %d)", p, minPort, lo)
		}
	}
}

// TestSlow: the proxy passes requests and replies through, the replies
// held back.
func TestSlow(t *testing.T) {
	s := Start(t)
	c, err := net.DialTimeout("tcp", Slow(t, s.Addr(), 20*time.Millisecond), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "+PONG\r\n" {
		t.Fatalf("PING through the proxy = %q, %v", line, err)
	}
}
