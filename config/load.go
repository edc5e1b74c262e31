package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// EnvPrefix prefixes every environment variable: agi.listen is
// CALLSCREEN_AGI_LISTEN.
const EnvPrefix = "CALLSCREEN"

// delim separates key parts inside viper. It is not "." because map keys
// such as reason codes (profiles.x.actions.caller.anonymous) contain dots.
const delim = "::"

var (
	durationType = reflect.TypeFor[time.Duration]()
	byteSizeType = reflect.TypeFor[ByteSize]()
	profileType  = reflect.TypeFor[Profile]()
	headersType  = reflect.TypeFor[Headers]()
)

// Load reads the configuration: defaults, then the YAML file at path (""
// for none), then CALLSCREEN_* environment variables, which win. It
// rejects unknown keys, naming them, and validates every value; the error
// names the key and the bad value.
func Load(path string) (*Config, error) {
	cfg, err := load(path)
	if err != nil {
		where := path
		if where == "" {
			where = "(defaults and environment)"
		}
		return nil, fmt.Errorf("config %s: %w", where, err)
	}
	return cfg, nil
}

func load(path string) (*Config, error) {
	v := viper.NewWithOptions(viper.KeyDelimiter(delim))
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(delim, "_"))
	v.AutomaticEnv()
	registerDefaults(v, "", reflect.ValueOf(Defaults()).Elem())

	var file map[string]any
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if err := yaml.Unmarshal(data, &file); err != nil {
			return nil, fmt.Errorf("parse yaml: %w", err)
		}
		if unknown := unknownKeys(file, reflect.TypeFor[Config](), ""); len(unknown) > 0 {
			if len(unknown) == 1 {
				return nil, fmt.Errorf("unknown key %q", unknown[0])
			}
			return nil, fmt.Errorf("unknown keys %q", unknown)
		}
		v.SetConfigType("yaml")
		if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("parse yaml: %w", err)
		}
	}
	// Environment overrides for the keys of profiles named in the file:
	// viper only looks up variables for keys it knows.
	if profiles, ok := lookupMap(file, "profiles"); ok {
		for name := range profiles {
			prefix := "profiles" + delim + strings.ToLower(name) + delim
			for _, k := range leafKeys(profileType, "") {
				env := EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(prefix+k, delim, "_"))
				if val, ok := os.LookupEnv(env); ok {
					v.Set(prefix+k, val)
				}
			}
		}
	}

	settings := v.AllSettings()
	if profiles, ok := lookupMap(file, "profiles"); ok {
		// viper drops empty maps: "sales: {}" is still a profile.
		all, _ := asMap(settings["profiles"])
		if all == nil {
			all = map[string]any{}
		}
		for name := range profiles {
			if _, ok := all[strings.ToLower(name)]; !ok {
				all[strings.ToLower(name)] = map[string]any{}
			}
		}
		settings["profiles"] = all
	}
	inheritProfiles(settings)
	cfg := &Config{}
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			byteSizeHook,
			durationHook,
			mapstructure.StringToSliceHookFunc(","),
		),
		ErrorUnused:      true,
		WeaklyTypedInput: true,
		Result:           cfg,
	})
	if err != nil {
		return nil, err
	}
	if err := dec.Decode(settings); err != nil {
		return nil, decodeError(err)
	}
	cfg.path = path
	if err := cfg.resolve(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// decodeError rewrites mapstructure's report as one problem per key,
// each naming the dotted key and the bad value.
func decodeError(err error) error {
	var lines []string
	var walk func(error)
	walk = func(e error) {
		if de, ok := e.(*mapstructure.DecodeError); ok {
			name := strings.ReplaceAll(de.Name(), delim, ".")
			var pe *mapstructure.ParseError
			if errors.As(de.Unwrap(), &pe) {
				lines = append(lines, fmt.Sprintf("%s %q: want %s", name, fmt.Sprint(pe.Value), kindName(pe.Expected.Kind())))
			} else {
				msg := de.Unwrap().Error()
				sep := ": "
				if strings.HasPrefix(msg, `"`) {
					sep = " "
				}
				lines = append(lines, name+sep+msg)
			}
			return
		}
		if multi, ok := e.(interface{ Unwrap() []error }); ok {
			for _, inner := range multi.Unwrap() {
				walk(inner)
			}
			return
		}
		if inner := errors.Unwrap(e); inner != nil {
			walk(inner)
			return
		}
		lines = append(lines, strings.ReplaceAll(e.Error(), delim, "."))
	}
	walk(err)
	slices.Sort(lines)
	return errors.New(strings.Join(lines, "; "))
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64:
		return "an integer"
	case reflect.Bool:
		return "true or false"
	case reflect.Float64, reflect.Float32:
		return "a number"
	}
	return "a " + k.String()
}

func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != durationType {
		return data, nil
	}
	s, ok := data.(string)
	if !ok {
		return data, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("%q: want a duration such as 500ms, 5s, 2m or 720h", s)
	}
	return d, nil
}

func byteSizeHook(from, to reflect.Type, data any) (any, error) {
	if to != byteSizeType {
		return data, nil
	}
	switch d := data.(type) {
	case string:
		b, err := ParseByteSize(d)
		if err != nil {
			return nil, err
		}
		return b, nil
	case ByteSize:
		return d, nil
	}
	return data, nil
}

