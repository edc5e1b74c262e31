package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOutbound: defaults, environment overrides and secrets of the
// outbound section.
func TestOutbound(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Outbound.Enabled() || c.Outbound.Window != 168*time.Hour || c.Outbound.ThresholdsValue().MinCalls != 20 || !c.Outbound.CSV.LogUniqueID {
		t.Fatalf("defaults: %+v", c.Outbound)
	}
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "hook")
	if err := os.WriteFile(secretFile, []byte("hook-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte("outbound:\n  dsn: callscreen:inline-pw@tcp(127.0.0.1:3306)/asteriskcdrdb\n  timezone: America/New_York\n"+
		"  webhook:\n    url: https://hooks.example.com/x\n    secret_file: "+secretFile+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CALLSCREEN_OUTBOUND_PASSWORD", "env-pw")
	t.Setenv("CALLSCREEN_OUTBOUND_THRESHOLDS_MIN_CALLS", "5")
	t.Setenv("CALLSCREEN_OUTBOUND_THRESHOLDS_SHORT_SHARE", "0.25")
	c, err = Load(path)
	if err != nil {
		t.Fatal(err)
	}
	o := c.Outbound
	if !o.Enabled() || o.Password.Value() != "env-pw" || o.Webhook.Secret.Value() != "hook-secret" || o.Thresholds.MinCalls != 5 || o.Thresholds.ShortShare != 0.25 ||
		o.Location().String() != "America/New_York" {
		t.Fatalf("loaded: %+v", o)
	}
	out, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"inline-pw", "env-pw", "hook-secret"} {
		if strings.Contains(string(out), s) {
			t.Errorf("callscreen config shows the secret %q:\n%s", s, out)
		}
	}
	// The DSN is a secret as a whole: it may carry the password.
	if !strings.Contains(string(out), "dsn: '[redacted]'") || strings.Contains(string(out), "asteriskcdrdb") {
		t.Errorf("the DSN is not shown redacted:\n%s", out)
	}
}
