package loadtest

import (
	"bufio"
	"context"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/callscreen/callscreen/agi"
	"github.com/callscreen/callscreen/agi/agitest"
)

// HoldHandler waits on WAIT FOR DIGIT -1, which a holding client never
// answers: the session is held idle until the client closes. held counts
// sessions that have sent the command.
func HoldHandler(held *atomic.Int64) agi.Handler {
	return agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
		held.Add(1)
		_, _ = s.WaitForDigit(ctx, -1)
		held.Add(-1)
	})
}

// ServeMinimalHold is ServeMinimal holding each session on WAIT FOR DIGIT.
func ServeMinimalHold(l net.Listener, held *atomic.Int64) error {
	return serveMinimal(l, func(c net.Conn, r *bufio.Reader) {
		if _, err := io.WriteString(c, "WAIT FOR DIGIT -1\n"); err != nil {
			return
		}
		held.Add(1)
		_, _ = r.ReadString('\n')
		held.Add(-1)
	})
}

// CountingListener counts accepted connections.
type CountingListener struct {
	net.Listener
	Accepted atomic.Int64
}

// Accept counts and returns the next connection.
func (l *CountingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.Accepted.Add(1)
	}
	return c, err
}

// Hold opens n connections to addr and keeps them open until stop is
// closed or ctx is done. With env set each sends the environment block
// first (a session waiting on a command); without, it sends nothing (a
// session waiting for its environment). It holds no goroutine per
// connection, so it is cheap to run in a separate process from the server.
func Hold(ctx context.Context, addr string, n int, env bool, ready func(), stop <-chan struct{}) error {
	block := agitest.EnvBlock(agitest.Call{Request: "agi://" + addr + "/screen", CallerID: "+12125551234"})
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	var d net.Dialer
	for range n {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c, err := d.DialContext(dctx, "tcp", addr)
		cancel()
		if err != nil {
			return err
		}
		conns = append(conns, c)
		if env {
			if _, err := c.Write(block); err != nil {
				return err
			}
		}
	}
	ready()
	select {
	case <-stop:
	case <-ctx.Done():
	}
	return nil
}
