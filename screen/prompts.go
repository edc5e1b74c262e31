package screen

import "github.com/callscreen/callscreen/policy"

// The sounds a challenge plays besides the profile's prompts: callscreen's
// own digits and beep, shipped in sounds/LANG/callscreen/ and installed
// with the prompts, so a challenge never depends on Asterisk's core sounds
// (digits/N and beep are often not installed; SAY DIGITS of missing files
// answers 0 at once and says nothing, main/say.c).
const (
	// BeepSound tells the caller to type now (ReadDigits plays it).
	BeepSound = "callscreen/beep"
	// digitSounds holds one file a digit, 0 to 9.
	digitSounds = "callscreen/digits/"
)

// DigitSound is the sound that says digit d ('0' to '9').
func DigitSound(d byte) string { return digitSounds + string(rune(d)) }

// ChallengeSounds lists every sound a challenge under cs can play, each
// once, in the order the challenge first plays them: the intro, the ten
// digits, the beep, the retry prompt when there is more than one attempt,
// and the thanks. A challenge is played only when all of them are known to
// exist on the PBX.
func ChallengeSounds(cs policy.ChallengeSettings) []string {
	out := make([]string, 0, 14)
	add := func(s string) {
		for _, have := range out {
			if have == s {
				return
			}
		}
		out = append(out, s)
	}
	add(cs.Intro)
	for d := byte('0'); d <= '9'; d++ {
		add(DigitSound(d))
	}
	add(BeepSound)
	if cs.Attempts > 1 {
		add(cs.Retry)
	}
	add(cs.Thanks)
	return out
}
