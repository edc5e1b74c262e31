package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/callscreen/callscreen/ari"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/screen"
)

var _ screen.SoundChecker = (*ariChannel)(nil)

// PBX names the ARI server the call is on.
func (a *ariChannel) PBX() string { return a.c.Server() }

// SoundsExist does nothing on ARI: a playback of a missing file already
// ends in state "failed", told apart from a hangup without a round trip.
func (a *ariChannel) SoundsExist() {}

// MissingSounds looks each sound up in Asterisk's sound index
// (GET /sounds/{id}): a sound is there when it exists in a language
// Asterisk would try for the channel (its language, without each _suffix,
// then "en") in a format callscreen ships.
func (a *ariChannel) MissingSounds(ctx context.Context, language string, sounds []string) ([]string, error) {
	var langs []string
	for _, d := range soundDirs(language) {
		langs = append(langs, strings.TrimSuffix(d, "/"))
	}
	var missing []string
	for _, s := range sounds {
		if !policy.ValidSound(s) {
			return nil, fmt.Errorf("check sounds: %q is not a sound name", s)
		}
		snd, err := a.c.Sound(ctx, s)
		switch {
		case errors.Is(err, ari.ErrNotFound):
			missing = append(missing, s)
			continue
		case err != nil:
			return nil, ariErr("check sounds", err)
		}
		if !slices.ContainsFunc(snd.Formats, func(f ari.SoundFormat) bool {
			return slices.Contains(langs, f.Language) && slices.Contains(soundFormats, f.Format)
		}) {
			missing = append(missing, s)
		}
	}
	return missing, nil
}
