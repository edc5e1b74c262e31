package redistest

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Slow starts a proxy to the Redis at addr that holds every reply for
// delay before passing it on: a Redis on a machine busy with other work,
// slower than the call path's timeouts. It returns the proxy's address;
// the proxy stops when the test ends.
func Slow(t testing.TB, addr string, delay time.Duration) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	keep := func(c ...net.Conn) {
		mu.Lock()
		conns = append(conns, c...)
		mu.Unlock()
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				c.Close()
				continue
			}
			keep(c, up)
			go func() {
				_, _ = io.Copy(up, c)
				up.Close()
			}()
			go func() {
				defer c.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := up.Read(buf)
					if n > 0 {
						time.Sleep(delay) // the slowness under test, not a synchronisation
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}
