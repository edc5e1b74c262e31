package deploy

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/callscreen/callscreen/config"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd, args string
	stage     int // 0 for instructions before the first FROM
}

func parseDockerfile(t *testing.T) []instruction {
	t.Helper()
	f, err := os.Open(filepath.Join(root(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	stage := 0
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		cur.Reset()
		cmd = strings.ToUpper(cmd)
		if cmd == "FROM" {
			stage++
		}
		out = append(out, instruction{cmd, strings.Join(strings.Fields(args), " "), stage})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func find(ins []instruction, cmd string, stage int) []instruction {
	var out []instruction
	for _, i := range ins {
		if i.cmd == cmd && (stage < 0 || i.stage == stage) {
			out = append(out, i)
		}
	}
	return out
}

// TestDockerfile checks the image's promises: multi-stage, a static
// binary, a pinned base, a non-root user, a health check on /healthz.
func TestDockerfile(t *testing.T) {
	ins := parseDockerfile(t)
	froms := find(ins, "FROM", -1)
	if len(froms) < 2 {
		t.Fatalf("%d stages, want a build stage and a runtime stage", len(froms))
	}
	final := len(froms)

	// The Go version of the build stage is go.mod's.
	gomod := readFile(t, filepath.Join(root(t), "go.mod"))
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod: no go directive")
	}
	var goVersion string
	for _, a := range find(ins, "ARG", 0) {
		if v, ok := strings.CutPrefix(a.args, "GO_VERSION="); ok {
			goVersion = v
		}
	}
	if goVersion != m[1] || !strings.HasPrefix(froms[0].args, "golang:${GO_VERSION}") {
		t.Errorf("build stage FROM %q with GO_VERSION %q; want golang:${GO_VERSION} with go.mod's %s", froms[0].args, goVersion, m[1])
	}
	var build string
	for _, r := range find(ins, "RUN", 1) {
		if strings.Contains(r.args, "go build") {
			build = r.args
		}
	}
	for _, want := range []string{"CGO_ENABLED=0 go build", "-trimpath", "./cmd/callscreen", "-X main.version="} {
		if !strings.Contains(build, want) {
			t.Errorf("build RUN %q lacks %q", build, want)
		}
	}

	base := froms[final-1].args
	if !regexp.MustCompile(`^busybox:\d+\.\d+(\.\d+)?-musl$`).MatchString(base) {
		t.Errorf("runtime base %q: want a pinned busybox (its wget runs the health check)", base)
	}
	users := find(ins, "USER", final)
	if len(users) == 0 {
		t.Fatal("runtime stage has no USER: it would run as root")
	}
	if u := users[len(users)-1].args; u == "root" || u == "0" || strings.HasPrefix(u, "0:") || strings.HasPrefix(u, "root:") {
		t.Errorf("USER %s: want an unprivileged user", u)
	}
	if ep := find(ins, "ENTRYPOINT", final); len(ep) != 1 || ep[0].args != `["/usr/local/bin/callscreen"]` {
		t.Errorf("ENTRYPOINT %v, want the binary", ep)
	}
	var copied bool
	for _, c := range find(ins, "COPY", final) {
		if strings.HasPrefix(c.args, "--from=build ") && strings.HasSuffix(c.args, " /usr/local/bin/callscreen") {
			copied = true
		}
	}
	if !copied {
		t.Error("runtime stage does not COPY the binary from the build stage")
	}

	// The ENV defaults load as a configuration, and the exposed ports are
	// the listeners'.
	clearCallscreenEnv(t)
	for _, e := range find(ins, "ENV", final) {
		for _, kv := range strings.Fields(e.args) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("ENV %q: want KEY=VALUE", e.args)
			}
			t.Setenv(k, v)
		}
	}
	cfg, err := config.Load("")
	if err != nil {
		t.Fatalf("the image's ENV defaults do not load: %v", err)
	}
	exposed := strings.Fields(find(ins, "EXPOSE", final)[0].args)
	for _, l := range []string{cfg.AGI.Listen, cfg.Admin.Listen} {
		if !slices.Contains(exposed, port(t, l)) {
			t.Errorf("EXPOSE %v lacks the listener %s", exposed, l)
		}
	}
	if hc := find(ins, "HEALTHCHECK", final); len(hc) != 1 || !strings.Contains(hc[0].args, "/healthz") {
		t.Errorf("HEALTHCHECK %v: want one, on /healthz", hc)
	}
}

// TestHealthcheckCommand runs the image's HEALTHCHECK command with the
// machine's sh and wget against a /healthz that is up, one that fails, and
// none at all.
func TestHealthcheckCommand(t *testing.T) {
	sh := needTool(t, "sh")
	needTool(t, "wget")
	script := healthcheckScript(t)

	var status atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(int(status.Load()))
		io.WriteString(w, "ok\n")
	}))
	defer srv.Close()
	_, p, _ := net.SplitHostPort(srv.Listener.Addr().String())

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, deadPort, _ := net.SplitHostPort(closed.Addr().String())
	closed.Close()

	tests := []struct {
		name   string
		listen string
		status int
		ok     bool
	}{
		{"up", "0.0.0.0:" + p, http.StatusOK, true},
		{"up on loopback", "127.0.0.1:" + p, http.StatusOK, true},
		{"unhealthy", "0.0.0.0:" + p, http.StatusServiceUnavailable, false},
		{"nothing listening", "0.0.0.0:" + deadPort, http.StatusOK, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status.Store(int32(tt.status))
			cmd := exec.Command(sh, "-c", script)
			cmd.Env = append(cleanEnv(), "CALLSCREEN_ADMIN_LISTEN="+tt.listen)
			out, err := cmd.CombinedOutput()
			if (err == nil) != tt.ok {
				t.Errorf("health check: err %v (output %q), want ok=%v", err, out, tt.ok)
			}
		})
	}
}

