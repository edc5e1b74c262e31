package dialplan

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// A small interpreter for the dialplan subset the includes use, close
// enough to Asterisk's to run the routines against scripted outcomes: the
// file syntax of pbx/pbx_config.c (exten/same lines, labels, ';'
// comments), ${...} and $[...] substitution as
// main/pbx_variables.c does it (innermost first, on the template, so a
// value is never substituted again), and the applications and functions
// the includes call. Anything else fails the test that meets it.

// step is one priority of an extension.
type step struct {
	label, app, data string
	line             int
}

// plan is a parsed dialplan file: context → extension → priorities.
type plan map[string]map[string][]step

var (
	lineRE  = regexp.MustCompile(`^(exten|same)\s*=>\s*(.*)$`)
	labelRE = regexp.MustCompile(`^n\(([a-z0-9_-]+)\)$`)
)

// stripComment cuts a line at its first ';' (the config parser's comment
// start; the includes never escape one).
func stripComment(l string) string {
	if i := strings.Index(l, ";"); i >= 0 {
		return l[:i]
	}
	return l
}

// parse reads the contexts of a dialplan file.
func parse(t *testing.T, path string) plan {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := plan{}
	ctx, exten := "", ""
	for n, raw := range strings.Split(string(b), "\n") {
		l := strings.TrimSpace(stripComment(raw))
		if l == "" {
			continue
		}
		if strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]") {
			ctx = l[1 : len(l)-1]
			out[ctx] = map[string][]step{}
			exten = ""
			continue
		}
		m := lineRE.FindStringSubmatch(l)
		if m == nil || ctx == "" {
			t.Fatalf("%s:%d: cannot read %q", path, n+1, raw)
		}
		rest, label := m[2], ""
		if m[1] == "exten" {
			parts := strings.SplitN(rest, ",", 3)
			if len(parts) != 3 || parts[1] != "1" {
				t.Fatalf("%s:%d: want exten => NAME,1,App(...): %q", path, n+1, raw)
			}
			exten, rest = parts[0], parts[2]
		} else {
			if exten == "" {
				t.Fatalf("%s:%d: same => before any exten =>: %q", path, n+1, raw)
			}
			prio, app, ok := strings.Cut(rest, ",")
			if !ok {
				t.Fatalf("%s:%d: want same => n[(label)],App(...): %q", path, n+1, raw)
			}
			switch lm := labelRE.FindStringSubmatch(prio); {
			case prio == "n":
			case lm != nil:
				label = lm[1]
			default:
				t.Fatalf("%s:%d: want same => n[(label)],App(...): %q", path, n+1, raw)
			}
			rest = app
		}
		open := strings.Index(rest, "(")
		if open < 0 || !strings.HasSuffix(rest, ")") {
			t.Fatalf("%s:%d: want App(data): %q", path, n+1, raw)
		}
		out[ctx][exten] = append(out[ctx][exten], step{label: label, app: rest[:open], data: rest[open+1 : len(rest)-1], line: n + 1})
	}
	return out
}

// stir is what res_stir_shaken holds for the call.
type stir struct {
	count int
	// attestation and verify are result 0's fields; attestation "" is a
	// verification that failed before the signature was checked.
	attestation, verify string
}

// channel is the state of one simulated call running the dialplan.
type channel struct {
	vars map[string]string
	// modules are the loaded modules IFMODULE() sees.
	modules map[string]bool
	stir    stir
	// agi runs AGI(url): it returns the variables the AGI set and AGISTATUS.
	agi func(url string) map[string]string
	// stasis runs Stasis(app,args...): it returns the variables the
	// application set and STASISSTATUS.
	stasis     func(app string, args []string) map[string]string
	apps       []string // every application run, with its substituted data
	agiArgs    []string // the AGI() arguments after the URL
	stasisArgs []string // the Stasis() arguments after the application
	handlers   []string // hangup handlers pushed, in order
	end        string   // how the routine ended: Return, Hangup(21), VoiceMail(...), Goto(...), hung up
	// stirReads are the STIR_SHAKEN() reads, in order.
	stirReads []string
}

// subst expands ${...} and $[...] as the dialplan does: the innermost
// first, matching brackets on the template.
func (c *channel) subst(t *testing.T, s string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '$' || i+1 >= len(s) || (s[i+1] != '{' && s[i+1] != '[') {
			b.WriteByte(s[i])
			i++
			continue
		}
		open := s[i+1]
		closer := byte('}')
		if open == '[' {
			closer = ']'
		}
		depth, j := 0, i+1
		for ; j < len(s); j++ {
			if s[j] == open {
				depth++
			} else if s[j] == closer {
				if depth--; depth == 0 {
					break
				}
			}
		}
		if j == len(s) {
			t.Fatalf("unbalanced %q", s)
		}
		inner := c.subst(t, s[i+2:j])
		if open == '[' {
			b.WriteString(c.expr(t, inner))
		} else {
			b.WriteString(c.value(t, inner))
		}
		i = j + 1
	}
	return b.String()
}

