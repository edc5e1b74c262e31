package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOutboundPasswordFromEnv: a user's password can come from
// CALLSCREEN_ARI_OUTBOUND_USERS_<i>_PASSWORD, and never together with its
// password_file.
func TestOutboundPasswordFromEnv(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "pbx.secret")
	if err := os.WriteFile(secretFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, users, env, want, err string
	}{
		{"env", "- username: pbx1\n", "from-env", "from-env", ""},
		{"env wins over the file's value", "- username: pbx1\n  password: in-yaml\n", "from-env", "from-env", ""},
		{"file", "- username: pbx1\n  password_file: " + secretFile + "\n", "", "from-file", ""},
		{"env and file", "- username: pbx1\n  password_file: " + secretFile + "\n", "from-env", "",
			"ari.outbound.users[0].password and ari.outbound.users[0].password_file are both set: set one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv(OutboundPasswordEnv(0), tt.env)
			}
			yaml := "ari:\n  outbound:\n    listen: 127.0.0.1:8765\n    users:\n" + indent(tt.users, "      ")
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(path)
			if tt.err != "" {
				if err == nil || !strings.HasSuffix(err.Error(), tt.err) {
					t.Fatalf("Load: %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.ARI.Outbound.Users[0].Password.Value(); got != tt.want {
				t.Errorf("password %q, want %q", got, tt.want)
			}
			out, err := c.YAML()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(out), tt.want) {
				t.Errorf("password in the printed configuration:\n%s", out)
			}
		})
	}
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}
