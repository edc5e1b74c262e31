package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad: whatever the file holds, Load returns a configuration or an
// error, never panics, and a configuration it returns prints as YAML.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/bad/*.yaml")
	seeds = append(seeds, "testdata/good.yaml")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("profiles:\n  x:\n    hours: [{days: [mon], open: '9:00', close: '10:00'}]\n"))
	f.Add([]byte("dids: {15551230000: default}\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "fuzz.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path)
		if err != nil {
			return
		}
		if _, err := c.YAML(); err != nil {
			t.Fatalf("YAML of a loaded configuration: %v", err)
		}
		if _, ok := c.Profile("default"); !ok {
			t.Fatal("loaded configuration without a default profile")
		}
	})
}
