package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/callscreen/callscreen/config"
)

// TestComposeFilesExist: every file or directory the compose file mounts or
// builds from is in the repository, every named volume is declared.
func TestComposeFilesExist(t *testing.T) {
	c, _ := loadCompose(t)
	for name, s := range c.Services {
		for _, m := range s.mounts(t) {
			t.Run(name+":"+m.Target, func(t *testing.T) {
				if !m.Bind {
					if _, ok := c.Volumes[m.Source]; !ok {
						t.Errorf("service %s mounts volume %q, which the top-level volumes: do not declare", name, m.Source)
					}
					return
				}
				if _, err := os.Stat(filepath.Join(root(t), m.Source)); err != nil {
					t.Errorf("service %s mounts %s: %v", name, m.Source, err)
				}
				if !m.ReadOnly {
					t.Errorf("service %s mounts %s from the repository read-write; want :ro", name, m.Source)
				}
			})
		}
		if s.Build != nil {
			df := filepath.Join(root(t), s.Build.Context, s.Build.Dockerfile)
			if s.Build.Dockerfile == "" {
				df = filepath.Join(root(t), s.Build.Context, "Dockerfile")
			}
			if _, err := os.Stat(df); err != nil {
				t.Errorf("service %s builds from %v", name, err)
			}
		}
	}
}

