package agitest

import (
	"strconv"
	"strings"
)

// command is one AGI command the simulator knows, as res_agi.c registers it.
type command struct {
	words    []string
	min, max int  // bounds on the token count, words included; max < 0: none
	dead     bool // allowed on a dead channel
	media    bool // plays or reads digits: a caller can leave during it
	usage    string
	// run answers the command; ok false means bad usage (520).
	run func(s *sim, argv []string) (reply string, ok bool)
}

var commands = []*command{
	{words: []string{"ANSWER"}, min: 1, max: 1, usage: "Answer channel", run: (*sim).answer},
	{words: []string{"HANGUP"}, min: 1, max: 2, usage: "Hangup a channel.", run: (*sim).hangup},
	{words: []string{"STREAM", "FILE"}, min: 4, max: 5, media: true, usage: "Sends audio file on channel.", run: (*sim).streamFile},
	{words: []string{"GET", "DATA"}, min: 3, max: 5, media: true, usage: "Prompts for DTMF on a channel", run: (*sim).getData},
	{words: []string{"WAIT", "FOR", "DIGIT"}, min: 4, max: 4, media: true, usage: "Waits for a digit to be pressed.", run: (*sim).waitForDigit},
	{words: []string{"SAY", "DIGITS"}, min: 4, max: 4, media: true, usage: "Says a given digit string.", run: (*sim).sayDigits},
	{words: []string{"SAY", "NUMBER"}, min: 4, max: 5, media: true, usage: "Says a given number.", run: (*sim).sayNumber},
	{words: []string{"SET", "VARIABLE"}, min: 4, max: 4, dead: true, usage: "Sets a variable to the current channel.", run: (*sim).setVariable},
	{words: []string{"GET", "VARIABLE"}, min: 3, max: 3, dead: true, usage: "Gets a channel variable.", run: (*sim).getVariable},
	{words: []string{"GET", "FULL", "VARIABLE"}, min: 4, max: 5, dead: true, usage: "Evaluates a channel expression", run: (*sim).getFullVariable},
	{words: []string{"VERBOSE"}, min: 2, max: -1, dead: true, usage: "Logs a message to the asterisk verbose log.", run: (*sim).verbose},
	{words: []string{"EXEC"}, min: 2, max: -1, dead: true, usage: "Executes a given Application", run: (*sim).exec},
	{words: []string{"CHANNEL", "STATUS"}, min: 2, max: 3, usage: "Returns status of the connected channel.", run: (*sim).channelStatus},
	{words: []string{"SET", "CONTEXT"}, min: 3, max: 3, usage: "Sets channel context.", run: (*sim).setContext},
	{words: []string{"SET", "EXTENSION"}, min: 3, max: 3, usage: "Changes channel extension.", run: (*sim).setExtension},
	{words: []string{"SET", "PRIORITY"}, min: 3, max: 3, usage: "Set channel dialplan priority.", run: (*sim).setPriority},
	{words: []string{"NOOP"}, min: 1, max: -1, dead: true, usage: "Does nothing.", run: func(*sim, []string) (string, bool) { return "200 result=0\n", true }},
}

// findCommand matches argv's leading words, case-insensitively, against
// every word of a command.
func findCommand(argv []string) *command {
next:
	for _, c := range commands {
		if len(argv) < len(c.words) {
			continue
		}
		for i, w := range c.words {
			if !strings.EqualFold(argv[i], w) {
				continue next
			}
		}
		return c
	}
	return nil
}

func result(n int64) string { return "200 result=" + itoa(n) + "\n" }

func (s *sim) answer([]string) (string, bool) {
	s.t.Answered = true
	s.state = 6
	return result(0), true
}

func (s *sim) hangup(argv []string) (string, bool) {
	if len(argv) == 2 && argv[1] != s.call.Channel {
		return result(-1), true
	}
	s.hangUp()
	s.noticeAfter = true
	return result(1), true
}

func (s *sim) sound(file string) (int64, bool) {
	if s.call.Sounds == nil {
		if file == "beep" {
			return 3404, true
		}
		return 8000, true
	}
	n, ok := s.call.Sounds[file]
	return n, ok
}

func (s *sim) nextBarge() string {
	if s.barge >= len(s.call.Caller.Barge) {
		return ""
	}
	s.barge++
	return s.call.Caller.Barge[s.barge-1]
}

// nextKeys returns the caller's next entry; ok false when Keys ran out.
func (s *sim) nextKeys() (string, bool) {
	if s.keys >= len(s.call.Caller.Keys) {
		return "", false
	}
	s.keys++
	return s.call.Caller.Keys[s.keys-1], true
}

