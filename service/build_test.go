package service

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callscreen/callscreen/config"
)

// loadYAML writes yaml (with {dir} replaced by a temporary directory)
// and loads it.
func loadYAML(t *testing.T, yaml string) (*config.Config, string) {
	t.Helper()
	dir := t.TempDir()
	yaml = strings.ReplaceAll(yaml, "{dir}", dir)
	path := filepath.Join(dir, "callscreen.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("the configuration does not load: %v", err)
	}
	return cfg, dir
}

// TestBuildRefuses: configurations that load but that serve cannot run.
// Build and Validate refuse each with the error serve would stop with, so
// `serve --check-config` refuses exactly what `serve` refuses.
func TestBuildRefuses(t *testing.T) {
	base := "data_dir: {dir}/data\nagi:\n  listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\n"
	tests := []struct {
		name  string
		yaml  string
		setup func(t *testing.T, dir string)
		err   string // with {dir} for the directory
	}{
		{
			name: "provider timeout shorter than the budget, with a provider key",
			yaml: base + "providers:\n  callerapi:\n    key: k\nreputation:\n  budget: 400ms\n  provider_timeout: 100ms\n",
			err:  "providers: reputation.provider_timeout: 100ms: must not be shorter than reputation.budget (400ms)",
		},
		{
			name: "the admin API off loopback without a token",
			yaml: "data_dir: {dir}/data\nadmin:\n  listen: 0.0.0.0:8089\n",
			err:  `admin: listen "0.0.0.0:8089": admin.token is required when admin.listen is not a loopback address`,
		},
		{
			name: "the admin API on all interfaces without a token",
			yaml: "data_dir: {dir}/data\nadmin:\n  listen: :8089\n",
			err:  `admin: listen ":8089": admin.token is required when admin.listen is not a loopback address`,
		},
		{
			name:  "a data dir that is a file",
			yaml:  "data_dir: {dir}/data\n",
			setup: func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "data"), "") },
			err:   `data_dir "{dir}/data": {dir}/data is not a directory`,
		},
		{
			name:  "a data dir that cannot be created",
			yaml:  "data_dir: {dir}/file/data\n",
			setup: func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "file"), "") },
			err:   `data_dir "{dir}/file/data": {dir}/file is not a directory`,
		},
		{
			name:  "a decision log directory that cannot be created",
			yaml:  base + "audit:\n  dir: {dir}/file/audit\n",
			setup: func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "file"), "") },
			err:   `audit.dir "{dir}/file/audit": {dir}/file is not a directory`,
		},
		{
			name:  "a data dir file in the way of the lists store",
			yaml:  base,
			setup: func(t *testing.T, dir string) { mkdir(t, filepath.Join(dir, "data", "lists.db")) },
			err:   `data_dir: {dir}/data/lists.db is a directory`,
		},
		{
			name:  "a signing key that is a directory",
			yaml:  base,
			setup: func(t *testing.T, dir string) { mkdir(t, filepath.Join(dir, "data", "audit", "ed25519.key")) },
			err:   `audit.key_file "{dir}/data/audit/ed25519.key": is a directory`,
		},
		{
			name: "an ARI server without a password",
			yaml: base + "ari:\n  servers:\n    - url: http://pbx.example.com:8088\n      username: callscreen\n",
			err:  "ari.servers[0]: ari client: pbx.example.com:8088: username and password are required",
		},
		{
			name: "an ARI URL with a query",
			yaml: base + "ari:\n  servers:\n    - url: http://pbx.example.com:8088/?api_key=x\n      username: callscreen\n      password: pw\n",
			err:  "ari.servers[0]: ari client: url: no query or fragment allowed (never api_key: set username and password)",
		},
		{
			name: "Redis TLS settings without TLS",
			yaml: base + "redis:\n  addrs: [127.0.0.1:6379]\n  tls_server_name: redis.example.com\n",
			err:  "redis: redis.tls_ca_file / redis.tls_server_name: set redis.tls: true to use TLS",
		},
		{
			name: "Redis port 0",
			yaml: base + "redis:\n  addrs: [127.0.0.1:0]\n",
			err:  `redis: redis.addrs: "127.0.0.1:0": port "0": want 1 to 65535`,
		},
		{
			name: "a database on a Redis Cluster",
			yaml: base + "redis:\n  addrs: [127.0.0.1:7000, 127.0.0.1:7001]\n  db: 2\n",
			err:  "redis: redis.db: 2: Redis Cluster has only database 0",
		},
	}
	if os.Geteuid() != 0 {
		// As root every directory is writable: these run as any other user.
		tests = append(tests, struct {
			name  string
			yaml  string
			setup func(t *testing.T, dir string)
			err   string
		}{
			name: "a data dir this user cannot write",
			yaml: "data_dir: {dir}/ro\n",
			setup: func(t *testing.T, dir string) {
				mkdir(t, filepath.Join(dir, "ro"))
				chmod(t, filepath.Join(dir, "ro"), 0o555)
			},
			err: `data_dir "{dir}/ro": not writable by this user: permission denied`,
		}, struct {
			name  string
			yaml  string
			setup func(t *testing.T, dir string)
			err   string
		}{
			name: "a lists store another user's tool left unwritable",
			yaml: base,
			setup: func(t *testing.T, dir string) {
				mkdir(t, filepath.Join(dir, "data"))
				writeFile(t, filepath.Join(dir, "data", "lists.db"), "")
				chmod(t, filepath.Join(dir, "data", "lists.db"), 0o400)
			},
			err: `data_dir: {dir}/data/lists.db is not writable by this user`,
		})
	} else {
		t.Log("running as root: the cases of files and directories this user cannot write are left out (root writes everything)")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, dir := loadYAML(t, tt.yaml)
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			set, err := Build(cfg)
			if err == nil {
				err = set.Validate()
			}
			want := strings.ReplaceAll(tt.err, "{dir}", dir)
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("Build and Validate: %v\nwant %s", err, want)
			}
		})
	}
}

// TestBuildAccepts: what serve runs on is accepted, and Build writes
// nothing: the data directory does not even exist after it.
func TestBuildAccepts(t *testing.T) {
	for _, yaml := range []string{
		"data_dir: {dir}/data\n",
		"data_dir: {dir}/data\nadmin:\n  listen: \"\"\n",
		"data_dir: {dir}/data\nadmin:\n  listen: 0.0.0.0:8089\n  token: t0k3n\n",
		"data_dir: {dir}/data\nproviders:\n  callerapi:\n    key: k\nreputation:\n  budget: 400ms\n  provider_timeout: 400ms\n",
		"data_dir: {dir}/data\nreputation:\n  budget: 400ms\n  provider_timeout: 100ms\n", // no provider: nothing waits for one
		"data_dir: {dir}/data\nari:\n  servers:\n    - url: http://pbx.example.com:8088\n      username: callscreen\n      password: pw\n      tenant: acme\n",
	} {
		cfg, dir := loadYAML(t, yaml)
		set, err := Build(cfg)
		if err == nil {
			err = set.Validate()
		}
		if err != nil {
			t.Errorf("%s: %v", yaml, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
			t.Errorf("%s: Build or Validate created the data directory", yaml)
		}
	}
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(path, 0o750); err != nil {
		t.Fatal(err)
	}
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(path, 0o750) })
}
