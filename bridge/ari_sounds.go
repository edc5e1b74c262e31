package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	return missingSounds(ctx, a.c, language, sounds)
}

// soundIndex is an ARI server's sound index: *ari.Client, *ari.Call.
type soundIndex interface {
	Sound(ctx context.Context, id string) (ari.Sound, error)
}

// ARISounds checks sounds on the Asterisk server of c, with no call: what
// a connect-time check uses (ARIPromptCheck). Its PBX is c.Server(), the
// name the calls on that server check under, so a call finds the answer
// cached.
func ARISounds(c *ari.Client) screen.SoundChecker { return ariSounds{c} }

type ariSounds struct{ c *ari.Client }

var _ screen.SoundChecker = ariSounds{}

func (s ariSounds) PBX() string  { return s.c.Server() }
func (s ariSounds) SoundsExist() {}
func (s ariSounds) MissingSounds(ctx context.Context, language string, sounds []string) ([]string, error) {
	return missingSounds(ctx, s.c, language, sounds)
}

// ARIPromptCheck is the ARI applications' OnConnect: as soon as a PBX
// is connected, before any call, the sounds of every profile's challenge
// are checked there (screen.Flow.CheckPrompts, through the flow in force
// and its Prompts cache), so a PBX without them is logged, counted
// (callscreen_screen_prompts_missing) and shown by /readyz at once. A
// check that fails is logged; each challenge then checks for itself.
func ARIPromptCheck(flow func() *screen.Flow, log *slog.Logger) func(ctx context.Context, c *ari.Client) {
	return func(ctx context.Context, c *ari.Client) {
		if err := flow().CheckPrompts(ctx, ARISounds(c), ""); err != nil && ctx.Err() == nil {
			log.Warn("ari: cannot check the prompts on connect; each challenge checks them", "ari_server", c.Server(), "err", err)
		}
	}
}

// missingSounds looks each sound up in idx (see ariChannel.MissingSounds).
func missingSounds(ctx context.Context, idx soundIndex, language string, sounds []string) ([]string, error) {
	var langs []string
	for _, d := range soundDirs(language) {
		langs = append(langs, strings.TrimSuffix(d, "/"))
	}
	var missing []string
	for _, s := range sounds {
		if !policy.ValidSound(s) {
			return nil, fmt.Errorf("check sounds: %q is not a sound name", s)
		}
		snd, err := idx.Sound(ctx, s)
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
