package aritest

import (
	"strings"
	"time"

	"github.com/callscreen/callscreen/ari"
)

// Heard returns the digits a playback's media list speaks (the digits:
// media, concatenated), "" when none.
func Heard(media []string) string {
	var b strings.Builder
	for _, m := range media {
		if d, ok := strings.CutPrefix(m, "digits:"); ok {
			b.WriteString(d)
		}
	}
	return b.String()
}

// Typist is a caller who, delay after a playback that spoke digits has
// finished, types answer(digits). An answer of "" types nothing. Use it as
// CallSpec.OnPlaybackFinished.
func Typist(delay time.Duration, answer func(heard string) string) func(*Channel, ari.Playback, []string) {
	return func(ch *Channel, pb ari.Playback, media []string) {
		if pb.State != "done" {
			return
		}
		heard := Heard(media)
		if heard == "" {
			return
		}
		keys := answer(heard)
		if keys == "" {
			return
		}
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-ch.quit:
				return
			}
		}
		ch.SendDTMF(keys)
	}
}

// Echo is a human caller: types back the digits they heard.
func Echo(delay time.Duration) func(*Channel, ari.Playback, []string) {
	return Typist(delay, func(heard string) string { return heard })
}
