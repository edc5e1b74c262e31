package agitest

import (
	"strings"
)

// DataDir is the simulated ${ASTDATADIR}: sounds live in DataDir/sounds.
const DataDir = "/var/lib/asterisk"

// soundExts are the formats a simulated sound exists in.
var soundExts = []string{"wav", "ulaw", "gsm"}

// builtin reads the variables and functions the simulator computes
// besides the call's own: ${ASTDATADIR} (main/pbx_variables.c) and
// STAT(f|e,PATH) over the simulated sounds (funcs/func_env.c, stat_read:
// "1" for a file that exists, "0" otherwise).
func (s *sim) builtin(name string) (string, bool) {
	if name == "ASTDATADIR" {
		return DataDir, true
	}
	if args, ok := strings.CutPrefix(name, "STAT("); ok && strings.HasSuffix(args, ")") {
		action, path, _ := strings.Cut(strings.TrimSuffix(args, ")"), ",")
		if action != "e" && action != "f" {
			return "", false
		}
		if s.fileExists(path) {
			return "1", true
		}
		return "0", true
	}
	return "", false
}

// fileExists says whether path is a sound file of the simulated
// installation: DataDir/sounds/LANG/NAME.EXT with LANG the call's
// language or "en". With Call.Sounds nil every such file exists; otherwise
// NAME must be one of its keys.
func (s *sim) fileExists(path string) bool {
	rest, ok := strings.CutPrefix(path, DataDir+"/sounds/")
	if !ok {
		return false
	}
	lang, file, ok := strings.Cut(rest, "/")
	if !ok || (lang != "en" && lang != s.call.Language) {
		return false
	}
	i := strings.LastIndexByte(file, '.')
	if i < 0 {
		return false
	}
	name, ext := file[:i], file[i+1:]
	known := false
	for _, e := range soundExts {
		known = known || e == ext
	}
	if !known {
		return false
	}
	if s.call.Sounds == nil {
		return true
	}
	_, ok = s.call.Sounds[name]
	return ok
}

// sayable returns the digits of ds whose core sound digits/N exists: what
// SAY DIGITS actually says. main/say.c queues only the files that exist and
// answers 0 without a word when none does.
func (s *sim) sayable(ds string) string {
	var out []byte
	for i := 0; i < len(ds); i++ {
		if !isDTMF(ds[i]) {
			continue
		}
		if _, ok := s.sound("digits/" + ds[i:i+1]); ok {
			out = append(out, ds[i])
		}
	}
	return string(out)
}

// heardDigit notes a digit the caller hears from a sound file named
// .../digits/N played by STREAM FILE: consecutive ones make the digits
// an Auto caller types back, as SAY DIGITS does.
func (s *sim) heardDigit(file string) {
	i := strings.LastIndex(file, "digits/")
	if i < 0 || (i > 0 && file[i-1] != '/') || len(file) != i+8 || file[i+7] < '0' || file[i+7] > '9' {
		return
	}
	if s.digitAt != s.answered || s.answered == 0 {
		s.lastSaid = ""
	}
	s.lastSaid += file[i+7:]
	s.digitAt = s.answered + 1
}
