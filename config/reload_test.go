package config

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRestartKeys(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Config)
		want   []string
	}{
		{"nothing", func(c *Config) {}, nil},
		{"mode applies at once", func(c *Config) { c.Mode = "monitor" }, nil},
		{"a profile applies at once", func(c *Config) {
			p := c.Profiles["default"]
			p.Challenge.Digits = 5
			c.Profiles = map[string]Profile{"default": p}
		}, nil},
		{"the budget applies at once", func(c *Config) { c.Reputation.Budget = time.Second }, nil},
		{"the session timeout applies at once", func(c *Config) { c.AGI.SessionTimeout = time.Minute }, nil},
		{"critical numbers apply at once", func(c *Config) { c.Emergency = []string{"+12125550100"} }, nil},
		{"agi.allow", func(c *Config) { c.AGI.Allow = []string{"10.0.0.5"} }, []string{"agi.allow"}},
		{"agi.listen", func(c *Config) { c.AGI.Listen = "0.0.0.0:4573" }, []string{"agi.listen"}},
		{"admin token", func(c *Config) { c.Admin.Token = "t" }, []string{"admin.token"}},
		{"lists.watch", func(c *Config) { c.Lists.Watch = false }, []string{"lists.watch"}},
		{"own numbers", func(c *Config) { c.OwnNumbers = []string{"+12125559999"} }, []string{"own_numbers"}},
		{"a key inside a restart section", func(c *Config) { c.Redis.Addrs = []string{"127.0.0.1:6379"} }, []string{"redis.addrs"}},
		{"a secret inside a restart section", func(c *Config) { c.Redis.Password = "pw" }, []string{"redis.password"}},
		{"the cache, not the rest of reputation", func(c *Config) { c.Reputation.Cache.Size = 7 }, []string{"reputation.cache.size"}},
		{"feed headers", func(c *Config) { c.Feed.Headers = Headers{"x-a": "b"} }, []string{"feed.headers"}},
		{"ari servers as a whole", func(c *Config) { c.ARI.Servers = []ARIServer{{URL: "http://pbx:8088"}} }, []string{"ari.servers"}},
		{"several, sorted", func(c *Config) { c.Log.Level = "debug"; c.DataDir = "/d"; c.Audit.Fsync = "always" }, []string{"audit.fsync", "data_dir", "log.level"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Load("")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := Load("")
			tt.change(b)
			if got := RestartKeys(a, b); !slices.Equal(got, tt.want) {
				t.Errorf("RestartKeys = %v; want %v", got, tt.want)
			}
		})
	}
}

// TestRestartKeysFollowTheSchema changes every key under a restart tag in
// turn and expects RestartKeys to name it: the set comes from the schema,
// not from a list.
func TestRestartKeysFollowTheSchema(t *testing.T) {
	base, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, key := range RestartOnly() {
		path := strings.Split(key, ".")
		for _, leaf := range leavesUnder(reflect.TypeFor[Config](), path) {
			changed, _ := Load("")
			f := fieldAt(reflect.ValueOf(changed).Elem(), leaf)
			perturb(t, f)
			want := strings.Join(leaf, ".")
			if got := RestartKeys(base, changed); !slices.Equal(got, []string{want}) {
				t.Errorf("changing %s: RestartKeys = %v", want, got)
			}
			seen++
		}
	}
	if seen < 40 {
		t.Fatalf("only %d restart keys exercised", seen)
	}
}

// leavesUnder returns the paths of the leaf keys at or under path.
func leavesUnder(t reflect.Type, path []string) [][]string {
	for _, p := range path {
		f, ok := fieldByTag(t, p)
		if !ok {
			panic("no key " + p)
		}
		t = f.Type
	}
	if t.Kind() != reflect.Struct {
		return [][]string{path}
	}
	var out [][]string
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("mapstructure"); tag != "" {
			out = append(out, leavesUnder(t, []string{tag})...)
		}
	}
	for i := range out {
		out[i] = append(slices.Clone(path), out[i]...)
	}
	return out
}

func fieldAt(v reflect.Value, path []string) reflect.Value {
	for _, p := range path {
		for i := range v.NumField() {
			if v.Type().Field(i).Tag.Get("mapstructure") == p {
				v = v.Field(i)
				break
			}
		}
	}
	return v
}

// perturb gives v a different value of its type.
func perturb(t *testing.T, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Int, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Float64:
		v.SetFloat(v.Float() + 0.5)
	case reflect.Slice:
		v.Set(reflect.Append(v, reflect.New(v.Type().Elem()).Elem()))
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		m.SetMapIndex(reflect.ValueOf("x-new").Convert(v.Type().Key()), reflect.New(v.Type().Elem()).Elem())
		v.Set(m)
	default:
		t.Fatalf("cannot change a %s", v.Type())
	}
}

// TestReloadDoc: docs/configuration.md names, under Reload, every key the
// schema reads only at start.
func TestReloadDoc(t *testing.T) {
	b, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start := strings.Index(doc, "## Reload")
	if start < 0 {
		t.Fatal("docs/configuration.md has no Reload section")
	}
	section := doc[start:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	for _, k := range RestartOnly() {
		if !strings.Contains(section, "`"+k+"`") && !strings.Contains(section, "`"+k+".*`") {
			t.Errorf("the Reload section of docs/configuration.md does not name %s, which takes effect at the next start", k)
		}
	}
}