// TestComposeEnvExample: .env.example sets every variable the compose file
// reads and nothing it does not, and .env stays out of git.
func TestComposeEnvExample(t *testing.T) {
	env, err := readDotEnv(filepath.Join(root(t), ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	_, used, err := interpolate(readFile(t, filepath.Join(root(t), "docker-compose.yml")), env)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range used {
		if _, ok := env[name]; !ok {
			t.Errorf("docker-compose.yml reads ${%s}, which .env.example does not list", name)
		}
	}
	for name := range env {
		if !slices.Contains(used, name) {
			t.Errorf(".env.example sets %s, which docker-compose.yml never reads", name)
		}
	}
	// The required secrets really are required: without a .env the
	// interpolation fails, naming one.
	if _, _, err := interpolate(readFile(t, filepath.Join(root(t), "docker-compose.yml")), map[string]string{}); err == nil {
		t.Error("docker-compose.yml interpolates with no variables set; want the secrets required (${NAME:?...})")
	}
	if git, err := exec.LookPath("git"); err == nil {
		cmd := exec.Command(git, "check-ignore", "-q", ".env")
		cmd.Dir = root(t)
		if err := cmd.Run(); err != nil {
			t.Error(".env is not ignored by git: add it to .gitignore")
		}
	}
}

// TestComposeWiring: what one service is told about another matches what
// the other does.
func TestComposeWiring(t *testing.T) {
	c, env := loadCompose(t)
	cs, ast := c.Services["callscreen"], c.Services["asterisk"]
	want := map[string]string{
		"CALLSCREEN_REDIS_ADDRS":  "redis:6379",
		"CALLSCREEN_AGI_LISTEN":   "0.0.0.0:4573",
		"CALLSCREEN_ADMIN_LISTEN": "0.0.0.0:8089",
		"CALLSCREEN_ADMIN_TOKEN":  env["CALLSCREEN_ADMIN_TOKEN"],
		"CALLSCREEN_CONFIG":       "/etc/callscreen/callscreen.yaml",
	}
	for k, v := range want {
		if got := cs.Environment[k]; got != v {
			t.Errorf("callscreen %s = %q, want %q", k, got, v)
		}
	}
	if cs.Environment["CALLSCREEN_REDIS_PASSWORD"] != env["REDIS_PASSWORD"] || c.Services["redis"].Environment["REDIS_PASSWORD"] != env["REDIS_PASSWORD"] {
		t.Error("callscreen and redis do not share REDIS_PASSWORD")
	}
	if cs.Environment["ARI_PASSWORD"] != ast.Environment["ARI_PASSWORD"] || cs.Environment["ARI_PASSWORD"] == "" {
		t.Error("callscreen and asterisk do not share the ARI password")
	}
	if got := cs.mountFor(t, cs.Environment["CALLSCREEN_CONFIG"]).Source; got != "./deploy/asterisk/callscreen.yaml" {
		t.Errorf("callscreen's configuration comes from %s", got)
	}
	if !slices.Contains(cs.Ports, "127.0.0.1:8089:8089") {
		t.Errorf("callscreen ports %v: want the admin port published on 127.0.0.1 only", cs.Ports)
	}
	for _, p := range cs.Ports {
		if strings.Contains(p, "4573") {
			t.Errorf("callscreen publishes FastAGI (%s): Asterisk reaches it on the compose network", p)
		}
	}
	if u := c.Services["redis"].User; u == "" || u == "root" || u == "0" {
		t.Errorf("redis runs as %q: its shell command bypasses the image's switch to the redis user", u)
	}
	if !cs.ReadOnly || !slices.Contains(cs.CapDrop, "ALL") {
		t.Error("callscreen: want read_only and cap_drop ALL")
	}
	// The ARI password file the entrypoint writes is the one the
	// configuration names, on the tmpfs.
	entry := strings.Join(cs.Entrypoint, " ")
	if !strings.Contains(entry, "/run/callscreen/ari_password") || !strings.Contains(entry, "exec /usr/local/bin/callscreen serve") {
		t.Errorf("callscreen entrypoint %q: want it to write /run/callscreen/ari_password and exec callscreen serve", entry)
	}
	if !slices.ContainsFunc(cs.Tmpfs, func(s string) bool {
		return strings.HasPrefix(s, "/run/callscreen:") && strings.Contains(s, "uid=65532")
	}) {
		t.Errorf("callscreen tmpfs %v: want /run/callscreen owned by the image's user 65532", cs.Tmpfs)
	}

	// Asterisk: the dialplan includes, the prompts, the start script.
	for target, source := range map[string]string{
		"/etc/asterisk/callscreen.conf":            "./dialplan/callscreen.conf",
		"/etc/asterisk/callscreen-ari.conf":        "./dialplan/callscreen-ari.conf",
		"/var/lib/asterisk/sounds/en/callscreen":   "./sounds/en/callscreen",
		"/usr/local/bin/callscreen-asterisk-start": "./deploy/asterisk/start.sh",
		"/etc/asterisk/extensions.conf":            "./deploy/asterisk/extensions.conf",
	} {
		if got := ast.mountFor(t, target).Source; got != source {
			t.Errorf("asterisk mounts %s at %s, want %s", got, target, source)
		}
	}
	if len(ast.Command) < 2 || ast.Command[len(ast.Command)-1] != "/usr/local/bin/callscreen-asterisk-start" {
		t.Errorf("asterisk command %q: want the start script", ast.Command)
	}
	// The image is the one deploy/README.md says it was written for.
	readme := readFile(t, filepath.Join(root(t), "deploy", "README.md"))
	if !strings.HasPrefix(ast.Image, "andrius/asterisk:22.") || !strings.Contains(readme, "`"+ast.Image+"`") {
		t.Errorf("asterisk image %q: want an Asterisk 22 tag that deploy/README.md names", ast.Image)
	}
	for _, img := range []string{c.Services["redis"].Image, ast.Image} {
		if strings.HasSuffix(img, ":latest") || !strings.Contains(img, ":") {
			t.Errorf("image %q: pin a tag", img)
		}
	}
}

// TestComposeCallscreenConfigLoads loads the configuration the callscreen
// service runs with: its file and its environment, through config.Load.
func TestComposeCallscreenConfigLoads(t *testing.T) {
	c, env := loadCompose(t)
	cs := c.Services["callscreen"]
	clearCallscreenEnv(t)
	for k, v := range cs.Environment {
		if strings.HasPrefix(k, "CALLSCREEN_") && k != "CALLSCREEN_CONFIG" {
			t.Setenv(k, v)
		}
	}
	// The entrypoint writes the ARI password to /run/callscreen; here, a
	// temporary directory stands in for it.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ari_password"), []byte(cs.Environment["ARI_PASSWORD"]), 0o600); err != nil {
		t.Fatal(err)
	}
	text := readFile(t, filepath.Join(root(t), "deploy", "asterisk", "callscreen.yaml"))
	if !strings.Contains(text, "/run/callscreen/ari_password") {
		t.Fatal("deploy/asterisk/callscreen.yaml does not read the ARI password from /run/callscreen/ari_password")
	}
	path := filepath.Join(dir, "callscreen.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(text, "/run/callscreen/", dir+"/")), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("the compose configuration does not load: %v", err)
	}
	if cfg.AGI.Listen != "0.0.0.0:4573" || cfg.Admin.Listen != "0.0.0.0:8089" || cfg.Admin.Token.Value() != env["CALLSCREEN_ADMIN_TOKEN"] {
		t.Errorf("agi.listen %q, admin.listen %q, admin token set %v", cfg.AGI.Listen, cfg.Admin.Listen, cfg.Admin.Token != "")
	}
	if !slices.Equal(cfg.Redis.Addrs, []string{"redis:6379"}) || cfg.Redis.Password.Value() != env["REDIS_PASSWORD"] {
		t.Errorf("redis.addrs %v, password set %v", cfg.Redis.Addrs, cfg.Redis.Password != "")
	}
	if cfg.Providers.CallerAPI.Key != "" || cfg.Providers.YouMail.Key != "" {
		t.Error("empty provider keys in .env turned a provider on")
	}
	if len(cfg.ARI.Servers) != 1 {
		t.Fatalf("ari.servers: %d, want 1", len(cfg.ARI.Servers))
	}
	s := cfg.ARI.Servers[0]
	if s.URL != "http://asterisk:8088" || s.Password.Value() != env["ASTERISK_ARI_PASSWORD"] || s.App != "callscreen" {
		t.Errorf("ari.servers[0]: url %q app %q password from .env %v", s.URL, s.App, s.Password.Value() == env["ASTERISK_ARI_PASSWORD"])
	}
}

// clearCallscreenEnv unsets this process's CALLSCREEN_* variables for the
// test, so only what the test sets reaches config.Load.
func clearCallscreenEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "CALLSCREEN_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

// TestDockerComposeConfig validates the file with docker-compose itself:
// with .env.example it must resolve, every bind source must exist; with no
// variables it must refuse, naming a secret.
func TestDockerComposeConfig(t *testing.T) {
	dc := needTool(t, "docker-compose")
	r := root(t)
	run := func(envFile string) (string, string, error) {
		cmd := exec.Command(dc, "--env-file", envFile, "-f", "docker-compose.yml", "config")
		cmd.Dir = r
		env, _ := readDotEnv(filepath.Join(r, ".env.example"))
		var drop []string
		for k := range env {
			drop = append(drop, k+"=")
		}
		cmd.Env = cleanEnv(drop...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}

	out, stderr, err := run(filepath.Join(r, ".env.example"))
	if err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, stderr)
	}
	// docker-compose 1.x prints volumes in the short syntax
	// (SOURCE:TARGET:MODE), docker compose 2.x in the long one.
	var resolved struct {
		Services map[string]struct {
			Volumes []yaml.Node `yaml:"volumes"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal([]byte(out), &resolved); err != nil {
		t.Fatalf("docker-compose config output: %v", err)
	}
	var names []string
	for name := range resolved.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	if !slices.Equal(names, []string{"asterisk", "callscreen", "redis"}) {
		t.Errorf("services %v", names)
	}
	binds := 0
	for name, s := range resolved.Services {
		for _, n := range s.Volumes {
			var source string
			switch n.Kind {
			case yaml.ScalarNode:
				source, _, _ = strings.Cut(n.Value, ":")
			case yaml.MappingNode:
				var long struct {
					Type   string `yaml:"type"`
					Source string `yaml:"source"`
				}
				if err := n.Decode(&long); err != nil {
					t.Fatal(err)
				}
				if long.Type == "bind" {
					source = long.Source
				}
			}
			if !filepath.IsAbs(source) {
				continue // a named volume
			}
			binds++
			if _, err := os.Stat(source); err != nil {
				t.Errorf("service %s: bind source %s: %v", name, source, err)
			}
		}
	}
	if binds == 0 {
		t.Error("docker-compose config reported no bind mounts")
	}

	empty := filepath.Join(t.TempDir(), "empty.env")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := run(empty); err == nil || !strings.Contains(stderr, "in .env (see .env.example)") {
		t.Errorf("docker-compose config with no .env: err %v, stderr %q; want it to refuse, naming the variable", err, stderr)
	}
}
