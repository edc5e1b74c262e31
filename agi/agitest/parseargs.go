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
