package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/callscreen/callscreen/config"
	"github.com/callscreen/callscreen/internal/redistest"
	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/redisconn"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/service"
)

// listsSee builds the lists serve and check build for cfgPath and looks
// caller up for tenant. It reaches Redis with a command's timeouts: it
// checks what is stored, not the call path's timeouts on a busy machine.
func listsSee(t *testing.T, cfgPath, tenant, caller string) []policy.Reason {
	t.Helper()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	rdb, err := redisconn.New(commandRedisOptions(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if rdb != nil {
		defer rdb.Close()
	}
	l, err := service.OpenLists(cfg, rdb, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := l.Lookup(context.Background(), reputation.Query{Tenant: tenant, Caller: number.Parse(caller, "US")})
	return v.Reasons
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestListsCommands(t *testing.T) {
	srv := redistest.Start(t)
	backends := map[string]string{
		"data_dir": "data_dir: " + t.TempDir() + "\n",
		"redis":    "redis:\n  addrs: [" + srv.Addr() + "]\n",
	}
	for name, yaml := range backends {
		t.Run(name, func(t *testing.T) {
			cfg := writeConfig(t, yaml)
			freepbx := writeFile(t, "blacklist.csv", "number,description\n2125550001,Ex Stalker Employee John\n2125550002,\"robo, dialer\"\nnot-a-number,x\n")
			code, out, errOut := runCmd("lists", "import", freepbx, "--config", cfg, "--by", "ops")
			if code != 0 || !strings.Contains(out, "imported 2 entries (freepbx layout), 1 rows rejected") || !strings.Contains(errOut, "blacklist.csv:4: ") {
				t.Fatalf("import: code %d out %q err %q", code, out, errOut)
			}
			if r := listsSee(t, cfg, "", "+12125550001"); !slices.Equal(r, []policy.Reason{policy.ListBlock}) {
				t.Fatalf("serve's lists after import: %v", r)
			}

			code, out, errOut = runCmd("lists", "add", "+1900*", "--list", "block", "--tenant", "acme", "--note", "premium rate", "--expires", "2099-01-01", "--config", cfg)
			if code != 0 || !strings.Contains(out, "added +1900* on the block list of tenant acme") {
				t.Fatalf("add: code %d out %q err %q", code, out, errOut)
			}
			code, _, _ = runCmd("lists", "add", "2125550003", "--list", "allow", "--config", cfg)
			if code != 0 {
				t.Fatal("add allow failed")
			}
			if r := listsSee(t, cfg, "acme", "+19005550000"); !slices.Equal(r, []policy.Reason{policy.ListBlock}) {
				t.Fatalf("tenant prefix: %v", r)
			}
			if r := listsSee(t, cfg, "", "+19005550000"); len(r) != 0 {
				t.Fatalf("tenant entry leaked: %v", r)
			}

			code, out, _ = runCmd("lists", "export", "--all", "--config", cfg)
			for _, want := range []string{
				"tenant,list,entry,note,added_by,added,expires",
				",block,+12125550001,Ex Stalker Employee John,ops,",
				`,block,+12125550002,"robo, dialer",ops,`,
				"acme,block,'+1900*,premium rate,", // a prefix reads as a formula: escaped
				",2099-01-01T00:00:00Z",
				",allow,+12125550003,",
			} {
				if code != 0 || !strings.Contains(out, want) {
					t.Fatalf("export: code %d, %q missing from:\n%s", code, want, out)
				}
			}
			code, out, errOut = runCmd("lists", "export", "--format", "freepbx", "--config", cfg)
			if code != 0 || !strings.Contains(out, "number,description\n") || !strings.Contains(out, "2125550001,Ex Stalker Employee John\n") || !strings.Contains(errOut, "1 left out") {
				t.Fatalf("freepbx export: code %d out %q err %q", code, out, errOut)
			}
			// The export imports back.
			back := writeFile(t, "back.csv", out)
			if code, _, errOut := runCmd("lists", "import", back, "--config", cfg); code != 0 {
				t.Fatalf("re-import: %s", errOut)
			}

			code, out, _ = runCmd("lists", "remove", "2125550001", "--list", "block", "--config", cfg)
			if code != 0 || !strings.Contains(out, "removed +12125550001") {
				t.Fatalf("remove: code %d out %q", code, out)
			}
			if r := listsSee(t, cfg, "", "+12125550001"); len(r) != 0 {
				t.Fatalf("after remove: %v", r)
			}
		})
	}
}

func TestListsCheckAndUsage(t *testing.T) {
	cfg := writeConfig(t, "data_dir: "+t.TempDir()+"\n")
	good := writeFile(t, "allow.txt", "# clinic\n+12125550001\nname:*HOSPITAL*\n")
	if code, out, _ := runCmd("lists", "check", good, "--config", cfg); code != 0 || !strings.Contains(out, "2 entries, 0 bad lines") {
		t.Fatalf("check good: %d %q", code, out)
	}
	bad := writeFile(t, "block.txt", "+12125550001\njunk\n")
	if code, out, _ := runCmd("lists", "check", bad, "--config", cfg); code != 1 || !strings.Contains(out, "block.txt:2: ") {
		t.Fatalf("check bad: %d %q", code, out)
	}
	for _, c := range []struct {
		args []string
		err  string
	}{
		{[]string{"lists"}, "usage:"},
		{[]string{"lists", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"lists", "add", "+12125550001"}, "--list allow or --list block is required"},
		{[]string{"lists", "add", "+12125550001", "--list", "grey"}, `--list "grey": want allow or block`},
		{[]string{"lists", "import"}, "want one FILE argument"},
		{[]string{"lists", "export", "x"}, `unexpected argument "x"`},
		{[]string{"lists", "add", "block", "+12125550001"}, "the list is a flag: callscreen lists add +12125550001 --list block"},
	} {
		if code, _, errOut := runCmd(append(c.args, "--config", cfg)...); code != 2 || !strings.Contains(errOut, c.err) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, errOut, c.err)
		}
	}
	if code, _, errOut := runCmd("lists", "add", "hello", "--list", "block", "--config", cfg); code != 1 || !strings.Contains(errOut, "not a number") {
		t.Fatalf("bad entry: %d %q", code, errOut)
	}
}

func TestListsImportLarge(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, "data_dir: "+dir+"\n")
	var b strings.Builder
	b.WriteString("tenant,list,entry,note\n")
	for i := range 25_000 {
		fmt.Fprintf(&b, ",block,+1313%07d,bulk\n", 5_000_000+i)
	}
	p := writeFile(t, "big.csv", b.String())
	code, out, errOut := runCmd("lists", "import", p, "--config", cfg)
	if code != 0 || !strings.Contains(out, "imported 25000 entries (native layout), 0 rows rejected") {
		t.Fatalf("import: %d %q %q", code, out, errOut)
	}
	if r := listsSee(t, cfg, "", "+13135024999"); !slices.Equal(r, []policy.Reason{policy.ListBlock}) {
		t.Fatalf("last row: %v", r)
	}
}
