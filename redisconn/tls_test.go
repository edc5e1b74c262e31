package redisconn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/callscreen/callscreen/internal/citest"
)

// startRedis runs redis-server with extra arguments on a free port and
// returns host:port. It skips like internal/redistest when redis-server
// is missing and CI is unset.
func startRedis(t *testing.T, portFlag string, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		citest.Unavailable(t, "redis-server not found: install it (apt-get install -y redis-server)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	all := []string{"--bind", "127.0.0.1", "--dir", t.TempDir(), "--save", "", "--appendonly", "no", "--loglevel", "warning"}
	if portFlag != "--port" {
		all = append(all, "--port", "0")
	}
	all = append(all, portFlag, port)
	cmd := exec.Command(bin, append(all, args...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := net.JoinHostPort("127.0.0.1", port)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return addr
		}
	}
	t.Fatalf("redis-server did not listen on %s", addr)
	return ""
}

func check(t *testing.T, o Options) error {
	t.Helper()
	// Seconds, not the call path's milliseconds: what is checked is the
	// answer (accepted or refused), never how fast it comes.
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout = 10*time.Second, 10*time.Second, 10*time.Second
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return Check(ctx, c)
}

func TestPassword(t *testing.T) {
	addr := startRedis(t, "--port", "--requirepass", "s3cret")
	if err := check(t, Options{Addrs: []string{addr}, Password: "s3cret"}); err != nil {
		t.Fatalf("right password: %v", err)
	}
	if err := check(t, Options{Addrs: []string{addr}, Password: "wrong"}); err == nil {
		t.Fatal("wrong password accepted")
	}
	if err := check(t, Options{Addrs: []string{addr}}); err == nil {
		t.Fatal("no password accepted")
	}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := newCert(t, nil, nil, dir, "ca")
	newCert(t, ca, caKey, dir, "server")
	addr := startRedis(t, "--tls-port",
		"--tls-cert-file", filepath.Join(dir, "server.pem"),
		"--tls-key-file", filepath.Join(dir, "server-key.pem"),
		"--tls-ca-cert-file", filepath.Join(dir, "ca.pem"),
		"--tls-auth-clients", "no")
	caFile := filepath.Join(dir, "ca.pem")
	if err := check(t, Options{Addrs: []string{addr}, TLS: true, TLSCAFile: caFile}); err != nil {
		t.Fatalf("TLS with our CA: %v", err)
	}
	if err := check(t, Options{Addrs: []string{addr}, TLS: true}); err == nil {
		t.Fatal("TLS against the system roots accepted a private CA")
	}
	if err := check(t, Options{Addrs: []string{addr}, TLS: true, TLSCAFile: caFile, TLSServerName: "redis.example"}); err == nil {
		t.Fatal("TLS accepted a certificate for another name")
	}
	if err := check(t, Options{Addrs: []string{addr}}); err == nil {
		t.Fatal("plain text to a TLS port succeeded")
	}
}

// newCert writes name.pem and name-key.pem: a CA when parent is nil, else
// a server certificate for 127.0.0.1 signed by parent.
func newCert(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, dir, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "callscreen test " + name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign
		parent, parentKey = tmpl, key
	} else {
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(file, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, file), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(name+".pem", "CERTIFICATE", der)
	write(name+"-key.pem", "EC PRIVATE KEY", kb)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}
