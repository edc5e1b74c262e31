package e2e

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The ari.conf and websocket_client.conf examples of the install guide
// must load on Asterisk 22.10 without a warning. Without an Asterisk
// here, they are checked against what its source registers and warns
// about:
//   - res/ari/config.c: the options of [general], type=user and
//     type=outbound_websocket (ari_conf_init); outbound_websocket_apply
//     warns on a missing websocket_client_id, apps or local_ari_user and
//     on an app name over ARI_MAX_APP_NAME_LEN; outbound_websocket_validate_cb
//     on an app registered by two sections, a local_ari_user that does
//     not exist or whose password is not plain text; a user without a
//     password is refused ("User missing password").
//   - res/res_websocket_client.c: the options of type=websocket_client
//     (load_module), wc_apply's "missing uri", connection_type's two
//     values; TLS is used only with tls_enabled (the uri's scheme does not
//     turn it on).

// iniSection is one section of an Asterisk configuration file.
type iniSection struct {
	name string
	vars map[string]string
	keys []string
}

func parseINI(t *testing.T, where, text string) []*iniSection {
	t.Helper()
	var out []*iniSection
	var cur *iniSection
	for i, line := range strings.Split(text, "\n") {
		if c := strings.IndexByte(line, ';'); c >= 0 {
			line = line[:c]
		}
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			cur = &iniSection{name: line[1 : len(line)-1], vars: map[string]string{}}
			out = append(out, cur)
		case cur == nil:
			t.Errorf("%s line %d: %q outside a section", where, i+1, line)
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Errorf("%s line %d: %q is not key = value", where, i+1, line)
				continue
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if _, dup := cur.vars[k]; dup {
				t.Errorf("%s [%s]: %s set twice", where, cur.name, k)
			}
			cur.vars[k] = v
			cur.keys = append(cur.keys, k)
		}
	}
	return out
}

var (
	ariGeneralOptions  = []string{"type", "auth_realm", "allowed_origins", "channelvars", "enabled", "pretty", "websocket_write_timeout"}
	ariUserOptions     = []string{"type", "password", "read_only", "password_format", "permit", "deny", "acl"}
	ariOutboundOptions = []string{"type", "websocket_client_id", "apps", "local_ari_user", "subscribe_all"}
	wsClientOptions    = []string{"type", "connection_type", "uri", "protocols", "username", "password", "ca_list_file", "ca_list_path",
		"cert_file", "priv_key_file", "tls_enabled", "verify_server_cert", "verify_server_hostname", "connection_timeout",
		"reconnect_attempts", "reconnect_interval"}
)

// ariMaxAppNameLen is ARI_MAX_APP_NAME_LEN (AST_MAX_CONTEXT, 80, less
// the "stasis-" prefix).
const ariMaxAppNameLen = 80 - len("stasis-")

func checkOptions(t *testing.T, where string, s *iniSection, allowed []string) {
	t.Helper()
	for _, k := range s.keys {
		if !slices.Contains(allowed, k) {
			t.Errorf("%s [%s]: unknown option %q", where, s.name, k)
		}
	}
}

func asteriskBool(v string) (bool, bool) {
	switch strings.ToLower(v) {
	case "yes", "true", "y", "t", "1", "on":
		return true, true
	case "no", "false", "n", "f", "0", "off":
		return false, true
	}
	return false, false
}

