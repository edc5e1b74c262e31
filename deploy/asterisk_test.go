package deploy

import (
	"bytes"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// goodSecrets pass the start script's checks.
var goodSecrets = map[string]string{
	"ARI_PASSWORD":   "ari-Secret.0123456789",
	"PHONE_PASSWORD": "phone+Secret/0123456789",
}

// runStart runs deploy/asterisk/start.sh --dry-run with env (and nothing
// else of the stack's) and an empty configuration directory.
func runStart(t *testing.T, env map[string]string) (etc string, out string, err error) {
	t.Helper()
	bash := needTool(t, "bash")
	etc = t.TempDir()
	cmd := exec.Command(bash, filepath.Join(root(t), "deploy", "asterisk", "start.sh"), "--dry-run")
	cmd.Env = append(cleanEnv("ARI_PASSWORD=", "PHONE_PASSWORD=", "TRUNK_", "SIP_EXTERNAL_ADDRESS=", "ASTERISK_"), "ASTERISK_ETC_DIR="+etc, "ASTERISK_SOUNDS_DIR="+filepath.Join(etc, "sounds"))
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err = cmd.Run()
	return etc, b.String(), err
}

func with(base map[string]string, kv ...string) map[string]string {
	m := map[string]string{}
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "<unset>" {
			delete(m, kv[i])
			continue
		}
		m[kv[i]] = kv[i+1]
	}
	return m
}

// TestStartScriptRefuses: bad or missing settings stop the container with
// a message naming them, before Asterisk runs.
func TestStartScriptRefuses(t *testing.T) {
	_, example := loadCompose(t)
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"no ARI password", with(goodSecrets, "ARI_PASSWORD", "<unset>"), "ARI_PASSWORD is not set"},
		{"no phone password", with(goodSecrets, "PHONE_PASSWORD", ""), "PHONE_PASSWORD is not set"},
		{"example ARI password", with(goodSecrets, "ARI_PASSWORD", example["ASTERISK_ARI_PASSWORD"]), "example value"},
		{"example phone password", with(goodSecrets, "PHONE_PASSWORD", example["PHONE_100_PASSWORD"]), "example value"},
		{"short password", with(goodSecrets, "PHONE_PASSWORD", "short1"), "at least 12"},
		{"comment in password", with(goodSecrets, "ARI_PASSWORD", "abcdefgh;ijklmn"), "only letters"},
		{"space in password", with(goodSecrets, "ARI_PASSWORD", "abcdefgh ijklmn"), "only letters"},
		{"bad trunk host", with(goodSecrets, "TRUNK_HOST", "sip.example.net;x"), "TRUNK_HOST"},
		{"trunk user without host", with(goodSecrets, "TRUNK_USERNAME", "acme"), "TRUNK_HOST is not"},
		{"trunk user without password", with(goodSecrets, "TRUNK_HOST", "sip.example.net", "TRUNK_USERNAME", "acme"), "TRUNK_PASSWORD is not"},
		{"bad external address", with(goodSecrets, "SIP_EXTERNAL_ADDRESS", "1.2.3.4 5"), "SIP_EXTERNAL_ADDRESS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			etc, out, err := runStart(t, tt.env)
			if err == nil || !strings.Contains(out, tt.wantErr) {
				t.Fatalf("start.sh: err %v, output %q; want a failure saying %q", err, out, tt.wantErr)
			}
			if entries, _ := os.ReadDir(etc); len(entries) != 0 {
				t.Errorf("start.sh wrote %d files before refusing", len(entries))
			}
		})
	}
}

