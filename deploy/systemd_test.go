package deploy

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/config"
	"github.com/callscreen/callscreen/internal/citest"
)

// unitFile is a parsed systemd unit: section → key → values in order.
type unitFile map[string]map[string][]string

func parseUnit(t *testing.T, path string) unitFile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" || strings.HasSuffix(line, "\\") {
				t.Fatalf("%s:%d: want Key=Value in a section, got %q", path, n, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

// last is the value in force: the last assignment of key in section.
func (u unitFile) last(section, key string) (string, bool) {
	vs := u[section][key]
	if len(vs) == 0 {
		return "", false
	}
	return vs[len(vs)-1], true
}

func unitPath(t *testing.T) string {
	return filepath.Join(root(t), "deploy", "systemd", "callscreen.service")
}

// TestUnitHardening reads the unit for the settings its hardening rests on.
// It runs everywhere; TestUnitVerify adds systemd's own view where
// systemd-analyze is installed.
func TestUnitHardening(t *testing.T) {
	u := parseUnit(t, unitPath(t))
	want := map[string]string{
		"DynamicUser":             "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"NoNewPrivileges":         "yes",
		"CapabilityBoundingSet":   "",
		"AmbientCapabilities":     "",
		"StateDirectory":          "callscreen",
		"ReadWritePaths":          "/var/lib/callscreen",
		"ExecReload":              "/bin/kill -HUP $MAINPID",
		"Restart":                 "on-failure",
		"Type":                    "notify",
		"NotifyAccess":            "main",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"ProtectKernelTunables":   "yes",
		"ProtectKernelModules":    "yes",
		"ProtectKernelLogs":       "yes",
		"ProtectControlGroups":    "yes",
		"ProtectClock":            "yes",
		"ProtectHostname":         "yes",
		"RestrictNamespaces":      "yes",
		"RestrictRealtime":        "yes",
		"RestrictSUIDSGID":        "yes",
		"LockPersonality":         "yes",
		"MemoryDenyWriteExecute":  "yes",
		"SystemCallArchitectures": "native",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
	}
	for k, v := range want {
		got, ok := u.last("Service", k)
		if !ok || got != v {
			t.Errorf("[Service] %s=%q (set %v), want %q", k, got, ok, v)
		}
	}
	if got := u["Service"]["SystemCallFilter"]; len(got) == 0 || got[0] != "@system-service" {
		t.Errorf("SystemCallFilter %q: want @system-service first", got)
	}
	if got := u["Service"]["ReadWritePaths"]; len(got) != 1 {
		t.Errorf("ReadWritePaths %q: want the state directory only", got)
	}
	// The state directory is where callscreen keeps its data.
	var dataDir string
	for _, e := range u["Service"]["Environment"] {
		if v, ok := strings.CutPrefix(e, "CALLSCREEN_DATA_DIR="); ok {
			dataDir = v
		}
	}
	if sd, _ := u.last("Service", "StateDirectory"); dataDir != "/var/lib/"+sd {
		t.Errorf("CALLSCREEN_DATA_DIR=%q, want the state directory /var/lib/%s", dataDir, sd)
	}
	// The commands run on the host (lists, report, feed) read the example
	// configuration, not the unit's environment: it must name the same
	// directory, or with the service stopped they would write elsewhere.
	clearCallscreenEnv(t)
	example, err := config.Load(filepath.Join(root(t), "deploy", "systemd", "callscreen.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if example.DataDir != dataDir {
		t.Errorf("deploy/systemd/callscreen.yaml: data_dir %q; the unit's is %q", example.DataDir, dataDir)
	}
	if _, ok := strings.CutPrefix(example.Admin.Listen, "127.0.0.1:"); !ok || strings.HasSuffix(example.Admin.Listen, ":0") {
		t.Errorf("deploy/systemd/callscreen.yaml: admin.listen %q: want a fixed loopback port the commands can reach", example.Admin.Listen)
	}
	// It runs the configuration make install puts in place, checks it
	// first, and waits longer on stop than callscreen's shutdown_timeout.
	for _, k := range []string{"ExecStart", "ExecStartPre"} {
		v, _ := u.last("Service", k)
		if !strings.HasPrefix(v, "/usr/local/bin/callscreen serve --config /etc/callscreen/callscreen.yaml") {
			t.Errorf("%s=%q", k, v)
		}
	}
	if v, _ := u.last("Service", "ExecStartPre"); !strings.HasSuffix(v, " --check-config") {
		t.Errorf("ExecStartPre=%q: want --check-config", v)
	}
	clearCallscreenEnv(t)
	defaults, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	stop, _ := u.last("Service", "TimeoutStopSec")
	d, err := time.ParseDuration(stop)
	if err != nil || d <= defaults.ShutdownTimeout {
		t.Errorf("TimeoutStopSec=%q: want more than shutdown_timeout %s", stop, defaults.ShutdownTimeout)
	}
	// The watchdog bounds how long a wedged callscreen holds calls: a
	// few seconds, never longer than a caller would wait for a ring.
	wd, _ := u.last("Service", "WatchdogSec")
	if d, err := time.ParseDuration(wd); err != nil || d < 4*time.Second || d > 30*time.Second {
		t.Errorf("WatchdogSec=%q: want 4s to 30s (callscreen probes every WatchdogSec/4)", wd)
	}
	if v, _ := u.last("Install", "WantedBy"); v != "multi-user.target" {
		t.Errorf("WantedBy=%q", v)
	}
}

// installTo runs scripts/install with every directory under dir and no
// DESTDIR, so the installed unit names real paths.
func installTo(t *testing.T, dir, bin string, extra ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(root(t), "scripts", "install"))
	cmd.Env = append(cleanEnv("DESTDIR=", "PREFIX=", "BINDIR=", "SYSCONFDIR=", "CONFDIR=", "ASTERISKCONFDIR=", "SOUNDSDIR=", "UNITDIR=", "BIN="),
		"PREFIX="+dir+"/usr/local", "SYSCONFDIR="+dir+"/etc", "SOUNDSDIR="+dir+"/var/lib/asterisk/sounds/en/callscreen", "BIN="+bin)
	cmd.Env = append(cmd.Env, extra...)
	return cmd.CombinedOutput()
}

// TestUnitVerify installs the unit with real paths and has systemd check
// it: systemd-analyze verify must say nothing at all, and the offline
// security review must rate its exposure low.
func TestUnitVerify(t *testing.T) {
	sa := needTool(t, "systemd-analyze")
	dir := t.TempDir()
	// A stand-in binary: verify only needs an executable at ExecStart.
	bin := filepath.Join(dir, "callscreen-build")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := installTo(t, dir, bin); err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	unit := filepath.Join(dir, "etc", "systemd", "system", "callscreen.service")
	if got := readFile(t, unit); !strings.Contains(got, "ExecStart="+dir+"/usr/local/bin/callscreen serve --config "+dir+"/etc/callscreen/callscreen.yaml") {
		t.Fatalf("installed unit does not name the installed paths:\n%s", got)
	}
	cmd := exec.Command(sa, "verify", unit)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || out.Len() != 0 {
		t.Errorf("systemd-analyze verify: err %v\n%s", err, out.String())
	}

	sec, err := exec.Command(sa, "security", "--offline=true", unit).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(sec)
	if m == nil {
		citest.Unavailable(t, "systemd-analyze security --offline gave no rating (err %v)\n%s", err, sec)
	}
	level, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("systemd-analyze security exposure: %.1f", level)
	if level > 2.0 {
		t.Errorf("exposure %.1f, want at most 2.0 (the unit lost hardening):\n%s", level, sec)
	}
}