// healthcheckScript is the shell command of the image's HEALTHCHECK.
func healthcheckScript(t *testing.T) string {
	t.Helper()
	hc := find(parseDockerfile(t), "HEALTHCHECK", -1)
	if len(hc) != 1 {
		t.Fatal("want one HEALTHCHECK")
	}
	_, script, ok := strings.Cut(hc[0].args, "CMD ")
	if !ok || strings.HasPrefix(script, "[") {
		t.Fatalf("HEALTHCHECK %q: want a shell-form CMD", hc[0].args)
	}
	return script
}

// TestDockerignore: the build context keeps every file `go build
// ./cmd/callscreen` reads.
func TestDockerignore(t *testing.T) {
	patterns := readDockerignore(t)
	r := root(t)
	cmd := exec.Command("go", "list", "-deps", "-json", "./cmd/callscreen")
	cmd.Dir = r
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	needed := []string{"go.mod", "go.sum"}
	for dec.More() {
		var p struct {
			Dir        string
			Module     *struct{ Path string }
			GoFiles    []string
			EmbedFiles []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if p.Module == nil || p.Module.Path != "github.com/callscreen/callscreen" {
			continue
		}
		rel, err := filepath.Rel(r, p.Dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range append(slices.Clone(p.GoFiles), p.EmbedFiles...) {
			needed = append(needed, filepath.ToSlash(filepath.Join(rel, f)))
		}
	}
	if len(needed) < 10 {
		t.Fatalf("go list found only %v", needed)
	}
	for _, f := range needed {
		if pat := ignoredBy(patterns, f); pat != "" {
			t.Errorf(".dockerignore pattern %q excludes %s, which the build needs", pat, f)
		}
	}
	for _, f := range []string{".env", ".git/config", "bin/callscreen", "deploy/asterisk/start.sh"} {
		if ignoredBy(patterns, f) == "" {
			t.Errorf(".dockerignore lets %s into the build context", f)
		}
	}
}

func readDockerignore(t *testing.T) []string {
	t.Helper()
	var pats []string
	for _, line := range strings.Split(readFile(t, filepath.Join(root(t), ".dockerignore")), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "!") {
			t.Fatalf(".dockerignore: exceptions (%q) are not checked here", line)
		}
		pats = append(pats, strings.TrimPrefix(line, "/"))
	}
	return pats
}

// ignoredBy returns the pattern that excludes path (slash-separated,
// relative to the context), or "". As in Docker, a pattern matching a
// directory excludes everything under it; "**/" matches any depth.
func ignoredBy(patterns []string, path string) string {
	parts := strings.Split(path, "/")
	for _, pat := range patterns {
		anyDepth := strings.HasPrefix(pat, "**/")
		p := strings.TrimPrefix(pat, "**/")
		for end := 1; end <= len(parts); end++ {
			starts := []int{0}
			if anyDepth {
				starts = starts[:0]
				for s := 0; s < end; s++ {
					starts = append(starts, s)
				}
			}
			for _, s := range starts {
				if ok, _ := filepath.Match(p, strings.Join(parts[s:end], "/")); ok {
					return pat
				}
			}
		}
	}
	return ""
}
