package config

import (
	"reflect"
	"slices"
)

// restartTag marks a key (or a whole section) that serve reads only when
// it starts: `reload:"restart"`.
const restartTag = "restart"

func restartOnly(f reflect.StructField) bool { return f.Tag.Get("reload") == restartTag }

// RestartKeys returns, sorted, the dotted keys that differ between a (the
// configuration in force) and b (the one a reload loaded) and that take
// effect only at the next start. Within a section tagged as a whole, each
// changed key is named (redis.addrs); a list of sections (ari.servers) is
// named as a whole.
func RestartKeys(a, b *Config) []string {
	var out []string
	diffKeys(reflect.ValueOf(*a), reflect.ValueOf(*b), "", false, &out)
	slices.Sort(out)
	return out
}

func diffKeys(a, b reflect.Value, key string, restart bool, out *[]string) {
	t := a.Type()
	if t.Kind() == reflect.Struct {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("mapstructure")
			if tag == "" || !f.IsExported() {
				continue
			}
			if key != "" {
				tag = key + "." + tag
			}
			diffKeys(a.Field(i), b.Field(i), tag, restart || restartOnly(f), out)
		}
		return
	}
	if restart && !reflect.DeepEqual(a.Interface(), b.Interface()) {
		*out = append(*out, key)
	}
}

// RestartOnly lists the keys and sections read only at start, as the
// schema tags them: what docs/configuration.md must name under Reload.
func RestartOnly() []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("mapstructure")
			switch {
			case tag == "" || !f.IsExported():
			case restartOnly(f):
				out = append(out, prefix+tag)
			case f.Type.Kind() == reflect.Struct:
				walk(f.Type, prefix+tag+".")
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	return out
}