// args splits function arguments at commas (no nesting is needed here).
func args(s string) []string { return strings.Split(s, ",") }

// decodeEscapes is ast_get_encoded_str for the escapes the includes use,
// after the configuration file's own level of backslashes ("\\n" in the
// file is "\n" for the function).
func decodeEscapes(s string) string {
	s = strings.ReplaceAll(s, `\\`, `\`)
	r := strings.NewReplacer(`\n`, "\n", `\r`, "\r", `\t`, "\t")
	return r.Replace(s)
}

// value reads a variable or one of the functions the includes use.
func (c *channel) value(t *testing.T, name string) string {
	t.Helper()
	fn, data, isFunc := strings.Cut(name, "(")
	if !isFunc {
		// ${var:offset:length}
		if v, sub, ok := strings.Cut(name, ":"); ok {
			val := c.vars[v]
			off, length, _ := strings.Cut(sub, ":")
			o, _ := strconv.Atoi(off)
			o = min(o, len(val))
			val = val[o:]
			if length != "" {
				n, _ := strconv.Atoi(length)
				val = val[:min(n, len(val))]
			}
			return val
		}
		return c.vars[name]
	}
	data = strings.TrimSuffix(data, ")")
	switch fn {
	case "IF":
		// As func_logic.c: split at the first '?', then the first ':'.
		cond, rest, _ := strings.Cut(data, "?")
		a, b, _ := strings.Cut(rest, ":")
		if strings.TrimSpace(cond) == "1" {
			return a
		}
		return b
	case "LEN":
		return strconv.Itoa(len(data))
	case "REPLACE":
		a := args(data)
		if len(a) != 3 {
			t.Fatalf("REPLACE(%s): want varname,find,replace", data)
		}
		val := c.value(t, a[0])
		find, repl := decodeEscapes(a[1]), a[2]
		if val == "" {
			t.Errorf("REPLACE of the empty %s: Asterisk fails the read", a[0])
		}
		return strings.Map(func(r rune) rune {
			if strings.ContainsRune(find, r) {
				return []rune(repl)[0]
			}
			return r
		}, val)
	case "IFMODULE":
		if c.modules[data] {
			return "1"
		}
		return "0"
	case "STIR_SHAKEN":
		c.stirReads = append(c.stirReads, data)
		if !c.modules["res_stir_shaken.so"] {
			t.Errorf("STIR_SHAKEN(%s) read without res_stir_shaken: Asterisk logs an error", data)
			return ""
		}
		a := args(data)
		if len(a) == 1 && a[0] == "count" {
			return strconv.Itoa(c.stir.count)
		}
		if i, err := strconv.Atoi(a[0]); err != nil || i >= c.stir.count || len(a) != 2 {
			t.Errorf("STIR_SHAKEN(%s) with %d results: Asterisk logs an error", data, c.stir.count)
			return ""
		}
		switch a[1] {
		case "attestation":
			return c.stir.attestation
		case "verify_result":
			if c.stir.attestation == "" {
				// res_stir_shaken.c:286 copies a NULL string for a
				// code missing from vs_rc_map (invalid_or_no_x5u),
				// and such a failure never has an attestation.
				t.Errorf("STIR_SHAKEN(%s) read for a result without attestation: unsafe in Asterisk 22", data)
			}
			return c.stir.verify
		}
		t.Fatalf("STIR_SHAKEN(%s) not known to the test interpreter", data)
	case "CALLERID":
		return c.vars[name]
	}
	t.Fatalf("function %q not known to the test interpreter", name)
	return ""
}

// expr evaluates a = b and a != b, numerically when both sides are
// numbers (as main/ast_expr2.y does).
func (c *channel) expr(t *testing.T, e string) string {
	t.Helper()
	for _, op := range []string{"!=", "="} {
		l, r, ok := strings.Cut(e, op)
		if !ok {
			continue
		}
		l, r = strings.TrimSpace(l), strings.TrimSpace(r)
		var eq bool
		ln, lerr := strconv.Atoi(l)
		rn, rerr := strconv.Atoi(r)
		if lerr == nil && rerr == nil {
			eq = ln == rn
		} else {
			eq = strings.Trim(l, `"`) == strings.Trim(r, `"`)
		}
		if (op == "=") == eq {
			return "1"
		}
		return "0"
	}
	t.Fatalf("expression %q not known to the test interpreter", e)
	return ""
}

// gosub runs context,exten with ARG1, ARG2... until Return, Hangup, Goto
// to another context or a hangup.
func (c *channel) gosub(t *testing.T, p plan, ctx, exten string, gargs ...string) {
	t.Helper()
	steps := p[ctx][exten]
	if len(steps) == 0 {
		t.Fatalf("no %s,%s in the dialplan", ctx, exten)
	}
	saved := c.vars
	local := map[string]string{}
	c.vars = map[string]string{}
	for k, v := range saved {
		c.vars[k] = v
	}
	for i, a := range gargs {
		c.vars[fmt.Sprintf("ARG%d", i+1)] = a
	}
	defer func() {
		// LOCAL() variables and ARGn end with the Gosub; the rest stays.
		for k := range local {
			delete(c.vars, k)
			if v, ok := saved[k]; ok {
				c.vars[k] = v
			}
		}
		for i := range gargs {
			delete(c.vars, fmt.Sprintf("ARG%d", i+1))
		}
	}()
	goTo := func(label string) int {
		for i, s := range steps {
			if s.label == label {
				return i
			}
		}
		t.Fatalf("no label %q in %s,%s", label, ctx, exten)
		return -1
	}
	set := func(data string) {
		name, val, _ := strings.Cut(data, "=")
		switch {
		case strings.HasPrefix(name, "LOCAL("):
			name = name[6 : len(name)-1]
			local[name] = ""
		case name == "CHANNEL(hangup_handler_push)":
			c.handlers = append(c.handlers, val)
			return
		}
		if val == "" && !strings.HasPrefix(name, "CALLERID(") {
			delete(c.vars, name)
			return
		}
		c.vars[name] = val // "__NAME" is kept as written, to check inheritance
	}
	for pc, n := 0, 0; pc < len(steps); n++ {
		if n > 200 {
			t.Fatal("dialplan loops")
		}
		s := steps[pc]
		pc++
		data := c.subst(t, s.data)
		c.apps = append(c.apps, s.app+"("+data+")")
		switch s.app {
		case "NoOp", "Playback", "Dial":
		case "Set":
			set(data)
		case "ExecIf":
			cond, app, _ := strings.Cut(data, "?")
			if cond == "1" {
				if !strings.HasPrefix(app, "Set(") {
					t.Fatalf("ExecIf of %q not known to the test interpreter", app)
				}
				set(app[4 : len(app)-1])
			}
		case "GotoIf":
			cond, labels, _ := strings.Cut(data, "?")
			yes, no, _ := strings.Cut(labels, ":")
			switch {
			case cond == "1":
				pc = goTo(yes)
			case no != "":
				pc = goTo(no)
			}
		case "Goto":
			if !strings.Contains(data, ",") {
				pc = goTo(data)
				continue
			}
			c.end = "Goto(" + data + ")"
			return
		case "AGI":
			url, a, _ := strings.Cut(data, ",")
			c.agiArgs = strings.Split(a, ",")
			out := c.agi(url)
			for k, v := range out {
				c.vars[k] = v
			}
			if out["AGISTATUS"] == "HANGUP" {
				// AGI() returns -1: the dialplan stops here.
				c.end = "hung up"
				return
			}
		case "Stasis":
			app, a, _ := strings.Cut(data, ",")
			c.stasisArgs = strings.Split(a, ",")
			out := c.stasis(app, c.stasisArgs)
			for k, v := range out {
				c.vars[k] = v
			}
			if out["hangup"] == "1" {
				delete(c.vars, "hangup")
				c.end = "hung up"
				return
			}
		case "Gosub":
			target, arg, _ := strings.Cut(data, "(")
			parts := strings.Split(target, ",")
			c.gosub(t, p, parts[0], parts[1], strings.Split(strings.TrimSuffix(arg, ")"), ",")...)
			if c.end != "Return" {
				return
			}
			c.end = ""
		case "Return":
			c.end = "Return"
			return
		case "Hangup", "VoiceMail":
			c.end = s.app + "(" + data + ")"
			return
		default:
			t.Fatalf("application %s not known to the test interpreter", s.app)
		}
	}
	c.end = "fell off the end"
}

// hangUp runs the pushed hangup handlers, last pushed first, as Asterisk
// does when the call ends (main/pbx_hangup_handler.c).
func (c *channel) hangUp(t *testing.T, p plan) {
	t.Helper()
	for _, h := range slices.Backward(c.handlers) {
		parts := strings.Split(h, ",")
		if len(parts) != 3 || parts[2] != "1" {
			t.Fatalf("hangup handler %q: want context,exten,1", h)
		}
		end := c.end
		c.gosub(t, p, parts[0], parts[1])
		if c.end != "Return" {
			t.Errorf("hangup handler %s ended %q, want Return()", h, c.end)
		}
		c.end = end
	}
}

func newChannel(vars map[string]string, agiFn func(string) map[string]string) *channel {
	c := &channel{
		vars:    map[string]string{"CALLERID(num)": "+12125551234", "CALLERID(name)": "J", "CALLERID(all)": `"J" <+12125551234>`, "EXTEN": "15551230000"},
		modules: map[string]bool{},
		agi:     agiFn,
	}
	for k, v := range vars {
		c.vars[k] = v
	}
	return c
}
