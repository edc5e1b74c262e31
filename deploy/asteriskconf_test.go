package deploy

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// A small reader of Asterisk's configuration syntax, enough to check the
// compose stack's files against each other without an Asterisk: sections
// with templates, key = value and key => value, ';' comments ('\;' is a
// literal), #include and #tryinclude relative to the configuration
// directory.

type astVar struct{ key, value string }

type astSection struct {
	name     string
	template bool
	vars     []astVar
	where    string // file:line of the header
}

// get returns the last value of key ("" when unset) and whether it is set.
func (s *astSection) get(key string) (string, bool) {
	v, ok := "", false
	for _, kv := range s.vars {
		if kv.key == key {
			v, ok = kv.value, true
		}
	}
	return v, ok
}

// all returns every value of key, in order.
func (s *astSection) all(key string) []string {
	var vs []string
	for _, kv := range s.vars {
		if kv.key == key {
			vs = append(vs, kv.value)
		}
	}
	return vs
}

type astConf struct {
	sections []*astSection
	files    []string // every file read, the first one first
}

// named returns the non-template sections called name.
func (c *astConf) named(name string) []*astSection {
	var out []*astSection
	for _, s := range c.sections {
		if s.name == name && !s.template {
			out = append(out, s)
		}
	}
	return out
}

// ofType returns the non-template section called name whose type is typ.
func (c *astConf) ofType(name, typ string) *astSection {
	for _, s := range c.named(name) {
		if t, _ := s.get("type"); t == typ {
			return s
		}
	}
	return nil
}

var astHeader = regexp.MustCompile(`^\[([^\]]+)\](?:\(([^)]*)\))?\s*$`)

// parseAst reads file (relative to dir) and what it includes.
func parseAst(dir, file string) (*astConf, error) {
	c := &astConf{}
	var cur *astSection
	if err := c.read(dir, file, &cur, 0); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *astConf) read(dir, file string, cur **astSection, depth int) error {
	if depth > 10 {
		return fmt.Errorf("%s: includes nested too deep", file)
	}
	path := file
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, file)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	c.files = append(c.files, file)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		where := fmt.Sprintf("%s:%d", file, n)
		line := stripComment(sc.Text())
		line = strings.TrimSpace(line)
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, ";--") || strings.Contains(line, "--;"):
			return fmt.Errorf("%s: block comments are not read here", where)
		case strings.HasPrefix(line, "#include") || strings.HasPrefix(line, "#tryinclude"):
			directive, arg, _ := strings.Cut(line, " ")
			arg = strings.Trim(strings.TrimSpace(arg), `"<>`)
			if arg == "" {
				return fmt.Errorf("%s: %s without a file", where, directive)
			}
			if err := c.read(dir, arg, cur, depth+1); err != nil {
				if directive == "#tryinclude" && os.IsNotExist(err) {
					continue
				}
				return fmt.Errorf("%s: %s %s: %w", where, directive, arg, err)
			}
		case strings.HasPrefix(line, "#"):
			return fmt.Errorf("%s: unknown directive %q", where, line)
		case strings.HasPrefix(line, "["):
			m := astHeader.FindStringSubmatch(line)
			if m == nil {
				return fmt.Errorf("%s: bad section header %q", where, line)
			}
			s := &astSection{name: m[1], where: where}
			for _, opt := range strings.Split(m[2], ",") {
				opt = strings.TrimSpace(opt)
				switch opt {
				case "":
				case "!":
					s.template = true
				case "+":
					return fmt.Errorf("%s: [%s](+) appends are not read here", where, s.name)
				default:
					var tmpl *astSection
					for _, t := range c.sections {
						if t.name == opt {
							tmpl = t
						}
					}
					if tmpl == nil {
						return fmt.Errorf("%s: [%s] inherits %q, which is not defined before it", where, s.name, opt)
					}
					s.vars = append(s.vars, tmpl.vars...)
				}
			}
			c.sections = append(c.sections, s)
			*cur = s
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				return fmt.Errorf("%s: want key = value, got %q", where, line)
			}
			v = strings.TrimPrefix(v, ">")
			if *cur == nil {
				return fmt.Errorf("%s: %q outside any section", where, line)
			}
			(*cur).vars = append((*cur).vars, astVar{strings.TrimSpace(k), strings.TrimSpace(v)})
		}
	}
	return sc.Err()
}

// stripComment drops a ';' comment; '\;' stays a literal semicolon.
func stripComment(line string) string {
	for i := 0; i < len(line); i++ {
		if line[i] == ';' && (i == 0 || line[i-1] != '\\') {
			return line[:i]
		}
	}
	return line
}
