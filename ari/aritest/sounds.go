package aritest

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// soundFormats are the formats a sound that exists is reported in.
var soundFormats = []string{"gsm", "ulaw", "wav"}

// getSound answers GET /sounds/{soundId} as res/ari/resource_sounds.c
// does: the sound with the languages and formats it exists in, or 404
// "Sound not found" for one in Config.MissingSounds. The id is one path
// segment, '/' escaped as %2F (res/res_ari.c splits the path before it
// decodes each segment); an id sent with bare slashes matches no resource.
func (s *Server) getSound(w http.ResponseWriter, r *http.Request) {
	esc := strings.TrimPrefix(r.URL.EscapedPath(), "/ari/sounds/")
	if esc == "" || strings.Contains(esc, "/") {
		writeError(w, http.StatusNotFound, "Resource not found")
		return
	}
	id, err := url.PathUnescape(esc)
	if err != nil {
		writeError(w, http.StatusNotFound, "Resource not found")
		return
	}
	if slices.Contains(s.cfg.MissingSounds, id) {
		writeError(w, http.StatusNotFound, "Sound not found")
		return
	}
	type format struct {
		Language string `json:"language"`
		Format   string `json:"format"`
	}
	out := struct {
		ID      string   `json:"id"`
		Formats []format `json:"formats"`
	}{ID: id}
	for _, f := range soundFormats {
		out.Formats = append(out.Formats, format{Language: "en", Format: f})
	}
	writeJSON(w, http.StatusOK, out)
}

// digitsDuration is how long digits:ARG plays: the digits whose
// digits/N sound exists, each DigitDuration. Asterisk's say.c skips a
// missing file without a word, so digits: of missing files finishes
// normally, at once.
func (s *Server) digitsDuration(arg string) int {
	n := 0
	for i := 0; i < len(arg); i++ {
		if !slices.Contains(s.cfg.MissingSounds, "digits/"+arg[i:i+1]) {
			n++
		}
	}
	return n
}
