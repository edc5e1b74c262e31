package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// secretWords are the words of a key that make it a secret.
var secretWords = []string{"key", "token", "password", "secret", "sid", "dsn"}

// unprotected walks type t and returns the dotted keys whose name says
// they hold a secret but whose type is not Secret. A key ending in _file
// names a file and is not a secret itself.
func unprotected(t reflect.Type, prefix string) []string {
	var out []string
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map:
		if t.Kind() == reflect.Map && t.Key().Kind() == reflect.String && t.Elem().Kind() == reflect.String && t != headersType {
			// A map of strings keyed by name: only headers carry
			// credentials, and they must be Headers.
			if strings.Contains(prefix, "header") {
				out = append(out, strings.TrimSuffix(prefix, "."))
			}
			return out
		}
		return unprotected(t.Elem(), prefix)
	case reflect.Struct:
		if t == secretType {
			return nil
		}
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("mapstructure")
			if tag == "" || !f.IsExported() {
				continue
			}
			words := strings.Split(tag, "_")
			secret := slices.ContainsFunc(words, func(w string) bool { return slices.Contains(secretWords, w) })
			if secret && words[len(words)-1] != "file" && f.Type != secretType {
				out = append(out, prefix+tag)
			}
			out = append(out, unprotected(f.Type, prefix+tag+".")...)
		}
	}
	return out
}

// TestSecretKeysAreSecrets: every key of the schema whose name says it
// holds a secret is a Secret, and every Secret can be read from a file.
func TestSecretKeysAreSecrets(t *testing.T) {
	if bad := unprotected(reflect.TypeFor[Config](), ""); len(bad) > 0 {
		t.Errorf("keys named like secrets that are not of type Secret: %v", bad)
	}
	// The check itself catches a secret kept as a plain string.
	type leaky struct {
		URL     string `mapstructure:"url"`
		Key     string `mapstructure:"key"`
		KeyFile string `mapstructure:"key_file"`
		DSN     string `mapstructure:"dsn"`
		Nested  struct {
			SentinelPassword string `mapstructure:"sentinel_password"`
		} `mapstructure:"nested"`
		Headers map[string]string `mapstructure:"headers"`
	}
	got := unprotected(reflect.TypeFor[leaky](), "")
	if want := []string{"key", "dsn", "nested.sentinel_password", "headers"}; !slices.Equal(got, want) {
		t.Errorf("the check found %v in a leaky schema; want %v", got, want)
	}

	// Every Secret has a *_file sibling, which Load reads.
	var missing []string
	var walk func(typ reflect.Type, prefix string)
	walk = func(typ reflect.Type, prefix string) {
		switch typ.Kind() {
		case reflect.Slice, reflect.Map:
			walk(typ.Elem(), prefix)
		case reflect.Struct:
			for i := range typ.NumField() {
				f := typ.Field(i)
				tag := f.Tag.Get("mapstructure")
				switch {
				case tag == "":
				case f.Type == secretType:
					if _, ok := secretFileField(typ, tag); !ok {
						missing = append(missing, prefix+tag)
					}
				default:
					walk(f.Type, prefix+tag+".")
				}
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	if len(missing) > 0 {
		t.Errorf("secrets without a *_file key: %v", missing)
	}
}

// fullSecrets sets every secret of a configuration, each to a value of its
// own, half through the file and the environment, half through *_file.
func fullSecrets(t *testing.T) (*Config, []string) {
	t.Helper()
	dir := t.TempDir()
	file := func(name, val string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(val+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	yml := fmt.Sprintf(`
admin:
  token_file: %s
redis:
  addrs: [127.0.0.1:6379]
  password: redis-pw-1
  master_name: mymaster
  sentinel_password_file: %s
providers:
  callerapi:
    key: callerapi-key-2
  youmail:
    sid_file: %s
    key: youmail-key-3
  http:
    url: https://rep.example.com/lookup
    token_file: %s
feed:
  url: https://feed.example.com/daily.json
  headers:
    Authorization: Bearer feed-auth-4
    X-Api-Key: feed-key-5
    X-Region: us
ari:
  servers:
    - url: http://pbx.example.com:8088
      username: callscreen
      password: ari-pw-6
    - url: http://pbx2.example.com:8088
      username: callscreen
      password_file: %s
`, file("token", "admin-token-7"), file("sentinel", "sentinel-pw-8"), file("sid", "youmail-sid-9"),
		file("http", "http-token-10"), file("ari", "ari-pw-11"))
	path := file("c.yaml", yml)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{"redis-pw-1", "callerapi-key-2", "youmail-key-3", "feed-auth-4", "feed-key-5", "ari-pw-6",
		"admin-token-7", "sentinel-pw-8", "youmail-sid-9", "http-token-10", "ari-pw-11"}
	// Load read each of them.
	var got []string
	_ = walkSecrets(reflect.ValueOf(c).Elem(), "", func(_ string, s *Secret, _ string) error {
		got = append(got, s.Value())
		return nil
	})
	got = append(got, c.Feed.Headers["authorization"], c.Feed.Headers["x-api-key"])
	for _, s := range secrets {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.Contains(g, s) }) {
			t.Fatalf("secret %s not loaded: %v", s, got)
		}
	}
	return c, secrets
}

// TestSecretsNeverShown prints, marshals and logs a configuration with
// every secret set in every way there is, and finds none of them.
func TestSecretsNeverShown(t *testing.T) {
	c, secrets := fullSecrets(t)
	outputs := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		outputs["fmt "+verb+" *Config"] = fmt.Sprintf(verb, c)
		outputs["fmt "+verb+" Config"] = fmt.Sprintf(verb, *c)
		outputs["fmt "+verb+" token"] = fmt.Sprintf(verb, c.Admin.Token)
		outputs["fmt "+verb+" headers"] = fmt.Sprintf(verb, c.Feed.Headers)
		outputs["fmt "+verb+" ari"] = fmt.Sprintf(verb, c.ARI)
		outputs["fmt "+verb+" providers"] = fmt.Sprintf(verb, c.Providers)
	}
	outputs["fmt Sprint"] = fmt.Sprint(c, c.Redis, c.Providers.YouMail)
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs["json"] = string(js)
	y, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	outputs["YAML"] = string(y)
	raw, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs["yaml.Marshal"] = string(raw)
	var text, jsonl bytes.Buffer
	for _, l := range []*slog.Logger{slog.New(slog.NewTextHandler(&text, nil)), slog.New(slog.NewJSONHandler(&jsonl, nil))} {
		l.Info("config", "config", c, "redis", c.Redis, "token", c.Admin.Token, "headers", c.Feed.Headers,
			slog.Any("servers", c.ARI.Servers), slog.Group("g", "key", c.Providers.CallerAPI.Key))
	}
	outputs["slog text"] = text.String()
	outputs["slog json"] = jsonl.String()
	for what, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) || strings.Contains(out, fmt.Sprintf("%x", s)) {
				t.Errorf("%s shows the secret %s:\n%s", what, s, out)
			}
		}
	}
	if !strings.Contains(outputs["fmt %v token"], Redacted) || !strings.Contains(outputs["slog json"], `"token":"`+Redacted+`"`) {
		t.Errorf("a set secret should show as %s: %q / %s", Redacted, outputs["fmt %v token"], outputs["slog json"])
	}
	if !strings.Contains(outputs["YAML"], "x-region: us") {
		t.Errorf("a header that is no credential should show:\n%s", outputs["YAML"])
	}
	if Secret("").String() != "" || fmt.Sprint(Secret("")) != "" {
		t.Error("an empty secret should show empty")
	}
}
