package deploy

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/callscreen/callscreen/internal/citest"
)

// root is the repository root; tests run in deploy/.
func root(t *testing.T) string {
	t.Helper()
	r, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// needTool returns the path of a tool the test runs. Without it the test
// fails under CI (scripts/install-test-deps installs every one) and is
// skipped elsewhere.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		citest.Unavailable(t, "%s is not installed; this check did not run", name)
	}
	return p
}

// cleanEnv is the environment for a tool the test runs: the machine's,
// without anything that would change the files' meaning.
func cleanEnv(drop ...string) []string {
	var env []string
next:
	for _, kv := range os.Environ() {
		for _, p := range append([]string{"CALLSCREEN_", "COMPOSE_", "DOCKER_"}, drop...) {
			if strings.HasPrefix(kv, p) {
				continue next
			}
		}
		env = append(env, kv)
	}
	return env
}

// readDotEnv reads a compose .env file: KEY=VALUE lines, # comments.
func readDotEnv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !envName.MatchString(k) {
			return nil, fmt.Errorf("%s:%d: want KEY=VALUE, got %q", path, n, line)
		}
		if _, dup := env[k]; dup {
			return nil, fmt.Errorf("%s:%d: %s set twice", path, n, k)
		}
		env[k] = v
	}
	return env, sc.Err()
}

var (
	envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// ${NAME}, ${NAME:-word}, ${NAME-word}, ${NAME:?word}, ${NAME?word}, $NAME, $$
	interpRE = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)
)

// interpolate substitutes variables the way docker-compose does in its
// files. It returns the names used and an error for a required variable
// that is unset or empty (":?") or unset ("?").
func interpolate(s string, env map[string]string) (string, []string, error) {
	var used []string
	var firstErr error
	out := interpRE.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		sm := interpRE.FindStringSubmatch(m)
		name, op, word := sm[1], sm[2], sm[3]
		if name == "" {
			name = sm[4]
		}
		used = append(used, name)
		v, set := env[name]
		switch op {
		case ":-":
			if v == "" {
				return word
			}
		case "-":
			if !set {
				return word
			}
		case ":?":
			if v == "" && firstErr == nil {
				firstErr = fmt.Errorf("required variable %s is missing a value: %s", name, word)
			}
		case "?":
			if !set && firstErr == nil {
				firstErr = fmt.Errorf("required variable %s is missing a value: %s", name, word)
			}
		}
		return v
	})
	return out, used, firstErr
}

// compose is the part of docker-compose.yml the tests read.
type compose struct {
	Services map[string]service `yaml:"services"`
	Volumes  map[string]any     `yaml:"volumes"`
}

type service struct {
	Image       string            `yaml:"image"`
	User        string            `yaml:"user"`
	Build       *build            `yaml:"build"`
	Command     []string          `yaml:"command"`
	Entrypoint  []string          `yaml:"entrypoint"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	Tmpfs       []string          `yaml:"tmpfs"`
	ReadOnly    bool              `yaml:"read_only"`
	CapDrop     []string          `yaml:"cap_drop"`
	DependsOn   yaml.Node         `yaml:"depends_on"`
	Healthcheck map[string]any    `yaml:"healthcheck"`
}

type build struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

// mount is one short-syntax volume: SOURCE:TARGET[:ro].
type mount struct {
	Source, Target string
	ReadOnly, Bind bool
}

func (s service) mounts(t *testing.T) []mount {
	t.Helper()
	var ms []mount
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || len(parts) > 3 {
			t.Fatalf("volume %q: want SOURCE:TARGET[:ro]", v)
		}
		m := mount{Source: parts[0], Target: parts[1]}
		if len(parts) == 3 {
			if parts[2] != "ro" && parts[2] != "rw" {
				t.Fatalf("volume %q: mode %q", v, parts[2])
			}
			m.ReadOnly = parts[2] == "ro"
		}
		m.Bind = strings.HasPrefix(m.Source, ".") || strings.HasPrefix(m.Source, "/")
		ms = append(ms, m)
	}
	return ms
}

// mountFor returns the mount whose target is target.
func (s service) mountFor(t *testing.T, target string) mount {
	t.Helper()
	for _, m := range s.mounts(t) {
		if m.Target == target {
			return m
		}
	}
	t.Fatalf("no volume mounted at %s", target)
	return mount{}
}

// loadCompose reads docker-compose.yml with the variables of .env.example,
// as `docker compose --env-file .env.example` would.
func loadCompose(t *testing.T) (compose, map[string]string) {
	t.Helper()
	env, err := readDotEnv(filepath.Join(root(t), ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	raw := readFile(t, filepath.Join(root(t), "docker-compose.yml"))
	text, _, err := interpolate(raw, env)
	if err != nil {
		t.Fatalf("docker-compose.yml with .env.example: %v", err)
	}
	// Keys the tests do not model are left to docker-compose config.
	var c compose
	if err := yaml.Unmarshal([]byte(text), &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, name := range []string{"redis", "callscreen", "asterisk"} {
		if _, ok := c.Services[name]; !ok {
			t.Fatalf("docker-compose.yml: no service %q", name)
		}
	}
	return c, env
}

// port returns the port of host:port, failing the test on a bad one.
func port(t *testing.T, hostport string) string {
	t.Helper()
	i := strings.LastIndex(hostport, ":")
	if i < 0 {
		t.Fatalf("%q: want host:port", hostport)
	}
	return hostport[i+1:]
}
