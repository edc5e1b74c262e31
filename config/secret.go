package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"reflect"
	"strings"
)

// Redacted is what a Secret that is set shows instead of its value.
const Redacted = "[redacted]"

// Secret is a configuration value that must never be shown: an API key, a
// password, a token. It hides itself wherever it goes: printed with fmt
// (any verb, also inside a struct printed with %v or %+v), marshalled as
// JSON, YAML or text, or logged with slog, a Secret that is set shows as
// "[redacted]" and an empty one as "". Only Value returns what it holds;
// call it where the secret is handed to the client that sends it.
//
// Every key of the schema whose name says key, token, password, secret,
// sid or dsn is a Secret (a test walks the schema); each has a sibling
// *_file key, read by Load.
type Secret string

// Value returns the secret itself.
func (s Secret) Value() string { return string(s) }

// IsSet reports whether the secret holds anything.
func (s Secret) IsSet() bool { return s != "" }

// String returns "[redacted]", or "" when the secret is empty.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString is String: %#v shows no secret either.
func (s Secret) GoString() string { return fmt.Sprintf("%q", s.String()) }

// Format prints String under any verb and flags.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, s.GoString())
		return
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), s.String())
}

// MarshalJSON writes String as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalYAML writes String.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalText writes String.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue makes slog log String.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Headers are HTTP headers sent with a request (feed.headers). A header
// whose name mentions a credential (auth, token, key, secret, cookie,
// password) is a secret: Headers print, marshal and log with its value
// replaced by "[redacted]"; the map itself keeps the value for the request.
type Headers map[string]string

// Redacted returns a copy with every credential header's value replaced.
func (h Headers) Redacted() map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		if sensitiveHeader(k) && v != "" {
			v = Redacted
		}
		out[k] = v
	}
	return out
}

// Format prints the redacted copy under any verb and flags.
func (h Headers) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, fmt.FormatString(f, verb), h.Redacted())
}

// MarshalJSON writes the redacted copy.
func (h Headers) MarshalJSON() ([]byte, error) { return json.Marshal(h.Redacted()) }

// MarshalYAML writes the redacted copy.
func (h Headers) MarshalYAML() (any, error) { return h.Redacted(), nil }

// LogValue makes slog log the redacted copy.
func (h Headers) LogValue() slog.Value { return slog.AnyValue(h.Redacted()) }

// Clone returns a copy of the headers, values included, for a request.
func (h Headers) Clone() map[string]string { return maps.Clone(map[string]string(h)) }

// sensitiveHeader reports whether a header carries a credential.
func sensitiveHeader(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "auth") || strings.Contains(n, "token") || strings.Contains(n, "key") ||
		strings.Contains(n, "secret") || strings.Contains(n, "cookie") || strings.Contains(n, "password")
}

var (
	secretType = reflect.TypeFor[Secret]()
	stringType = reflect.TypeFor[string]()
)

// secretFileField returns the sibling *_file field of a Secret field of
// struct type t: for key "password", the string field tagged
// "password_file".
func secretFileField(t reflect.Type, tag string) (int, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.IsExported() && f.Type == stringType && f.Tag.Get("mapstructure") == tag+"_file" {
			return i, true
		}
	}
	return 0, false
}

// resolveSecrets reads every Secret whose *_file key is set, anywhere in
// the configuration. Setting both a secret and its file is an error, as is
// an unreadable or empty file.
func (c *Config) resolveSecrets() error {
	return walkSecrets(reflect.ValueOf(c).Elem(), "", func(key string, s *Secret, file string) error {
		v, err := readSecret(key, s.Value(), file)
		*s = Secret(v)
		return err
	})
}

// walkSecrets calls fn for every Secret field under v (a struct, or a
// slice or map of them), with its dotted key and the value of its *_file
// sibling ("" when it has none).
func walkSecrets(v reflect.Value, prefix string, fn func(key string, s *Secret, file string) error) error {
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("mapstructure")
			if tag == "" || !f.IsExported() {
				continue
			}
			fv := v.Field(i)
			if f.Type == secretType {
				file := ""
				if j, ok := secretFileField(t, tag); ok {
					file = v.Field(j).String()
				}
				if err := fn(prefix+tag, fv.Addr().Interface().(*Secret), file); err != nil {
					return err
				}
				continue
			}
			if err := walkSecrets(fv, prefix+tag+".", fn); err != nil {
				return err
			}
		}
	case reflect.Slice:
		p := strings.TrimSuffix(prefix, ".")
		for i := range v.Len() {
			if err := walkSecrets(v.Index(i), fmt.Sprintf("%s[%d].", p, i), fn); err != nil {
				return err
			}
		}
	}
	// Maps hold profiles, headers and DIDs: no Secret fields (a test
	// walks the schema and would say so).
	return nil
}

// readSecret returns the value of a secret set either directly (or through
// the environment) or in a file.
func readSecret(key, val, file string) (string, error) {
	switch {
	case val != "" && file != "":
		return "", fmt.Errorf("%s and %s_file are both set: set one", key, key)
	case file == "":
		return val, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s_file %q: %w", key, file, errorsCause(err))
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s_file %q: file is empty", key, file)
	}
	return s, nil
}
