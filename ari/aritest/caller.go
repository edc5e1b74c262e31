package aritest

import (
	"slices"
	"strings"
	"time"

	"github.com/callscreen/callscreen/ari"
)

// Heard returns the digits a playback's media list speaks, "" when none:
// the digits: media, and sound: media of files named digits/N
// (callscreen's own "sound:callscreen/digits/4"), concatenated.
func Heard(media []string) string {
	var b strings.Builder
	for _, m := range media {
		if d, ok := strings.CutPrefix(m, "digits:"); ok {
			b.WriteString(d)
		}
		if d := soundDigit(m); d != "" {
			b.WriteString(d)
		}
	}
	return b.String()
}

// soundDigit is N for media sound:.../digits/N (or sound:digits/N), else "".
func soundDigit(m string) string {
	f, ok := strings.CutPrefix(m, "sound:")
	if !ok {
		return ""
	}
	i := strings.LastIndex(f, "digits/")
	if i < 0 || (i > 0 && f[i-1] != '/') || len(f) != i+8 || f[i+7] < '0' || f[i+7] > '9' {
		return ""
	}
	return f[i+7:]
}

// heard is Heard on this channel's server: digits whose sound is missing
// (Config.MissingSounds) are not heard, whatever media said them.
func (ch *Channel) heard(media []string) string {
	var b strings.Builder
	for _, m := range media {
		switch {
		case strings.HasPrefix(m, "digits:"):
			for _, d := range strings.TrimPrefix(m, "digits:") {
				if !slices.Contains(ch.s.cfg.MissingSounds, "digits/"+string(d)) {
					b.WriteRune(d)
				}
			}
		case soundDigit(m) != "":
			if !slices.Contains(ch.s.cfg.MissingSounds, strings.TrimPrefix(m, "sound:")) {
				b.WriteString(soundDigit(m))
			}
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
		heard := ch.heard(media)
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
