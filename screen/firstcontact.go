package screen

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
)

// ProfileNamer is implemented by Profiles that can list their profiles
// (the configuration does). CheckPrompts checks the challenge sounds of
// each; without it, those of "default" only.
type ProfileNamer interface {
	ProfileNames() []string
}

// ProfileNames lists m's names, sorted.
func (m ProfileMap) ProfileNames() []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// promptSets are the sounds of every profile's challenge, each set once.
func (f *Flow) promptSets() [][]string {
	names := []string{"default"}
	if pn, ok := f.Profiles.(ProfileNamer); ok {
		names = append(names, pn.ProfileNames()...)
	}
	var sets [][]string
	seen := map[string]bool{}
	for _, name := range names {
		p := policy.Default()
		if f.Profiles != nil {
			if q, ok := f.Profiles.Profile(name); ok {
				p = q
			}
		}
		set := ChallengeSounds(p.Challenge)
		if k := strings.Join(set, ","); !seen[k] {
			seen[k] = true
			sets = append(sets, set)
		}
	}
	return sets
}

// CheckPrompts checks, through the flow's Prompts, that the sounds of
// every profile's challenge exist on sc's PBX for a channel in language
// ("" is en), in one question: what a transport calls when it connects to
// a PBX, before any call (the ARI applications do, at each connect), and
// what the flow does itself at the first call from a PBX. What is missing
// is logged, counted (callscreen_screen_prompts_missing) and shown by
// /readyz as after a challenge's own check, and the challenges that follow
// find the answer cached. An error means the check could not be made;
// each challenge then checks for itself.
func (f *Flow) CheckPrompts(ctx context.Context, sc SoundChecker, language string) error {
	if err := f.promptCache().CheckSets(ctx, sc, language, f.promptSets()); err != nil {
		return fmt.Errorf("check prompts on PBX %s: %w", sc.PBX(), err)
	}
	return nil
}

// lookupBeside is the reputation lookup, with the first-contact check
// beside it when this is the first call from the PBX; it returns once both
// are done (also when the lookup panics), so the channel is free again.
func (f *Flow) lookupBeside(ctx context.Context, ch Channel, c *call) reputation.Verdict {
	checked := f.firstContact(ctx, ch, c)
	defer checked()
	return f.lookup(ctx, c)
}

// firstContact starts, on the first call from a PBX this process sees
// (Prompts.FirstContact), CheckPrompts for that PBX, so a PBX without the
// prompts is known at its first call, not at its first challenge. It runs
// beside the reputation lookup, which does not use the channel, and the
// wait it returns, which the call makes before it uses the channel again,
// is for what the check takes beyond the lookup: on FastAGI three GET
// FULL VARIABLE for the default profile, once per PBX; on every later
// call nothing at all. A check that fails is not retried by later calls
// (their challenges check for themselves) unless the caller left during
// it.
func (f *Flow) firstContact(ctx context.Context, ch Channel, c *call) (wait func()) {
	sc, ok := ch.(SoundChecker)
	if !ok {
		return func() {}
	}
	prompts := f.promptCache()
	pbx := sc.PBX()
	if !prompts.FirstContact(pbx) {
		return func() {}
	}
	log := f.logger().With("call_id", c.res.ID)
	language := c.info.Language
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				f.Metrics.fail(failInternal)
				log.Error("screen: panic in the prompt check at first contact", "pbx", pbx, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
		}()
		err := f.CheckPrompts(ctx, sc, language)
		switch {
		case err == nil:
		case errors.Is(err, ErrHangup):
			prompts.forgetContact(pbx)
		default:
			log.Warn("screen: cannot check the prompts at the first call from a PBX; each challenge checks them", "pbx", pbx, "err", err)
		}
	}()
	return func() { <-done }
}
