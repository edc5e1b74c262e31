// Package sounds holds callscreen's voice prompts, the files Asterisk plays
// during the challenge: sounds/LANG/callscreen/NAME.{wav,ulaw,gsm}, 8 kHz
// mono, generated from sounds/LANG/prompts.txt by scripts/make-sounds.
//
// The package has no code the binary uses: its tests check that every
// prompt the default profile names exists in every format, that the
// formats agree with each other (same number of samples, WAV header 8000 Hz
// mono 16-bit, GSM 06.10 frames), that each prompt lasts a sane time, and,
// where espeak-ng and sox of the recorded versions are installed, that the
// committed files are exactly what scripts/make-sounds produces.
//
// It must never hold hand-edited audio: every file here is reproducible
// from its text.
package sounds
