package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/config"
	"github.com/callscreen/callscreen/internal/redistest"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/redisconn"
	"github.com/callscreen/callscreen/reputation/feedback"
)

// TestCommandRedisOptions: a command gives Redis seconds, not the call
// path's milliseconds; a longer timeout in the configuration is kept, and
// nothing else changes.
func TestCommandRedisOptions(t *testing.T) {
	tests := []struct {
		name                string
		yaml                string
		dial, read, written time.Duration
	}{
		{"defaults", "redis:\n  addrs: [127.0.0.1:6379]\n", commandRedisTimeout, commandRedisTimeout, commandRedisTimeout},
		{"call path's own", "redis:\n  addrs: [127.0.0.1:6379]\n  dial_timeout: 1s\n  read_timeout: 300ms\n  write_timeout: 2s\n", commandRedisTimeout, commandRedisTimeout, commandRedisTimeout},
		{"longer kept", "redis:\n  addrs: [127.0.0.1:6379]\n  dial_timeout: 1m\n  read_timeout: 30s\n", time.Minute, 30 * time.Second, commandRedisTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Load(writeConfig(t, tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			o := commandRedisOptions(cfg)
			if o.DialTimeout != tt.dial || o.ReadTimeout != tt.read || o.WriteTimeout != tt.written {
				t.Fatalf("timeouts dial %s read %s write %s; want %s %s %s", o.DialTimeout, o.ReadTimeout, o.WriteTimeout, tt.dial, tt.read, tt.written)
			}
			if !slices.Equal(o.Addrs, []string{"127.0.0.1:6379"}) || o.PoolSize != cfg.Redis.PoolSize {
				t.Fatalf("options changed beyond the timeouts: %+v", o)
			}
		})
	}
}

// TestCommandsOverSlowRedis: with the configuration's call-path Redis
// timeouts (read_timeout 50ms by default) and a Redis that takes longer
// than that to answer, lists, report and feed commands still write, and
// what they wrote is there.
func TestCommandsOverSlowRedis(t *testing.T) {
	srv := redistest.Start(t)
	// Three times the default read timeout: every reply comes too late for
	// the call path, never for a command.
	const delay = 150 * time.Millisecond
	if def := config.Defaults().Redis.ReadTimeout; delay <= def || delay <= redisconn.DefaultReadTimeout {
		t.Fatalf("the delay %s must exceed the call path's read timeouts (%s, %s)", delay, def, redisconn.DefaultReadTimeout)
	}
	slow := writeConfig(t, "data_dir: "+t.TempDir()+"\nredis:\n  addrs: ["+redistest.Slow(t, srv.Addr(), delay)+"]\n")
	direct := writeConfig(t, "data_dir: "+t.TempDir()+"\nredis:\n  addrs: ["+srv.Addr()+"]\n")
	today := time.Now().UTC().Format("2006-01-02")
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"lists", "add", "+12125550001", "--list", "block"}, "added +12125550001"},
		{[]string{"lists", "import", writeFile(t, "block.csv", "number,description\n2125550002,robo\n")}, "imported 1 entries"},
		{[]string{"lists", "export"}, "+12125550002"},
		{[]string{"report", "spam", "+12125551234"}, "(redis single)"},
		{[]string{"feed", "import", writeFile(t, "feed.json", `[{"number":"2125550003","created_date":"`+today+`","robocall":"yes"}]`), "--format", "json"}, "1 accepted"},
		{[]string{"feed", "status"}, "1 numbers"},
	}
	for _, s := range steps {
		code, out, errOut := runCmd(append(s.args, "--config", slow)...)
		if code != 0 || !strings.Contains(out, s.want) {
			t.Fatalf("%s over a slow Redis: exit %d, stdout %q (want %q), stderr %q", strings.Join(s.args[:2], " "), code, out, s.want, errOut)
		}
	}
	for _, n := range []string{"+12125550001", "+12125550002"} {
		if r := listsSee(t, direct, "", n); !slices.Equal(r, []policy.Reason{policy.ListBlock}) {
			t.Errorf("serve's lists see %s as %v; want blocked", n, r)
		}
	}
	if r := feedSees(t, direct, "+12125550003"); !slices.Contains(r, policy.FeedDailyReport) {
		t.Errorf("serve's feed sees %v; want the imported report", r)
	}
	if r, err := srv.Do("HEXISTS", feedback.Key(""), "+12125551234"); err != nil || r != ":1\r\n" {
		t.Errorf("report not in Redis: %q %v", r, err)
	}
}
