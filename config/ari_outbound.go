package config

import (
	"fmt"
	"os"
	"strings"
)

// OutboundPasswordEnv is the environment variable that sets the password
// of ari.outbound.users[i] (lists cannot be set from the environment
// otherwise): CALLSCREEN_ARI_OUTBOUND_USERS_0_PASSWORD for the first.
func OutboundPasswordEnv(i int) string {
	return fmt.Sprintf("%s_ARI_OUTBOUND_USERS_%d_PASSWORD", EnvPrefix, i)
}

// resolveARIOutbound checks the websocket server for Asterisk's outbound
// connections and reads its passwords.
func (c *Config) resolveARIOutbound() error {
	o := &c.ARI.Outbound
	if o.Listen == "" {
		if len(o.Users) > 0 {
			return fmt.Errorf("ari.outbound.users: set ari.outbound.listen too (without it nothing accepts Asterisk's connections)")
		}
		return nil
	}
	if err := hostPort("ari.outbound.listen", o.Listen); err != nil {
		return err
	}
	if o.Path != "" && !strings.HasPrefix(o.Path, "/") {
		return fmt.Errorf("ari.outbound.path %q: want a path starting with /", o.Path)
	}
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		return fmt.Errorf("ari.outbound: tls_cert_file and tls_key_file must be set together")
	}
	for key, f := range map[string]string{"ari.outbound.tls_cert_file": o.TLSCertFile, "ari.outbound.tls_key_file": o.TLSKeyFile} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%s %q: %w", key, f, errorsCause(err))
		}
	}
	if o.MaxConnections < 0 {
		return fmt.Errorf("ari.outbound.max_connections %d: must not be negative (0 is the default, 5000)", o.MaxConnections)
	}
	if len(o.Users) == 0 {
		return fmt.Errorf("ari.outbound.users: at least one user is required (the username and password of websocket_client.conf)")
	}
	seen := map[string]bool{}
	for i := range o.Users {
		u := &o.Users[i]
		key := fmt.Sprintf("ari.outbound.users[%d]", i)
		switch {
		case u.Username == "":
			return fmt.Errorf("%s.username: must be set", key)
		case strings.ContainsAny(u.Username, ":\r\n"):
			return fmt.Errorf("%s.username %q: must not contain ':' or line breaks", key, u.Username)
		case seen[u.Username]:
			return fmt.Errorf("%s.username %q: listed twice", key, u.Username)
		case u.MaxConnections < 0:
			return fmt.Errorf("%s.max_connections %d: must not be negative (0 is no bound of its own)", key, u.MaxConnections)
		}
		seen[u.Username] = true
		if v, ok := os.LookupEnv(OutboundPasswordEnv(i)); ok {
			if u.PasswordFile != "" {
				return fmt.Errorf("%s.password and %s.password_file are both set: set one", key, key)
			}
			u.Password = Secret(v)
		}
		if !u.Password.IsSet() {
			return fmt.Errorf("%s.password: must be set (or password_file, or %s)", key, OutboundPasswordEnv(i))
		}
		if u.Tenant != "" && !validTenant(u.Tenant) {
			return fmt.Errorf("%s.tenant %q: want 1 to 64 letters, digits, '.', '_' or '-'", key, u.Tenant)
		}
		if u.Profile != "" {
			u.Profile = strings.ToLower(u.Profile)
			if _, ok := c.resolved[u.Profile]; !ok {
				return fmt.Errorf("%s.profile %q: no such profile", key, u.Profile)
			}
		}
	}
	return nil
}
