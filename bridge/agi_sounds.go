package bridge

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"

	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/screen"
)

// soundFormats are the formats callscreen ships its prompts in
// (scripts/make-sounds); a sound counts as there when one of them is.
var soundFormats = []string{"wav", "ulaw", "gsm"}

// maxCheckExpr bounds the expression of one GET FULL VARIABLE, well inside
// agi.MaxCommandLen.
const maxCheckExpr = 900

var languageRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// soundDirs are the language directories under ${ASTDATADIR}/sounds where
// Asterisk looks for a relative sound name on a channel in lang, in its
// order: the language, the language without each _suffix, then the
// default "en" (main/file.c, fileexists_core and fileexists_test with the
// default languageprefix=yes layout: NAME in language L is L/NAME under
// ${ASTDATADIR}/sounds, build_filename). Asterisk also tries NAME with no
// language directory before "en"; callscreen's prompts are never installed
// there, so a prompt placed only there reads as missing (one STAT a format
// less for every sound).
func soundDirs(lang string) []string {
	if !languageRE.MatchString(lang) {
		lang = "en"
	}
	var out []string
	for l := lang; ; {
		out = append(out, l+"/")
		i := strings.LastIndexByte(l, '_')
		if i < 0 {
			break
		}
		l = l[:i]
	}
	if !slices.Contains(out, "en/") {
		out = append(out, "en/")
	}
	return out
}

// soundPaths are the files, as dialplan text, any of which makes sound
// playable on a channel in lang. An absolute name is used as it is
// (build_filename keeps a leading '/').
func soundPaths(sound, lang string) []string {
	var out []string
	for _, ext := range soundFormats {
		if strings.HasPrefix(sound, "/") {
			out = append(out, sound+"."+ext)
			continue
		}
		for _, d := range soundDirs(lang) {
			out = append(out, "${ASTDATADIR}/sounds/"+d+sound+"."+ext)
		}
	}
	return out
}

// PBX is the address of the Asterisk server the session came from.
func (c *agiChannel) PBX() string {
	a := c.s.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(a); err == nil {
		return host
	}
	return a
}

// SoundsExist makes a failed play or read mean a hangup, without the
// CHANNEL STATUS that tells a missing file from a caller who left.
func (c *agiChannel) SoundsExist() { c.soundsExist = true }

// MissingSounds asks Asterisk whether each sound's files exist with
// GET FULL VARIABLE of ${STAT(f,PATH)} (funcs/func_env.c stat_read: "1" for
// a regular file, "0" when stat fails), every candidate path of several
// sounds in one expression, ${ASTDATADIR} being the directory Asterisk
// reads sounds from (main/pbx_variables.c). A few commands cover a whole
// challenge.
func (c *agiChannel) MissingSounds(ctx context.Context, language string, sounds []string) ([]string, error) {
	type batch struct {
		expr   strings.Builder
		counts []int // paths per sound, in order
		names  []string
	}
	var batches []*batch
	cur := &batch{}
	for _, s := range sounds {
		if !policy.ValidSound(s) {
			return nil, fmt.Errorf("check sounds: %q is not a sound name", s)
		}
		var one strings.Builder
		paths := soundPaths(s, language)
		for _, p := range paths {
			one.WriteString("${STAT(f," + p + ")}")
		}
		if cur.expr.Len() > 0 && cur.expr.Len()+one.Len() > maxCheckExpr {
			batches = append(batches, cur)
			cur = &batch{}
		}
		cur.expr.WriteString(one.String())
		cur.counts = append(cur.counts, len(paths))
		cur.names = append(cur.names, s)
	}
	if cur.expr.Len() > 0 {
		batches = append(batches, cur)
	}
	var missing []string
	for _, b := range batches {
		v, ok, err := c.s.GetFullVariable(ctx, b.expr.String())
		if err != nil {
			return nil, hangup("check sounds", err)
		}
		total := 0
		for _, n := range b.counts {
			total += n
		}
		if !ok || len(v) != total || strings.Trim(v, "01") != "" {
			return nil, fmt.Errorf("check sounds: Asterisk answered %q for %d STAT() reads (is func_env loaded?)", clipValue(v), total)
		}
		at := 0
		for i, n := range b.counts {
			if !strings.Contains(v[at:at+n], "1") {
				missing = append(missing, b.names[i])
			}
			at += n
		}
	}
	return missing, nil
}

func clipValue(v string) string {
	if len(v) > 64 {
		return v[:64] + "..."
	}
	return v
}

var _ screen.SoundChecker = (*agiChannel)(nil)
