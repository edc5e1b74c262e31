package screen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/callscreen/callscreen/policy"
)

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
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
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

// SoundChecker is implemented by a Channel that can tell, before playing
// anything, whether sound files exist on the PBX the call is on (and by a
// transport's connection to a PBX, for a check before any call). The flow
// asks it (through Prompts, which caches the answer per PBX) at the first
// call from a PBX and before a challenge, and plays the challenge only
// when every sound is there.
type SoundChecker interface {
	// PBX names the Asterisk server the call is on: the key the answer is
	// cached under ("10.0.0.5" for FastAGI, the ARI server's name).
	PBX() string
	// MissingSounds returns those of sounds that Asterisk would not find
	// for a channel in language, in any format callscreen ships (wav,
	// ulaw, gsm). Outcomes: (nil, nil) every sound is there; (names, nil)
	// those are missing; an error wrapping ErrHangup, the caller left
	// meanwhile; any other error, the check itself failed (nothing is
	// known).
	MissingSounds(ctx context.Context, language string, sounds []string) (missing []string, err error)
	// SoundsExist tells the channel that every sound it will be asked to
	// play is known to exist: a play or read that then fails means the
	// caller hung up, with no round trip to tell it from a missing file.
	SoundsExist()
}

// Defaults of Prompts' zero fields.
const (
	// DefaultPromptsCheckedFor is how long a complete set of sounds is
	// trusted before it is checked again.
	DefaultPromptsCheckedFor = 10 * time.Minute
	// DefaultPromptsMissingFor is how long a set with missing sounds is
	// trusted: installing the files brings the challenge back within it.
	DefaultPromptsMissingFor = time.Minute
)

// ErrPromptsMissing reports that a challenge was not played because sounds
// it needs are missing on the PBX.
var ErrPromptsMissing = errors.New("prompts missing on the PBX")

// Prompts remembers, per PBX, language and set of sounds, whether the
// sounds a challenge needs exist, so each PBX is asked once in a while,
// not on every challenge. It outlives configuration reloads (the server
// keeps one and hands it to every Flow it builds). The zero value is ready
// to use; its methods are safe for concurrent use.
type Prompts struct {
	// CheckedFor and MissingFor override the defaults above.
	CheckedFor, MissingFor time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Logger gets a warning when a PBX is found missing sounds and a
	// notice when they appear; nil is slog.Default().
	Logger *slog.Logger
	// Metrics may be nil.
	Metrics *Metrics

	group   singleflight.Group
	mu      sync.Mutex
	entries map[promptKey]*promptEntry
	// contacts are the PBXes FirstContact has seen (at most maxContacts).
	contacts map[string]bool
}

// maxContacts bounds the PBXes FirstContact remembers: past it, a PBX's
// sounds are checked at its first challenge only. A few PBXes is the
// rule; agi.allow keeps strangers out.
const maxContacts = 4096

type promptKey struct{ pbx, language, sounds string }

type promptEntry struct {
	missing []string
	at      time.Time
}

func (p *Prompts) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Prompts) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.Default()
}

// cached returns the remembered answer for key while it is fresh.
func (p *Prompts) cached(key promptKey) ([]string, bool) {
	p.mu.Lock()
	e := p.entries[key]
	p.mu.Unlock()
	if e == nil {
		return nil, false
	}
	ttl := p.CheckedFor
	if ttl <= 0 {
		ttl = DefaultPromptsCheckedFor
	}
	if len(e.missing) > 0 {
		ttl = p.MissingFor
		if ttl <= 0 {
			ttl = DefaultPromptsMissingFor
		}
	}
	if p.now().Sub(e.at) >= ttl {
		return nil, false
	}
	return e.missing, true
}

// Check returns the sounds missing for a channel in language on ch's PBX,
// sorted, from the cache or by asking ch. Concurrent checks of the same key share
// one question. An error (the check failed, the caller left) is not
// remembered.
func (p *Prompts) Check(ctx context.Context, ch SoundChecker, language string, sounds []string) ([]string, error) {
	if language == "" {
		language = "en"
	}
	key := promptKey{pbx: ch.PBX(), language: language, sounds: strings.Join(sounds, ",")}
	if missing, ok := p.cached(key); ok {
		p.Metrics.promptCheck("cached")
		return missing, nil
	}
	v, err, _ := p.group.Do(key.pbx+"\x00"+key.language+"\x00"+key.sounds, func() (any, error) {
		missing, err := ch.MissingSounds(ctx, language, sounds)
		if err != nil {
			return nil, err
		}
		return p.store(key, missing), nil
	})
	if err != nil {
		if !errors.Is(err, ErrHangup) {
			p.Metrics.promptCheck("error")
		}
		return nil, err
	}
	return v.([]string), nil
}

