package agitest

// maxArgs is Asterisk's MAX_ARGS (res_agi.c): parse_args keeps at most
// maxArgs-1 tokens and drops the rest.
const maxArgs = 128

// ParseArgs splits one AGI command line into tokens exactly as Asterisk's
// parse_args (res_agi.c) does: space and tab separate tokens, `"` toggles
// quoting (a quote opening after whitespace starts a token, even an empty
// one), "\" makes the next character literal, inside quotes or not, and
// there are no other escapes. Tokens past the 127th are dropped, and a NUL
// ends the line (Asterisk handles it as a C string).
func ParseArgs(line string) []string {
	var (
		argv       []string
		cur        []byte
		started    bool // cur is a token in progress
		quoted     bool
		escaped    bool
		whitespace = true
	)
	flush := func() {
		if started {
			argv = append(argv, string(cur))
			cur, started = cur[:0], false
		}
	}
	for i := 0; i < len(line) && line[i] != 0; i++ {
		c := line[i]
		switch {
		case c == '"' && !escaped:
			quoted = !quoted
			if quoted && whitespace {
				// A token starts here, even past the cap: Asterisk
				// does not check it on this path, but its argv has no
				// room, so such a token is kept only under the cap.
				if len(argv) < maxArgs-1 {
					flush()
					started = true
				}
				whitespace = false
			}
			escaped = false
			continue
		case (c == ' ' || c == '\t') && !quoted && !escaped:
			whitespace = true
			flush()
			continue
		case c == '\\' && !escaped:
			escaped = true
			continue
		}
		// normal character (or an escaped one)
		if whitespace {
			if len(argv)+boolInt(started) >= maxArgs-1 {
				continue // "Too many arguments, truncating"
			}
			flush()
			started = true
			whitespace = false
		}
		if started {
			cur = append(cur, c)
		}
		escaped = false
	}
	flush()
	return argv
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// SeparateArgs splits an application's argument string as Asterisk's
// __ast_app_separate_args (main/app.c) does with remove_chars set: at
// delim, except inside double quotes, parentheses or brackets; a double
// quote toggles quoting and is removed; a backslash is removed and the
// character after it taken literally. At most max-1 arguments are split
// off; the rest of the string becomes the last one as it is. A delimiter
// at the very end adds an empty last argument.
func SeparateArgs(s string, delim byte, max int) []string {
	var out []string
	b := []byte(s)
	if i := indexNUL(b); i >= 0 {
		b = b[:i]
	}
	pos := 0
	paren, bracket, quote := 0, 0, false
	wasDelim := -1
	for len(out) < max-1 && pos < len(b) {
		var cur []byte
		for pos < len(b) {
			c := b[pos]
			switch {
			case c == '(':
				paren++
			case c == ')':
				if paren > 0 {
					paren--
				}
			case c == '[':
				bracket++
			case c == ']':
				if bracket > 0 {
					bracket--
				}
			case c == '"' && delim != '"':
				quote = !quote
				pos++
				continue // removed
			case c == '\\':
				pos++ // the backslash is removed, the next character kept as is
				if pos < len(b) {
					cur = append(cur, b[pos])
					pos++
				}
				continue
			case c == delim && paren == 0 && !quote && bracket == 0:
				wasDelim = pos
				pos++
				goto next
			}
			cur = append(cur, c)
			pos++
		}
	next:
		out = append(out, string(cur))
	}
	if pos < len(b) || (pos > 0 && pos-1 == wasDelim) {
		out = append(out, string(b[pos:]))
	}
	return out
}

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// msetMaxPairs is MSet's AST_APP_ARG(pair)[99] (main/pbx_variables.c).
const msetMaxPairs = 99

// MSet applies MSet's data as pbx_builtin_setvar_multiple does: the data is
// split at commas (SeparateArgs), each pair at its first "=" with only the
// name parsed (the value after it is kept as it is). Pairs without "=" are
// returned in ignored, as Asterisk logs them ("MSet: ignoring entry '%s'
// with no '='").
func MSet(data string) (vars [][2]string, ignored []string) {
	for _, pair := range SeparateArgs(data, ',', msetMaxPairs) {
		nv := SeparateArgs(pair, '=', 2)
		switch len(nv) {
		case 2:
			vars = append(vars, [2]string{nv[0], nv[1]})
		case 1:
			ignored = append(ignored, nv[0])
		default: // an empty pair: no name at all
			ignored = append(ignored, "")
		}
	}
	return vars, ignored
}
