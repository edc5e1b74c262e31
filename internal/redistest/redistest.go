package redistest

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/internal/citest"
)

// Server is a running redis-server.
type Server struct {
	t      testing.TB
	bin    string
	dir    string
	port   int
	args   []string // before the common flags: a config file, --sentinel
	cmd    *exec.Cmd
	extra  []string      // after the common flags
	exited chan struct{} // closed when cmd has exited
	out    bytes.Buffer  // what the server printed; read once exited
}

// Start starts a redis-server for the test and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return startWith(t, redisServer(t), freePort(t), nil)
}

// redisServer finds redis-server, or skips (fails under CI).
func redisServer(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		citest.Unavailable(t, "redis-server not found; install it (apt-get install -y redis-server) to run the Redis paths")
	}
	return bin
}

// startWith starts a redis-server on port with extra arguments (after the
// common ones, so they win) and stops it when the test ends.
func startWith(t testing.TB, bin string, port int, extra []string) *Server {
	t.Helper()
	s := &Server{t: t, bin: bin, dir: t.TempDir(), port: port, extra: extra}
	s.start()
	t.Cleanup(s.Kill)
	return s
}

// Port is the server's port.
func (s *Server) Port() int { return s.port }

// Alive reports whether the server process is running.
func (s *Server) Alive() bool { return s.cmd != nil }

// Addr is host:port of the server.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

func (s *Server) start() {
	s.t.Helper()
	args := append(append([]string(nil), s.args...),
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--save", "",
		"--appendonly", "no",
		"--protected-mode", "no",
		"--loglevel", "warning",
	)
	s.cmd = exec.Command(s.bin, append(args, s.extra...)...)
	s.out.Reset()
	s.cmd.Stdout = &s.out
	s.cmd.Stderr = &s.out
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	exited := make(chan struct{})
	s.exited = exited
	go func(cmd *exec.Cmd) {
		_ = cmd.Wait()
		close(exited)
	}(s.cmd)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if s.ping() {
			return
		}
		select {
		case <-exited:
			s.cmd = nil
			s.t.Fatalf("redis-server on %s exited before answering PING:\n%s", s.Addr(), s.out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	s.t.Fatalf("redis-server on %s did not answer PING within 10s", s.Addr())
}

// ping sends an inline PING and waits for +PONG.
func (s *Server) ping() bool {
	c, err := net.DialTimeout("tcp", s.Addr(), 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// Kill stops the server at once (SIGKILL), as a crash would.
func (s *Server) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Restart starts the server again on the same port, empty.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	s.start()
}

// Do runs one command through a raw RESP connection and returns the first
// reply line; for tests that need to poke at the server directly.
func (s *Server) Do(args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

// freePort returns a free port below the kernel's ephemeral range. A port
// from that range (what listening on port 0 gives) can be taken, while the
// server is down for a Restart, as the local end of any outgoing
// connection on the machine; redis-server then cannot bind it again.
func freePort(t testing.TB) int {
	t.Helper()
	lo := ephemeralLow()
	for range 100 {
		port := minPort + rand.IntN(lo-minPort)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatalf("free port: none found in 100 tries between %d and %d", minPort, lo)
	return 0
}

// minPort is the lowest port freePort chooses.
const minPort = 10000

// ephemeralLow is the first port of the range the kernel hands out to
// outgoing connections and port-0 listeners (32768 when it cannot tell).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil || lo <= minPort+1000 {
		return 32768
	}
	return lo
}
