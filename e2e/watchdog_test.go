package e2e

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSystemdWatchdog runs serve as systemd would with Type=notify and
// WatchdogSec=: NOTIFY_SOCKET and WATCHDOG_USEC set. READY=1 comes once
// serve answers its own probe, WATCHDOG=1 keeps coming, the probes are
// not screened calls, and SIGTERM brings STOPPING=1.
func TestSystemdWatchdog(t *testing.T) {
	dir, err := os.MkdirTemp("", "sdn")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "notify")
	sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	next := func() string {
		t.Helper()
		buf := make([]byte, 4096)
		_ = sock.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, err := sock.Read(buf)
		if err != nil {
			t.Fatalf("no notification: %v", err)
		}
		return string(buf[:n])
	}
	waitFor := func(want string) {
		t.Helper()
		for !strings.Contains(next(), want) {
		}
	}

	p := startServe(t, "", nil, "NOTIFY_SOCKET="+path, "WATCHDOG_USEC=800000")
	waitFor("READY=1")
	for range 3 {
		waitFor("WATCHDOG=1")
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + p.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(body), "callscreen_screen_decisions_total{") {
		t.Errorf("the watchdog's probes were screened as calls:\n%s", body)
	}
	p.signal(t, syscall.SIGTERM)
	waitFor("STOPPING=1")
	p.stop(t)
	for _, e := range p.logs.errors() {
		t.Errorf("error logged: %s", e)
	}
}