// TestStartScriptWrites: what the script writes for each trunk setup.
func TestStartScriptWrites(t *testing.T) {
	tests := []struct {
		name          string
		env           map[string]string
		want, wantNot []string
	}{
		{
			name:    "no trunk",
			env:     goodSecrets,
			want:    []string{"[transport-udp]", "[transport-tcp]", "password = " + goodSecrets["PHONE_PASSWORD"], "[trunk](trunk-endpoint)"},
			wantNot: []string{"type = identify", "type = registration", "outbound_auth", "external_media_address"},
		},
		{
			name:    "trunk by address",
			env:     with(goodSecrets, "TRUNK_HOST", "sip.example.net:5080", "TRUNK_MATCH", "192.0.2.0/24"),
			want:    []string{"contact = sip:sip.example.net:5080", "type = identify", "match = 192.0.2.0/24"},
			wantNot: []string{"type = registration", "outbound_auth"},
		},
		{
			name: "trunk with registration",
			env:  with(goodSecrets, "TRUNK_HOST", "sip.example.net", "TRUNK_USERNAME", "acme", "TRUNK_PASSWORD", "trunk-pass-1"),
			want: []string{"match = sip.example.net", "outbound_auth = trunk", "type = registration", "client_uri = sip:acme@sip.example.net", "password = trunk-pass-1"},
		},
		{
			name: "behind NAT",
			env:  with(goodSecrets, "SIP_EXTERNAL_ADDRESS", "203.0.113.7"),
			want: []string{"external_media_address = 203.0.113.7", "external_signaling_address = 203.0.113.7", "local_net = 172.16.0.0/12"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			etc, out, err := runStart(t, tt.env)
			if err != nil {
				t.Fatalf("start.sh: %v\n%s", err, out)
			}
			if !strings.Contains(out, "/usr/sbin/asterisk -f") {
				t.Errorf("dry run printed %q, want the Asterisk command", out)
			}
			ari := readFile(t, filepath.Join(etc, "ari_callscreen.conf"))
			if !strings.Contains(ari, "password = "+goodSecrets["ARI_PASSWORD"]) {
				t.Errorf("ari_callscreen.conf:\n%s", ari)
			}
			pj := readFile(t, filepath.Join(etc, "pjsip_callscreen.conf"))
			for _, w := range tt.want {
				if !strings.Contains(pj, w) {
					t.Errorf("pjsip_callscreen.conf lacks %q:\n%s", w, pj)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(pj, w) {
					t.Errorf("pjsip_callscreen.conf has %q:\n%s", w, pj)
				}
			}
			for _, f := range []string{"ari_callscreen.conf", "pjsip_callscreen.conf"} {
				fi, err := os.Stat(filepath.Join(etc, f))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm()&0o007 != 0 {
					t.Errorf("%s mode %v: others must not read secrets", f, fi.Mode().Perm())
				}
			}
		})
	}
}

// asteriskTree builds /etc/asterisk as the compose stack's container sees
// it: the files docker-compose.yml mounts there, plus what start.sh writes
// from the environment (with a registering trunk, the fullest case).
func asteriskTree(t *testing.T) (string, compose) {
	t.Helper()
	c, _ := loadCompose(t)
	env := with(goodSecrets, "TRUNK_HOST", "sip.example.net", "TRUNK_USERNAME", "acme", "TRUNK_PASSWORD", "trunk-pass-1")
	etc, out, err := runStart(t, env)
	if err != nil {
		t.Fatalf("start.sh: %v\n%s", err, out)
	}
	for _, m := range c.Services["asterisk"].mounts(t) {
		if !m.Bind || filepath.Dir(m.Target) != "/etc/asterisk" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root(t), m.Source))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(etc, filepath.Base(m.Target)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return etc, c
}

func parseTree(t *testing.T, etc, file string) *astConf {
	t.Helper()
	conf, err := parseAst(etc, file)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return conf
}

var (
	dialApp   = regexp.MustCompile(`\b(Gosub|Goto)\(([A-Za-z0-9_-]+),([A-Za-z0-9_+.\[\]-]+),`)
	dialPJSIP = regexp.MustCompile(`Dial\(PJSIP/(?:[^@,)]*@)?([A-Za-z0-9_-]+)[,)]`)
	playback  = regexp.MustCompile(`Playback\((callscreen/[a-z0-9_-]+)\)`)
)

// TestAsteriskConfig checks the compose stack's Asterisk configuration as
// a whole: includes resolve, every name one file uses another defines.
func TestAsteriskConfig(t *testing.T) {
	etc, c := asteriskTree(t)
	cs := c.Services["callscreen"]

	ext := parseTree(t, etc, "extensions.conf")
	for _, f := range []string{"callscreen.conf", "callscreen-ari.conf"} {
		if !slices.Contains(ext.files, f) {
			t.Errorf("extensions.conf does not include %s", f)
		}
	}
	contexts := map[string]*astSection{}
	for _, s := range ext.sections {
		if s.name != "general" && s.name != "globals" && !s.template {
			if contexts[s.name] != nil {
				t.Errorf("%s: context [%s] defined twice (first at %s)", s.where, s.name, contexts[s.name].where)
			}
			contexts[s.name] = s
		}
	}
	globals := ext.named("globals")
	if len(globals) != 1 {
		t.Fatalf("extensions.conf: %d [globals] sections", len(globals))
	}
	// CALLSCREEN_HOST is the callscreen service and its FastAGI port.
	host, _ := globals[0].get("CALLSCREEN_HOST")
	if want := "callscreen:" + port(t, cs.Environment["CALLSCREEN_AGI_LISTEN"]); host != want {
		t.Errorf("CALLSCREEN_HOST = %q, want %q", host, want)
	}

	pj := parseTree(t, etc, "pjsip.conf")
	for _, s := range ext.sections {
		for _, v := range s.vars {
			for _, m := range dialApp.FindAllStringSubmatch(v.value, -1) {
				if contexts[m[2]] == nil {
					t.Errorf("[%s] %s to context %q, which no file defines", s.name, m[1], m[2])
				}
			}
			for _, m := range dialPJSIP.FindAllStringSubmatch(v.value, -1) {
				if pj.ofType(m[1], "endpoint") == nil {
					t.Errorf("[%s] dials PJSIP endpoint %q, which pjsip.conf does not define", s.name, m[1])
				}
			}
			for _, m := range playback.FindAllStringSubmatch(v.value, -1) {
				src := c.Services["asterisk"].mountFor(t, "/var/lib/asterisk/sounds/en/callscreen").Source
				if g, _ := filepath.Glob(filepath.Join(root(t), src, strings.TrimPrefix(m[1], "callscreen/")+".*")); len(g) == 0 {
					t.Errorf("[%s] plays %s, which the mounted sounds do not have", s.name, m[1])
				}
			}
		}
	}

	// PJSIP: every reference resolves to a section of the right type.
	types := map[string]bool{"global": true, "transport": true, "endpoint": true, "aor": true, "auth": true, "identify": true, "registration": true}
	endpoints := 0
	for _, s := range pj.sections {
		if s.template {
			continue
		}
		typ, _ := s.get("type")
		if !types[typ] {
			t.Errorf("%s: [%s] type %q", s.where, s.name, typ)
			continue
		}
		refs := map[string]string{}
		switch typ {
		case "endpoint":
			endpoints++
			ctx, _ := s.get("context")
			if contexts[ctx] == nil {
				t.Errorf("%s: endpoint %s enters context %q, which extensions.conf does not define", s.where, s.name, ctx)
			}
			for _, k := range []string{"aors", "auth", "outbound_auth"} {
				v, _ := s.get(k)
				for _, ref := range strings.Split(v, ",") {
					if ref = strings.TrimSpace(ref); ref != "" {
						refs[ref] = map[string]string{"aors": "aor", "auth": "auth", "outbound_auth": "auth"}[k]
					}
				}
			}
		case "identify":
			ep, _ := s.get("endpoint")
			refs[ep] = "endpoint"
			if m, _ := s.get("match"); m == "" {
				t.Errorf("%s: identify %s matches nothing", s.where, s.name)
			}
		case "registration":
			a, _ := s.get("outbound_auth")
			refs[a] = "auth"
		case "auth":
			if u, _ := s.get("username"); u == "" {
				t.Errorf("%s: auth %s has no username", s.where, s.name)
			}
			if p, _ := s.get("password"); p == "" {
				t.Errorf("%s: auth %s has no password", s.where, s.name)
			}
		}
		for ref, want := range refs {
			if pj.ofType(ref, want) == nil {
				t.Errorf("%s: %s %s names %s %q, which is not defined", s.where, typ, s.name, want, ref)
			}
		}
	}
	if endpoints != 2 || pj.ofType("trunk", "endpoint") == nil || pj.ofType("100", "endpoint") == nil {
		t.Errorf("pjsip.conf: want exactly the endpoints trunk and 100, found %d", endpoints)
	}
	if ctx, _ := pj.ofType("trunk", "endpoint").get("context"); ctx != "from-trunk" {
		t.Errorf("the trunk's calls enter %q, want from-trunk", ctx)
	}

	// ARI: the user and port callscreen's configuration uses.
	var cfg struct {
		ARI struct {
			Servers []struct {
				URL, Username, App string
			} `yaml:"servers"`
		} `yaml:"ari"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, filepath.Join(root(t), "deploy", "asterisk", "callscreen.yaml"))), &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.ARI.Servers) != 1 {
		t.Fatalf("deploy/asterisk/callscreen.yaml: %d ARI servers", len(cfg.ARI.Servers))
	}
	srv := cfg.ARI.Servers[0]
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Services[u.Hostname()]; !ok {
		t.Errorf("ARI url %s: no service %q", srv.URL, u.Hostname())
	}
	httpConf := parseTree(t, etc, "http.conf").named("general")
	ariConf := parseTree(t, etc, "ari.conf")
	if len(httpConf) != 1 {
		t.Fatal("http.conf: want one [general]")
	}
	if v, _ := httpConf[0].get("enabled"); v != "yes" {
		t.Error("http.conf: HTTP server not enabled")
	}
	if v, _ := httpConf[0].get("bindport"); v != u.Port() {
		t.Errorf("http.conf bindport %q, ARI url port %q", v, u.Port())
	}
	if g := ariConf.named("general"); len(g) != 1 {
		t.Error("ari.conf: want one [general]")
	} else if v, _ := g[0].get("enabled"); v != "yes" {
		t.Error("ari.conf: ARI not enabled")
	}
	user := ariConf.ofType(srv.Username, "user")
	if user == nil {
		t.Fatalf("ari.conf: no user %q (callscreen.yaml's username)", srv.Username)
	}
	if p, _ := user.get("password"); p != goodSecrets["ARI_PASSWORD"] {
		t.Errorf("ari.conf user %s: password is not ARI_PASSWORD", srv.Username)
	}
	if ro, _ := user.get("read_only"); ro != "no" {
		t.Errorf("ari.conf user %s: read_only %q, callscreen needs to write", srv.Username, ro)
	}
	app, _ := globals[0].get("CALLSCREEN_ARI_APP")
	if want := srv.App; app != want {
		t.Errorf("CALLSCREEN_ARI_APP = %q, callscreen.yaml's app %q", app, want)
	}

	// RTP: the range Asterisk uses is the range compose publishes.
	rtp := parseTree(t, etc, "rtp.conf").named("general")[0]
	start, _ := rtp.get("rtpstart")
	end, _ := rtp.get("rtpend")
	want := start + "-" + end + ":" + start + "-" + end + "/udp"
	if !slices.Contains(c.Services["asterisk"].Ports, want) {
		t.Errorf("rtp.conf uses %s-%s; docker-compose.yml publishes %v, want %q", start, end, c.Services["asterisk"].Ports, want)
	}
}

// TestAsteriskConfParser: the reader the checks rely on refuses what it
// does not understand instead of reading it wrong.
func TestAsteriskConfParser(t *testing.T) {
	tests := []struct {
		name, text, wantErr string
	}{
		{"ok", "[a](!)\nx = 1\n[b](a)\ny => 2 ; comment\n", ""},
		{"template after use", "[b](a)\n[a](!)\n", "not defined before"},
		{"outside section", "x = 1\n", "outside any section"},
		{"missing include", "[a]\n#include nothere.conf\n", "nothere.conf"},
		{"try include", "[a]\n#tryinclude nothere.conf\n", ""},
		{"not key value", "[a]\nhello\n", "want key = value"},
		{"append", "[a](+)\n", "appends"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "x.conf"), []byte(tt.text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := parseAst(dir, "x.conf")
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err %v, want %q", err, tt.wantErr)
			}
		})
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x.conf"), []byte("[a](!)\nx = 1\n[b](a)\nx = 2\ny = a\\;b ; c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := parseAst(dir, "x.conf")
	if err != nil {
		t.Fatal(err)
	}
	b := c.named("b")[0]
	if x, _ := b.get("x"); x != "2" || !slices.Equal(b.all("x"), []string{"1", "2"}) {
		t.Errorf("inherited then set x: %v", b.all("x"))
	}
	if y, _ := b.get("y"); y != `a\;b` {
		t.Errorf("y = %q", y)
	}
	if len(c.named("a")) != 0 {
		t.Error("a template is listed as a section")
	}
}
