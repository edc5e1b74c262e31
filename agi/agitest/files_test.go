package agitest_test

import (
	"testing"

	"github.com/callscreen/callscreen/agi/agitest"
)

// TestSayDigitsOfMissingFiles: with Asterisk's digits/N sounds missing,
// SAY DIGITS answers 0 at once and says nothing (main/say.c queues only
// files that exist), so a caller who types back what he heard types
// nothing; with some of them missing he hears only the others.
func TestSayDigitsOfMissingFiles(t *testing.T) {
	tests := []struct {
		name   string
		sounds map[string]int64
		reply  string
		heard  string
	}{
		{"all there", nil, "200 result=0", "472"},
		{"none there", map[string]int64{"beep": 3404}, "200 result=0", ""},
		{"some there", map[string]int64{"beep": 3404, "digits/4": 4000, "digits/2": 4000}, "200 result=0", "42"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := agitest.Call{Sounds: tt.sounds, Caller: agitest.Caller{Auto: true, Barge: []string{"9"}}}
			play(t, c, func(s *server) {
				s.want(`SAY DIGITS 472 ""`, tt.reply)
				want := "200 result=" + tt.heard + " (timeout)"
				if len(tt.heard) == 3 {
					want = "200 result=" + tt.heard
				}
				s.want("GET DATA beep 1000 3", want)
			})
		})
	}
}

// TestStatOfSounds: ${STAT(f,PATH)} and ${ASTDATADIR} answer for the
// simulated sounds, DataDir/sounds/en/NAME.{wav,ulaw,gsm}.
func TestStatOfSounds(t *testing.T) {
	c := agitest.Call{Sounds: map[string]int64{"callscreen/intro": 8000}}
	play(t, c, func(s *server) {
		s.want("GET FULL VARIABLE ${ASTDATADIR}", "200 result=1 ("+agitest.DataDir+")")
		s.want("GET FULL VARIABLE ${STAT(f,${ASTDATADIR}/sounds/en/callscreen/intro.ulaw)}${STAT(f,${ASTDATADIR}/sounds/en/callscreen/intro.mp3)}${STAT(f,${ASTDATADIR}/sounds/en/callscreen/thanks.wav)}${STAT(e,${ASTDATADIR}/sounds/callscreen/intro.wav)}",
			"200 result=1 (1000)")
		s.want("GET FULL VARIABLE ${STAT(f,/etc/passwd)}", "200 result=1 (0)")
	})
	play(t, agitest.Call{}, func(s *server) {
		s.want("GET FULL VARIABLE ${STAT(f,${ASTDATADIR}/sounds/en/anything.gsm)}", "200 result=1 (1)")
	})
}