// interrupt returns the key the caller presses during a playback if it is
// one of the escape digits, else 0.
func (s *sim) interrupt(escape string) int64 {
	k := s.nextBarge()
	if k != "" && strings.IndexByte(escape, k[0]) >= 0 {
		return int64(k[0])
	}
	return 0
}

func (s *sim) streamFile(argv []string) (string, bool) {
	file, escape := argv[2], argv[3]
	var offset int64
	if len(argv) == 5 {
		offset, _ = strconv.ParseInt(argv[4], 10, 64)
	}
	s.t.Played = append(s.t.Played, file)
	n, ok := s.sound(file)
	if ok {
		s.heardDigit(file)
	}
	switch {
	case !ok:
		s.failed = true
		return "200 result=-1 endpos=" + itoa(offset) + "\n", true
	case s.leaving:
		return "200 result=-1 endpos=" + itoa(n/2) + "\n", true
	}
	if k := s.interrupt(escape); k != 0 {
		return "200 result=" + itoa(k) + " endpos=" + itoa(n/2) + "\n", true
	}
	return "200 result=0 endpos=" + itoa(n) + "\n", true
}

func (s *sim) getData(argv []string) (string, bool) {
	file := argv[2]
	maxDigits := 1024
	if len(argv) == 5 {
		if m, err := strconv.Atoi(argv[4]); err == nil && m > 0 {
			maxDigits = m
		}
	}
	s.t.Played = append(s.t.Played, file)
	if _, ok := s.sound(file); !ok || s.leaving {
		return result(-1), true
	}
	entry, ok := s.nextKeys()
	if !ok && s.call.Caller.Auto {
		entry = s.lastSaid
	}
	var digits []byte
	for i := 0; i < len(entry); i++ {
		c := entry[i]
		if c == '#' {
			return "200 result=" + string(digits) + "\n", true
		}
		if !isDTMF(c) {
			continue
		}
		digits = append(digits, c)
		if len(digits) == maxDigits {
			return "200 result=" + string(digits) + "\n", true
		}
	}
	return "200 result=" + string(digits) + " (timeout)\n", true
}

func (s *sim) waitForDigit(argv []string) (string, bool) {
	if !leadingInt(argv[3]) {
		return "", false
	}
	if s.leaving {
		return result(-1), true
	}
	entry, _ := s.nextKeys()
	if entry == "" || !isDTMF(entry[0]) {
		return result(0), true
	}
	return result(int64(entry[0])), true
}

func (s *sim) sayDigits(argv []string) (string, bool) {
	if !leadingInt(argv[2]) {
		return "", false
	}
	s.t.Said = append(s.t.Said, argv[2])
	// The caller hears the digits whose digits/N file exists; with none,
	// Asterisk answers 0 at once.
	s.lastSaid = s.sayable(argv[2])
	if s.leaving {
		return result(-1), true
	}
	if s.lastSaid == "" {
		return result(0), true
	}
	return result(s.interrupt(argv[3])), true
}

func (s *sim) sayNumber(argv []string) (string, bool) {
	if !leadingInt(argv[2]) {
		return "", false
	}
	if s.leaving {
		return result(-1), true
	}
	return result(s.interrupt(argv[3])), true
}

func (s *sim) setVariable(argv []string) (string, bool) {
	s.setVar(argv[2], argv[3])
	return result(1), true
}

func (s *sim) setVar(name, value string) {
	if value == "" {
		delete(s.vars, name)
		return
	}
	s.vars[name] = value
}

func (s *sim) getVariable(argv []string) (string, bool) {
	v, ok := s.lookup(argv[2])
	if !ok {
		return result(0), true
	}
	if len(v) > 1023 {
		v = v[:1023]
	}
	return "200 result=1 (" + v + ")\n", true
}

func (s *sim) getFullVariable(argv []string) (string, bool) {
	if len(argv) == 5 && argv[4] != s.call.Channel {
		return result(0), true
	}
	return "200 result=1 (" + s.substitute(argv[3]) + ")\n", true
}

func (s *sim) verbose([]string) (string, bool) { return result(1), true }

func (s *sim) exec(argv []string) (string, bool) {
	data := ""
	if len(argv) >= 3 {
		data = argv[2]
	}
	var res int64
	switch strings.ToLower(argv[1]) {
	case "set":
		name, value, ok := strings.Cut(data, "=")
		if ok && strings.TrimSpace(name) != "" {
			s.setVar(strings.TrimSpace(name), value)
		}
	case "mset":
		if s.call.NoMSet {
			res = -2
			break
		}
		vars, ignored := MSet(data)
		for _, v := range vars {
			s.vars[v[0]] = v[1] // an empty value sets "", it does not unset
		}
		for _, name := range ignored {
			s.t.Warnings = append(s.t.Warnings, "MSet: ignoring entry '"+name+"' with no '='")
		}
	case "noop", "verbose", "log":
	case "goto":
		s.gotoTarget(data)
	case "playback":
		if s.dead {
			res = -1
			break
		}
		file, _, _ := strings.Cut(data, ",")
		s.t.Played = append(s.t.Played, file)
	case "answer":
		if s.dead {
			res = -1
			break
		}
		s.t.Answered, s.state = true, 6
	case "wait":
		if s.dead {
			res = -1
		}
	case "hangup":
		if !s.dead {
			s.hangUp()
			s.noticeAfter = true
		}
		res = -1
	default:
		res = -2
	}
	return result(res), true
}