func TestOutboundAsteriskConfigs(t *testing.T) {
	const doc = "docs/install-asterisk.md"
	var ari, ws []*iniSection
	for _, b := range readBlocks(t, doc) {
		if b.lang != "ini" {
			continue
		}
		switch {
		case strings.Contains(b.text, "/ari.conf"):
			ari = append(ari, parseINI(t, b.where(), b.text)...)
		case strings.Contains(b.text, "/websocket_client.conf"):
			ws = append(ws, parseINI(t, b.where(), b.text)...)
		}
	}
	if len(ari) == 0 || len(ws) == 0 {
		t.Fatalf("%s: no ari.conf (%d sections) or websocket_client.conf (%d) example", doc, len(ari), len(ws))
	}
	clients := map[string]*iniSection{}
	for _, s := range ws {
		where := doc + " websocket_client.conf"
		if s.vars["type"] != "websocket_client" {
			t.Errorf("%s [%s]: type %q", where, s.name, s.vars["type"])
			continue
		}
		checkOptions(t, where, s, wsClientOptions)
		clients[s.name] = s
		u, err := url.Parse(s.vars["uri"])
		if s.vars["uri"] == "" || err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			t.Errorf("%s [%s]: uri %q: want ws:// or wss://host:port/path", where, s.name, s.vars["uri"])
		}
		if ct := s.vars["connection_type"]; ct != "persistent" && ct != "per_call_config" {
			t.Errorf("%s [%s]: connection_type %q: want persistent or per_call_config", where, s.name, ct)
		}
		if s.vars["protocols"] != "ari" {
			t.Errorf("%s [%s]: protocols %q: callscreen requires ari", where, s.name, s.vars["protocols"])
		}
		if s.vars["username"] == "" || s.vars["password"] == "" {
			t.Errorf("%s [%s]: username and password are what callscreen checks", where, s.name)
		}
		tlsOn, _ := asteriskBool(s.vars["tls_enabled"])
		if err == nil && (u.Scheme == "wss") != tlsOn {
			t.Errorf("%s [%s]: uri %s with tls_enabled %q", where, s.name, u.Scheme, s.vars["tls_enabled"])
		}
		for _, k := range []string{"connection_timeout", "reconnect_interval", "reconnect_attempts"} {
			if v, ok := s.vars[k]; ok {
				if n, err := strconv.Atoi(v); err != nil || n <= 0 {
					t.Errorf("%s [%s]: %s %q: want a positive integer", where, s.name, k, v)
				}
			}
		}
		for _, k := range []string{"tls_enabled", "verify_server_cert", "verify_server_hostname"} {
			if v, ok := s.vars[k]; ok {
				if _, ok := asteriskBool(v); !ok {
					t.Errorf("%s [%s]: %s %q: want yes or no", where, s.name, k, v)
				}
			}
		}
	}
	users := map[string]*iniSection{}
	apps := map[string]string{}
	where := doc + " ari.conf"
	for _, s := range ari {
		switch s.vars["type"] {
		case "":
			if s.name != "general" {
				t.Errorf("%s [%s]: no type", where, s.name)
			}
			checkOptions(t, where, s, ariGeneralOptions)
		case "user":
			checkOptions(t, where, s, ariUserOptions)
			if s.vars["password"] == "" {
				t.Errorf("%s [%s]: user missing password", where, s.name)
			}
			users[s.name] = s
		}
	}
	n := 0
	for _, s := range ari {
		if s.vars["type"] != "outbound_websocket" {
			continue
		}
		n++
		checkOptions(t, where, s, ariOutboundOptions)
		if c := clients[s.vars["websocket_client_id"]]; c == nil {
			t.Errorf("%s [%s]: websocket_client_id %q: no such websocket_client", where, s.name, s.vars["websocket_client_id"])
		}
		if s.vars["apps"] == "" {
			t.Errorf("%s [%s]: missing apps", where, s.name)
		}
		for _, app := range strings.Split(s.vars["apps"], ",") {
			app = strings.TrimSpace(app)
			switch {
			case app == "":
				t.Errorf("%s [%s]: empty app", where, s.name)
			case len(app) > ariMaxAppNameLen:
				t.Errorf("%s [%s]: app %q over %d characters", where, s.name, app, ariMaxAppNameLen)
			case apps[app] != "":
				t.Errorf("%s [%s]: app %q also registered by [%s]", where, s.name, app, apps[app])
			}
			apps[app] = s.name
		}
		u := users[s.vars["local_ari_user"]]
		switch {
		case s.vars["local_ari_user"] == "":
			t.Errorf("%s [%s]: missing local_ari_user (required)", where, s.name)
		case u == nil:
			t.Errorf("%s [%s]: local_ari_user %q: no such user", where, s.name, s.vars["local_ari_user"])
		case u.vars["password_format"] != "" && u.vars["password_format"] != "plain":
			t.Errorf("%s [%s]: local_ari_user %q: its password must be plain text", where, s.name, u.name)
		}
		if v, ok := s.vars["subscribe_all"]; ok {
			if _, ok := asteriskBool(v); !ok {
				t.Errorf("%s [%s]: subscribe_all %q", where, s.name, v)
			}
		}
	}
	if n == 0 {
		t.Errorf("%s: no outbound_websocket section", where)
	}
}
