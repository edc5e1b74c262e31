package deploy

import (
	"bytes"
	"context"
	"debug/elf"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestMakeInstall runs `make install DESTDIR=...` (which builds first) and
// checks the staged tree file by file, then that the installed binary is
// static and accepts the installed configuration.
func TestMakeInstall(t *testing.T) {
	mk := needTool(t, "make")
	dest := t.TempDir()
	cmd := exec.Command(mk, "install", "DESTDIR="+dest)
	cmd.Dir = root(t)
	cmd.Env = cleanEnv("DESTDIR=", "PREFIX=", "BINDIR=", "SYSCONFDIR=", "CONFDIR=", "ASTERISKCONFDIR=", "SOUNDSDIR=", "UNITDIR=", "BIN=", "MAKEFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}

	r := root(t)
	want := map[string]struct {
		mode fs.FileMode
		from string // repository file with the same bytes, "" to skip
	}{
		"usr/local/bin/callscreen":              {0o755, ""},
		"etc/callscreen/callscreen.yaml":        {0o644, "deploy/systemd/callscreen.yaml"},
		"etc/callscreen/callscreen.env":         {0o600, "deploy/systemd/callscreen.env"},
		"etc/asterisk/callscreen.conf":          {0o644, "dialplan/callscreen.conf"},
		"etc/asterisk/callscreen-ari.conf":      {0o644, "dialplan/callscreen-ari.conf"},
		"etc/systemd/system/callscreen.service": {0o644, "deploy/systemd/callscreen.service"},
	}
	sounds := filepath.Join(r, "sounds", "en", "callscreen")
	prompts := 0
	err := filepath.WalkDir(sounds, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(r, p)
		in, _ := filepath.Rel(sounds, p)
		want["var/lib/asterisk/sounds/en/callscreen/"+filepath.ToSlash(in)] = struct {
			mode fs.FileMode
			from string
		}{0o644, rel}
		prompts++
		return nil
	})
	if err != nil || prompts < 45 {
		t.Fatalf("%d prompt files in sounds/en/callscreen, want the prompts, ten digits and the beep in three formats (%v)", prompts, err)
	}

	var got []string
	err = filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dest, p)
		got = append(got, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	for _, rel := range got {
		w, ok := want[rel]
		if !ok {
			t.Errorf("make install put an unexpected file %s", rel)
			continue
		}
		fi, err := os.Stat(filepath.Join(dest, rel))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != w.mode {
			t.Errorf("%s: mode %v, want %v", rel, fi.Mode().Perm(), w.mode)
		}
		if w.from != "" && !bytes.Equal([]byte(readFile(t, filepath.Join(dest, rel))), []byte(readFile(t, filepath.Join(r, w.from)))) {
			t.Errorf("%s differs from %s", rel, w.from)
		}
	}
	for rel := range want {
		if _, err := os.Stat(filepath.Join(dest, rel)); err != nil {
			t.Errorf("make install did not install %s", rel)
		}
	}

	bin := filepath.Join(dest, "usr", "local", "bin", "callscreen")
	checkStatic(t, bin)
	clearCallscreenEnv(t)
	if out, err := exec.Command(bin, "version").CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "callscreen ") {
		t.Errorf("callscreen version: %v %q", err, out)
	}
	conf := filepath.Join(dest, "etc", "callscreen", "callscreen.yaml")
	// With the unit's environment: its state directory, here a temporary
	// one (the check asks that this user can write it).
	check := exec.Command(bin, "serve", "--config", conf, "--check-config")
	check.Env = append(cleanEnv(), "CALLSCREEN_DATA_DIR="+t.TempDir())
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("the installed example configuration does not pass --check-config: %v\n%s", err, out)
	}

	t.Run("healthcheck against the real server", func(t *testing.T) {
		healthcheckRealServer(t, bin)
	})

	// A second install keeps an edited configuration and replaces the rest.
	edited := "# edited\nmode: monitor\n"
	if err := os.WriteFile(conf, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dest, "etc", "asterisk", "callscreen.conf")
	if err := os.WriteFile(stale, []byte("; old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(filepath.Join(r, "scripts", "install"))
	cmd.Env = append(cleanEnv("DESTDIR=", "PREFIX=", "BIN="), "DESTDIR="+dest, "BIN="+filepath.Join(r, "bin", "callscreen"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("second install: %v\n%s", err, out)
	}
	if readFile(t, conf) != edited || !strings.Contains(string(out), "callscreen.yaml exists: kept") {
		t.Errorf("second install replaced the edited configuration:\n%s", out)
	}
	if readFile(t, stale) != readFile(t, filepath.Join(r, "dialplan", "callscreen.conf")) {
		t.Error("second install left an old dialplan include in place")
	}
}

// checkStatic fails unless path is an ELF executable with no interpreter
// and no shared libraries: what CGO_ENABLED=0 promises the container.
func checkStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has an ELF interpreter: not a static binary", path)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v", path, libs)
	}
}