// gotoTarget applies Goto([[context,]extension,]priority).
func (s *sim) gotoTarget(data string) {
	parts := strings.Split(data, ",")
	switch len(parts) {
	case 1:
		s.t.Priority = parts[0]
	case 2:
		s.t.Extension, s.t.Priority = parts[0], parts[1]
	default:
		s.t.Context, s.t.Extension, s.t.Priority = parts[0], parts[1], parts[2]
	}
}

func (s *sim) channelStatus(argv []string) (string, bool) {
	if len(argv) == 3 && argv[2] != s.call.Channel {
		return result(-1), true
	}
	return result(int64(s.state)), true
}

func (s *sim) setContext(argv []string) (string, bool) {
	s.t.Context = argv[2]
	return result(0), true
}

func (s *sim) setExtension(argv []string) (string, bool) {
	s.t.Extension = argv[2]
	return result(0), true
}

func (s *sim) setPriority(argv []string) (string, bool) {
	s.t.Priority = argv[2]
	return result(0), true
}

// lookup reads a variable or function: Vars first, then what the
// simulator knows about the call.
func (s *sim) lookup(name string) (string, bool) {
	if v, ok := s.vars[name]; ok {
		return v, true
	}
	c := s.call
	switch name {
	case "CALLERID(num)", "CALLERID(number)":
		return c.CallerID, true
	case "CALLERID(name)":
		return c.CallerIDName, true
	case "CALLERID(all)":
		return `"` + c.CallerIDName + `" <` + c.CallerID + ">", true
	case "CALLERID(num-pres)", "CALLERID(name-pres)", "CALLERID(pres)":
		return presName(c.CallingPres), true
	case "CALLERID(dnid)":
		return c.DNID, true
	case "CALLERID(rdnis)":
		return c.RDNIS, true
	case "CHANNEL", "CHANNEL(name)":
		return c.Channel, true
	case "UNIQUEID", "CHANNEL(uniqueid)":
		return c.UniqueID, true
	case "CONTEXT":
		return s.t.Context, true
	case "EXTEN":
		return s.t.Extension, true
	case "PRIORITY":
		return s.t.Priority, true
	case "CHANNEL(language)":
		return c.Language, true
	}
	return s.builtin(name)
}

// substitute expands ${NAME} and ${FUNC(args)} as the dialplan does
// (nested expressions included); unset names expand to "".
func (s *sim) substitute(expr string) string {
	var b strings.Builder
	for i := 0; i < len(expr); {
		if expr[i] == '$' && i+1 < len(expr) && expr[i+1] == '{' {
			depth, j := 0, i+1
			for ; j < len(expr); j++ {
				if expr[j] == '{' {
					depth++
				} else if expr[j] == '}' {
					if depth--; depth == 0 {
						break
					}
				}
			}
			if j == len(expr) { // unterminated: Asterisk copies it
				b.WriteString(expr[i:])
				break
			}
			v, _ := s.lookup(s.substitute(expr[i+2 : j]))
			b.WriteString(v)
			i = j + 1
			continue
		}
		b.WriteByte(expr[i])
		i++
	}
	return b.String()
}

// presName names a presentation value as CALLERID(num-pres) does.
func presName(p int) string {
	switch p {
	case 0:
		return "allowed_not_screened"
	case 1:
		return "allowed_passed_screen"
	case 2:
		return "allowed_failed_screen"
	case 3:
		return "allowed"
	case 32:
		return "prohib_not_screened"
	case 33:
		return "prohib_passed_screen"
	case 34:
		return "prohib_failed_screen"
	case 35:
		return "prohib"
	case 67:
		return "unavailable"
	}
	return "unknown"
}

// leadingInt is sscanf("%30d") succeeding: optional blanks and sign, then
// a digit.
func leadingInt(s string) bool {
	s = strings.TrimLeft(s, " \t")
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	return s != "" && '0' <= s[0] && s[0] <= '9'
}

func isDTMF(c byte) bool {
	return ('0' <= c && c <= '9') || c == '*' || c == '#' || ('A' <= c && c <= 'D')
}
