package dialplan

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// includes returns every dialplan file shipped in this directory.
func includes(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.conf")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no *.conf in dialplan/")
	}
	return files
}

// TestLoadsWithoutWarnings checks every include for what makes Asterisk
// warn when it loads or runs the file: the conditions pbx/pbx_config.c
// (pbx_load_config, Asterisk 22.10.1) logs at load, labels a Goto cannot
// find, and Set() names with spaces (main/pbx_variables.c,
// pbx_builtin_setvar).
func TestLoadsWithoutWarnings(t *testing.T) {
	labelRef := regexp.MustCompile(`^(?:GotoIf\([^?]*\?([a-z0-9_-]+)(?::([a-z0-9_-]+))?\)|Goto\(([a-z0-9_-]+)\))$`)
	for _, f := range includes(t) {
		t.Run(f, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for n, raw := range strings.Split(string(b), "\n") {
				l := strings.TrimSpace(stripComment(raw))
				m := lineRE.FindStringSubmatch(l)
				if m == nil {
					continue
				}
				if m[1] == "exten" {
					// "The use of '_.' for an extension is strongly
					// discouraged ... Please use '_X.' instead"
					// (pbx_config.c:1888): _. and _! also match h, i, t.
					name, _, _ := strings.Cut(m[2], ",")
					if name == "_." || name == "_!" {
						t.Errorf("%s:%d: extension %s: Asterisk warns at load (use _X. or a character class)", f, n+1, name)
					}
				}
				// "No closing parenthesis found?" (pbx_config.c:1856):
				// a ';' in the data starts a comment and cuts the line.
				if !strings.HasSuffix(l, ")") {
					t.Errorf("%s:%d: the application's data does not end with ')' once comments are cut: %q", f, n+1, raw)
				}
				for _, pair := range []string{"()", "{}", "[]"} {
					if strings.Count(l, pair[:1]) != strings.Count(l, pair[1:]) {
						t.Errorf("%s:%d: unbalanced %s: %q", f, n+1, pair, raw)
					}
				}
				if strings.Contains(l, ",Set(") {
					data := l[strings.Index(l, ",Set(")+5:]
					if name, _, _ := strings.Cut(data, "="); strings.Contains(name, " ") {
						t.Errorf("%s:%d: Set() of a name with a space: Asterisk warns", f, n+1)
					}
				}
			}
			// Every label a Goto or GotoIf names exists in its extension.
			for ctx, extens := range parse(t, f) {
				for exten, steps := range extens {
					var labels []string
					for _, s := range steps {
						if s.label != "" {
							if slices.Contains(labels, s.label) {
								t.Errorf("%s:%d: label %s twice in %s,%s", f, s.line, s.label, ctx, exten)
							}
							labels = append(labels, s.label)
						}
					}
					for _, s := range steps {
						m := labelRef.FindStringSubmatch(s.app + "(" + s.data + ")")
						if m == nil {
							continue
						}
						for _, ref := range m[1:] {
							if ref != "" && !slices.Contains(labels, ref) {
								t.Errorf("%s:%d: %s jumps to %q, not a label of %s,%s", f, s.line, s.app, ref, ctx, exten)
							}
						}
					}
				}
			}
		})
	}
}

// TestCallerIDCleanedBeforeScreening: every routine that hands a call to
// callscreen first turns CR and LF in the caller name and number into
// spaces, with exactly the lines verified on Asterisk 22.10.1
// (shared/fixtures/asterisk-22.10.1/agi/caller-name-newlines-replaced.txt).
func TestCallerIDCleanedBeforeScreening(t *testing.T) {
	want := []string{
		`Set(CALLERID(name)=${REPLACE(CALLERID(name),\\n\\r, )})`,
		`Set(CALLERID(num)=${REPLACE(CALLERID(num),\\n\\r, )})`,
	}
	routines := 0
	for _, f := range includes(t) {
		for ctx, extens := range parse(t, f) {
			for exten, steps := range extens {
				hand := slices.IndexFunc(steps, func(s step) bool { return s.app == "AGI" || s.app == "Stasis" })
				if hand < 0 {
					continue
				}
				routines++
				for _, w := range want {
					at := slices.IndexFunc(steps, func(s step) bool { return s.app+"("+s.data+")" == w })
					switch {
					case at < 0:
						t.Errorf("%s [%s] %s: no %s before %s()", f, ctx, exten, w, steps[hand].app)
					case at > hand:
						t.Errorf("%s [%s] %s: %s comes after %s()", f, ctx, exten, w, steps[hand].app)
					}
				}
			}
		}
	}
	if routines < 2 {
		t.Fatalf("found %d routines calling AGI() or Stasis(); want the FastAGI and the ARI one", routines)
	}
}