// CheckSets checks several sets of sounds at once (one set per profile's
// challenge) on ch's PBX for a channel in language, and remembers the
// answer for each set as Check would have, so the challenges that follow
// find it cached. Sets with a fresh answer are left out; the others are
// asked in one question, their union. It logs what is missing once for
// the whole, updates the gauge, and returns an error when the question
// failed (nothing is remembered then).
func (p *Prompts) CheckSets(ctx context.Context, ch SoundChecker, language string, sets [][]string) error {
	if language == "" {
		language = "en"
	}
	pbx := ch.PBX()
	var ask [][]string
	var union []string
	for _, set := range sets {
		if _, ok := p.cached(promptKey{pbx: pbx, language: language, sounds: strings.Join(set, ",")}); ok {
			continue
		}
		ask = append(ask, set)
		for _, snd := range set {
			if !slices.Contains(union, snd) {
				union = append(union, snd)
			}
		}
	}
	if len(ask) == 0 {
		p.Metrics.promptCheck("cached")
		return nil
	}
	_, err, _ := p.group.Do(pbx+"\x00"+language+"\x00sets\x00"+strings.Join(union, ","), func() (any, error) {
		missing, err := ch.MissingSounds(ctx, language, union)
		if err != nil {
			return nil, err
		}
		var news, gone bool
		for _, set := range ask {
			var m []string
			for _, snd := range missing {
				if slices.Contains(set, snd) {
					m = append(m, snd)
				}
			}
			n, g := p.remember(promptKey{pbx: pbx, language: language, sounds: strings.Join(set, ",")}, m)
			news, gone = news || n, gone || g
		}
		sort.Strings(missing)
		p.logChange(pbx, language, missing, news, gone)
		return nil, nil
	})
	if err != nil && !errors.Is(err, ErrHangup) {
		p.Metrics.promptCheck("error")
	}
	return err
}

// FirstContact reports whether this is the first time it is asked about
// pbx: true once per PBX (up to maxContacts of them), false after. The
// flow checks a PBX's prompts on its first call (and the ARI transport
// when it connects), so a PBX missing them is known before any challenge.
func (p *Prompts) FirstContact(pbx string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.contacts == nil {
		p.contacts = map[string]bool{}
	}
	if p.contacts[pbx] || len(p.contacts) >= maxContacts {
		return false
	}
	p.contacts[pbx] = true
	return true
}

// Recheck forgets which PBXes FirstContact has seen, so the next call
// from each checks again, in one question, the sets of sounds it has no
// fresh answer for: after a reload brought profiles with other prompts.
// Sets already known cost nothing. Safe on a nil Prompts.
func (p *Prompts) Recheck() {
	if p == nil {
		return
	}
	p.mu.Lock()
	clear(p.contacts)
	p.mu.Unlock()
}

// forgetContact makes the next FirstContact of pbx true again: its check
// did not happen (the caller left before it could).
func (p *Prompts) forgetContact(pbx string) {
	p.mu.Lock()
	delete(p.contacts, pbx)
	p.mu.Unlock()
}

// store remembers one answer, sorted, logs a change and updates the
// gauge. It returns the answer as remembered.
func (p *Prompts) store(key promptKey, missing []string) []string {
	missing = slices.Clone(missing)
	sort.Strings(missing)
	news, gone := p.remember(key, missing)
	p.logChange(key.pbx, key.language, missing, news, gone)
	return missing
}

// remember keeps one answer (sorted) and updates the metrics. news is true
// when it names missing sounds it did not before, gone when sounds that
// were missing are all there now.
func (p *Prompts) remember(key promptKey, missing []string) (news, gone bool) {
	missing = slices.Clone(missing)
	sort.Strings(missing)
	p.mu.Lock()
	if p.entries == nil {
		p.entries = map[promptKey]*promptEntry{}
	}
	prev, had := p.entries[key]
	p.entries[key] = &promptEntry{missing: missing, at: p.now()}
	total := p.missingOnLocked(key.pbx)
	p.mu.Unlock()

	if len(missing) > 0 {
		p.Metrics.promptCheck("missing")
	} else {
		p.Metrics.promptCheck("complete")
	}
	p.Metrics.promptsMissing(key.pbx, total)
	news = len(missing) > 0 && (!had || !slices.Equal(prev.missing, missing))
	gone = len(missing) == 0 && had && len(prev.missing) > 0
	return news, gone
}

// logChange says that sounds went missing on pbx, or came back.
func (p *Prompts) logChange(pbx, language string, missing []string, news, gone bool) {
	switch {
	case news && len(missing) > 0:
		p.logger().Warn("screen: prompts missing on the PBX; its challenges fail open (challenge.unavailable) until they are installed",
			"pbx", pbx, "language", language, "missing", strings.Join(missing, ","))
	case gone && len(missing) == 0:
		p.logger().Info("screen: prompts now present on the PBX; challenges are played again", "pbx", pbx, "language", language)
	}
}

// missingOnLocked counts the distinct sounds missing on pbx, over every
// language and set checked there.
func (p *Prompts) missingOnLocked(pbx string) int {
	seen := map[string]bool{}
	for k, e := range p.entries {
		if k.pbx != pbx {
			continue
		}
		for _, s := range e.missing {
			seen[s] = true
		}
	}
	return len(seen)
}

// Report describes every PBX found missing sounds at its last check, one
// line each, sorted: what /readyz shows. It is empty when nothing is
// missing.
func (p *Prompts) Report() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for k, e := range p.entries {
		if len(e.missing) > 0 {
			out = append(out, fmt.Sprintf("prompts missing on PBX %s (language %s): %s; its challenges fail open", k.pbx, k.language, strings.Join(e.missing, ", ")))
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}