// registerDefaults tells viper every key and its default, so that
// AutomaticEnv sees every key.
func registerDefaults(v *viper.Viper, prefix string, val reflect.Value) {
	t := val.Type()
	switch {
	case t.Kind() == reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("mapstructure")
			if tag == "" || !f.IsExported() {
				continue
			}
			registerDefaults(v, prefix+tag+delim, val.Field(i))
		}
	case t.Kind() == reflect.Map && t.Elem() == profileType:
		for _, k := range val.MapKeys() {
			registerDefaults(v, prefix+k.String()+delim, val.MapIndex(k))
		}
	default:
		v.SetDefault(strings.TrimSuffix(prefix, delim), plain(val))
	}
}

// plain turns a config value into what a YAML file would hold: durations
// and sizes as strings, structs as maps keyed by their tags, secrets
// redacted.
func plain(val reflect.Value) any {
	t := val.Type()
	switch {
	case t == durationType:
		return time.Duration(val.Int()).String()
	case t == byteSizeType:
		return ByteSize(val.Int()).String()
	case t == secretType:
		return val.Interface().(Secret).String()
	case t == headersType:
		m := map[string]any{}
		for k, v := range val.Interface().(Headers).Redacted() {
			m[k] = v
		}
		return m
	}
	switch t.Kind() {
	case reflect.Struct:
		m := map[string]any{}
		for i := range t.NumField() {
			f := t.Field(i)
			if tag := f.Tag.Get("mapstructure"); tag != "" && f.IsExported() {
				m[tag] = plain(val.Field(i))
				// A secret read from its file shows empty: the file
				// key says where it comes from, and the output loads
				// back.
				if j, ok := secretFileField(t, tag); ok && f.Type == secretType && val.Field(j).String() != "" {
					m[tag] = ""
				}
			}
		}
		return m
	case reflect.Map:
		m := map[string]any{}
		for _, k := range val.MapKeys() {
			m[k.String()] = plain(val.MapIndex(k))
		}
		return m
	case reflect.Slice:
		s := make([]any, val.Len())
		for i := range s {
			s[i] = plain(val.Index(i))
		}
		return s
	}
	return val.Interface()
}

// leafKeys lists the keys of struct type t, joined with delim.
func leafKeys(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("mapstructure")
		if tag == "" || !f.IsExported() {
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Type != durationType {
			out = append(out, leafKeys(f.Type, prefix+tag+delim)...)
			continue
		}
		out = append(out, prefix+tag)
	}
	return out
}

// unknownKeys walks a parsed YAML document against the schema and returns
// the dotted names of keys the schema does not have, sorted.
func unknownKeys(raw any, t reflect.Type, prefix string) []string {
	var out []string
	switch t.Kind() {
	case reflect.Struct:
		m, ok := asMap(raw)
		if !ok {
			return nil // a type error, reported by the decoder
		}
		for k, val := range m {
			f, ok := fieldByTag(t, strings.ToLower(k))
			if !ok {
				out = append(out, prefix+k)
				continue
			}
			out = append(out, unknownKeys(val, f.Type, prefix+k+".")...)
		}
	case reflect.Map:
		m, ok := asMap(raw)
		if !ok {
			return nil
		}
		for k, val := range m {
			out = append(out, unknownKeys(val, t.Elem(), prefix+k+".")...)
		}
	case reflect.Slice:
		s, ok := raw.([]any)
		if !ok || t.Elem().Kind() != reflect.Struct {
			return nil
		}
		p := strings.TrimSuffix(prefix, ".")
		for i, val := range s {
			out = append(out, unknownKeys(val, t.Elem(), fmt.Sprintf("%s[%d].", p, i))...)
		}
	}
	slices.Sort(out)
	return out
}

func fieldByTag(t reflect.Type, tag string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Tag.Get("mapstructure") == tag && f.IsExported() {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func asMap(raw any) (map[string]any, bool) {
	switch m := raw.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[fmt.Sprint(k)] = v
		}
		return out, true
	}
	return nil, false
}

func lookupMap(m map[string]any, key string) (map[string]any, bool) {
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return asMap(v)
		}
	}
	return nil, false
}

// inheritProfiles fills every profile's unset keys from profiles.default.
func inheritProfiles(settings map[string]any) {
	profiles, ok := asMap(settings["profiles"])
	if !ok {
		return
	}
	def, _ := asMap(profiles["default"])
	for name, p := range profiles {
		if name == "default" {
			continue
		}
		pm, ok := asMap(p)
		if !ok {
			continue // a type error, reported by the decoder
		}
		profiles[name] = mergeMaps(cloneMap(def), pm)
	}
	settings["profiles"] = profiles
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if sub, ok := asMap(v); ok {
			v = cloneMap(sub)
		}
		out[k] = v
	}
	return out
}

// mergeMaps writes src over dst, recursing into maps present in both.
func mergeMaps(dst, src map[string]any) map[string]any {
	for k, v := range src {
		if sv, ok := asMap(v); ok {
			if dv, ok := asMap(dst[k]); ok {
				dst[k] = mergeMaps(dv, sv)
				continue
			}
		}
		dst[k] = v
	}
	return dst
}