// TestInstallPaths: PREFIX and the directory variables move every file, and
// the unit follows the binary and the configuration.
func TestInstallPaths(t *testing.T) {
	dest := t.TempDir()
	bin := filepath.Join(t.TempDir(), "callscreen")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(root(t), "scripts", "install"))
	cmd.Env = append(cleanEnv("DESTDIR=", "PREFIX=", "BINDIR=", "SYSCONFDIR=", "CONFDIR=", "ASTERISKCONFDIR=", "SOUNDSDIR=", "UNITDIR=", "BIN="),
		"DESTDIR="+dest, "PREFIX=/usr", "CONFDIR=/etc/pbx/callscreen", "SOUNDSDIR=/usr/share/asterisk/sounds/en/callscreen",
		"UNITDIR=/usr/lib/systemd/system", "BIN="+bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	for _, rel := range []string{
		"usr/bin/callscreen",
		"etc/pbx/callscreen/callscreen.yaml",
		"etc/asterisk/callscreen.conf",
		"usr/share/asterisk/sounds/en/callscreen/intro.ulaw",
		"usr/lib/systemd/system/callscreen.service",
	} {
		if _, err := os.Stat(filepath.Join(dest, rel)); err != nil {
			t.Errorf("%s: %v", rel, err)
		}
	}
	u := parseUnit(t, filepath.Join(dest, "usr", "lib", "systemd", "system", "callscreen.service"))
	if v, _ := u.last("Service", "ExecStart"); v != "/usr/bin/callscreen serve --config /etc/pbx/callscreen/callscreen.yaml" {
		t.Errorf("ExecStart=%q", v)
	}
	if v, _ := u.last("Service", "EnvironmentFile"); v != "-/etc/pbx/callscreen/callscreen.env" {
		t.Errorf("EnvironmentFile=%q", v)
	}
}

func TestInstallRefuses(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		wantErr string
	}{
		{"relative directory", []string{"SOUNDSDIR=sounds"}, "want an absolute path"},
		{"shell characters", []string{"PREFIX=/usr/local;rm"}, "no spaces or shell characters"},
		{"no binary", []string{"BIN=/nonexistent/callscreen"}, "make build"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dest := t.TempDir()
			cmd := exec.Command(filepath.Join(root(t), "scripts", "install"))
			cmd.Env = append(cleanEnv("DESTDIR=", "PREFIX=", "SOUNDSDIR=", "BIN="), "DESTDIR="+dest, "BIN=/bin/sh")
			cmd.Env = append(cmd.Env, tt.env...)
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), tt.wantErr) {
				t.Fatalf("install: err %v, output %q; want a failure saying %q", err, out, tt.wantErr)
			}
			if entries, _ := os.ReadDir(dest); len(entries) != 0 {
				t.Errorf("install wrote %d entries before refusing", len(entries))
			}
		})
	}
}

// healthcheckRealServer starts the installed binary with the container's
// ENV defaults (on free loopback ports, a temporary data directory) and
// runs the image's HEALTHCHECK command until it passes; then stops it and
// checks the command fails.
func healthcheckRealServer(t *testing.T, bin string) {
	sh := needTool(t, "sh")
	needTool(t, "wget")
	script := healthcheckScript(t)
	free := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	admin, agi := free(), free()
	env := append(cleanEnv(), "CALLSCREEN_AGI_LISTEN="+agi, "CALLSCREEN_ADMIN_LISTEN="+admin,
		"CALLSCREEN_DATA_DIR="+t.TempDir(), "CALLSCREEN_LOG_FORMAT=json")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := exec.CommandContext(ctx, bin, "serve")
	srv.Env = env
	var logs bytes.Buffer
	srv.Stdout, srv.Stderr = &logs, &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	check := func() error {
		cmd := exec.Command(sh, "-c", script)
		cmd.Env = append(cleanEnv(), "CALLSCREEN_ADMIN_LISTEN="+admin)
		return cmd.Run()
	}
	healthy := false
	for !healthy && ctx.Err() == nil {
		select {
		case err := <-done:
			t.Fatalf("callscreen serve exited: %v\n%s", err, logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		healthy = check() == nil
	}
	if !healthy {
		t.Fatalf("the HEALTHCHECK never passed against callscreen serve on %s\n%s", admin, logs.String())
	}
	srv.Process.Signal(os.Interrupt)
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("callscreen serve did not stop on SIGINT\n%s", logs.String())
	}
	if check() == nil {
		t.Error("the HEALTHCHECK passes with callscreen stopped")
	}
}
