package mariadbtest

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/callscreen/callscreen/internal/citest"
)

// Server is a running mariadbd.
type Server struct {
	t      testing.TB
	dir    string
	port   int
	cmd    *exec.Cmd
	exited chan struct{}
	out    bytes.Buffer
}

// lookPath finds a MariaDB program on the PATH or in /usr/sbin and
// /usr/bin (a login shell of a non-root user may lack /usr/sbin).
func lookPath(names ...string) (string, error) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
		for _, d := range []string{"/usr/sbin", "/usr/bin"} {
			p := filepath.Join(d, n)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("none of %v found", names)
}

// Start initialises a data directory, starts mariadbd on a free loopback
// port and waits until it answers. It stops the server when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	server, err := lookPath("mariadbd", "mysqld")
	install, err2 := lookPath("mariadb-install-db", "mysql_install_db")
	if err != nil || err2 != nil {
		citest.Unavailable(t, "mariadbd or mariadb-install-db not found; install them (apt-get install -y mariadb-server) to run the database paths")
	}
	// A short directory: the socket path must fit in 108 bytes.
	dir, err := os.MkdirTemp("", "mdb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	s := &Server{t: t, dir: dir, port: freePort(t)}
	// Its own temporary directory: servers started by test packages that
	// run at the same time share nothing in /tmp (a bootstrap failed with
	// "Could not remove temporary table '/tmp/#sql-temptable-…'").
	if err := os.Mkdir(s.path("tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	args := []string{"--no-defaults", "--datadir=" + s.path("data"), "--tmpdir=" + s.path("tmp"), "--auth-root-authentication-method=normal", "--skip-test-db"}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, install, args...).CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	args = []string{
		"--no-defaults", "--datadir=" + s.path("data"), "--tmpdir=" + s.path("tmp"), "--socket=" + s.Socket(), "--pid-file=" + s.path("mariadbd.pid"),
		"--port=" + strconv.Itoa(s.port), "--bind-address=127.0.0.1", "--skip-name-resolve", "--skip-log-bin",
		"--innodb-buffer-pool-size=16M", "--log-error=" + s.path("error.log"),
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	s.cmd = exec.Command(server, args...)
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start mariadbd: %v", err)
	}
	exited := make(chan struct{})
	s.exited = exited
	go func(cmd *exec.Cmd) {
		_ = cmd.Wait()
		close(exited)
	}(s.cmd)
	t.Cleanup(s.Stop)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if s.ping() == nil {
			return s
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(s.path("error.log"))
			t.Fatalf("mariadbd exited before answering:\n%s\n%s", s.out.String(), log)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("mariadbd on %s did not answer within 60s: %v", s.Addr(), s.ping())
	return nil
}

func (s *Server) path(name string) string { return filepath.Join(s.dir, name) }

// Socket is the server's Unix socket.
func (s *Server) Socket() string { return s.path("mariadbd.sock") }

// Addr is host:port of the server.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// RootDSN is a DSN for root over the socket, on database db ("" none).
func (s *Server) RootDSN(db string) string {
	c := mysql.NewConfig()
	c.User, c.Net, c.Addr, c.DBName = "root", "unix", s.Socket(), db
	c.MultiStatements = true
	return c.FormatDSN()
}

func (s *Server) ping() error {
	db, err := sql.Open("mysql", s.RootDSN(""))
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// Exec runs SQL statements as root (several per string allowed).
func (s *Server) Exec(stmts ...string) {
	s.t.Helper()
	db, err := sql.Open("mysql", s.RootDSN(""))
	if err != nil {
		s.t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			s.t.Fatalf("mariadb: %v\n%s", err, q)
		}
	}
}

// Stop stops the server (SIGTERM, then SIGKILL after 20 s).
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// freePort returns a loopback port nobody listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
