package screen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
)

// Defaults of the Flow's zero fields.
const (
	DefaultRegion        = "US"
	DefaultLookupTimeout = 500 * time.Millisecond
	DefaultCallTimeout   = 2 * time.Minute
	// MaxNameLen is the longest caller name kept in the record and the
	// log; longer names are cut there (on a rune boundary).
	MaxNameLen = 256
	// MaxMatchNameLen is the longest caller name the reputation sources
	// (name patterns) see: as long as a whole FastAGI environment block,
	// so padding a name past MaxNameLen cannot hide what follows from a
	// pattern. Matching a name costs time linear in its length.
	MaxMatchNameLen = 64 << 10
	// finishTimeout bounds writing the routing variables after the call's
	// own deadline has passed.
	finishTimeout = 2 * time.Second
	// overrunGrace is how long past CallTimeout a challenge step that
	// started in time may run before its I/O is cut off: a step is never
	// started after CallTimeout, and one that would need longer (a digit
	// entry) is not started at all, so the call can still write its
	// fail-open variables (a FastAGI session cut mid-command cannot).
	overrunGrace = 10 * time.Second
	// dtmfDigits are the keys that interrupt the digits being said.
	dtmfDigits = "0123456789"
)

// Profiles names the policies a flow may apply. *config.Config implements
// it; ProfileMap is the small in-memory one.
type Profiles interface {
	// Profile returns the profile called name (names are
	// case-insensitive); ok is false when there is none.
	Profile(name string) (p policy.Profile, ok bool)
	// ProfileForDID returns the name of the profile the DID map assigns to
	// the dialed number; ok is false when no entry matches.
	ProfileForDID(dialed number.Number) (name string, ok bool)
}

// Critical tells critical numbers: Match reports whether n is one, and the
// entry it matched. It must be pure and fast, and must not fail.
// *emergency.Source implements it.
type Critical interface {
	Match(n number.Number) (entry string, ok bool)
}

// ProfileMap is a Profiles without a DID map. The "default" entry, when
// present, replaces policy.Default().
type ProfileMap map[string]policy.Profile

var _ Profiles = ProfileMap(nil)

// Profile returns m[lower-cased name].
func (m ProfileMap) Profile(name string) (policy.Profile, bool) {
	p, ok := m[strings.ToLower(name)]
	return p, ok
}

// ProfileForDID always reports no match.
func (ProfileMap) ProfileForDID(number.Number) (string, bool) { return "", false }

// Flow screens calls. Its fields are read-only once Run has been called:
// to change the configuration, build a new Flow and swap it in.
type Flow struct {
	// Source answers reputation lookups, normally a reputation.Chain; nil
	// means no source (every caller reads UNKNOWN).
	Source reputation.Source
	// ExplainSource is what Explain consults; nil is Source. Leave out
	// sources that count calls (behaviour): an explanation is not a call.
	ExplainSource reputation.Source
	// Profiles resolves profile names and the DID map; nil means only
	// policy.Default().
	Profiles Profiles
	// Recorder receives every Result (decision log, admin feed, behaviour
	// learning); nil records nothing.
	Recorder decision.Recorder
	// Verifier remembers callers who passed a challenge; nil remembers
	// nobody.
	Verifier decision.Verifier
	// Critical, when set, names more never-screened numbers than the
	// profile's exact list (prefixes, ranges): the emergency source. The
	// flow asks it before any I/O, and again on the panic path.
	Critical Critical
	// Region reads numbers in national form; "" is DefaultRegion.
	Region string
	// LookupTimeout bounds the reputation lookup (the providers' budget
	// plus a margin); 0 is DefaultLookupTimeout. A source still running
	// then is abandoned and the call fails open (provider.unavailable). A
	// local source (reputation.Local: memory only) is asked on the call's
	// goroutine instead; should it answer that late, the answer is not
	// used and the call fails open the same way.
	LookupTimeout time.Duration
	// CallTimeout bounds a whole call, challenge included; 0 is
	// DefaultCallTimeout.
	CallTimeout time.Duration
	// ConfigVersion is copied into every Result.
	ConfigVersion string
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Logger logs decisions and handled failures; nil is slog.Default().
	Logger *slog.Logger
	// Metrics may be nil.
	Metrics *Metrics
	// Digits returns n challenge digits; nil draws them from crypto/rand.
	// Tests set it to know what to enter.
	Digits func(n int) string
	// Prompts remembers which PBXes have the sounds a challenge needs;
	// nil is a Prompts of the Flow's own. The server passes one that
	// outlives reloads.
	Prompts *Prompts

	numbersOnce sync.Once
	numbers     *numberCache
	promptsOnce sync.Once
	prompts     *Prompts
}

// promptCache returns Prompts, or the Flow's own when it is nil.
func (f *Flow) promptCache() *Prompts {
	if f.Prompts != nil {
		return f.Prompts
	}
	f.promptsOnce.Do(func() { f.prompts = &Prompts{Logger: f.Logger, Metrics: f.Metrics} })
	return f.prompts
}

// NumberCacheSize bounds the parsed numbers a Flow remembers.
const NumberCacheSize = 65536

// parse reads a number through the Flow's cache.
func (f *Flow) parse(raw string) number.Number {
	f.numbersOnce.Do(func() { f.numbers = newNumberCache(NumberCacheSize) })
	return f.numbers.parse(raw, f.region())
}

func (f *Flow) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Flow) logger() *slog.Logger {
	if f.Logger != nil {
		return f.Logger
	}
	return slog.Default()
}

func (f *Flow) region() string {
	if f.Region != "" {
		return f.Region
	}
	return DefaultRegion
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// call is the state of one call through the flow.
type call struct {
	res    *decision.Result
	info   decision.CallInfo
	pcall  policy.Call
	prof   policy.Profile
	base   *slog.Logger
	logger *slog.Logger // base with the call's attributes, made on first use
	start  time.Time
	// deadline is CallTimeout from the start: no challenge step starts
	// after it. The I/O itself may run overrunGrace longer.
	deadline time.Time
	// matchName is the caller name the sources see (up to MaxMatchNameLen).
	matchName string
	fresh     bool // CALLSCREEN_ID was read and unset: empty variables need not be written
	prevID    string
	varsOK    bool // routing variables were written
	// committed: the result went to the Committers (decision log) as it
	// was before the routing variables were sent.
	committed bool
}

// log returns the call's logger, carrying call_id, profile and tenant.
// It is built on first use: an allow logs nothing at info level.
func (c *call) log() *slog.Logger {
	if c.logger == nil {
		c.logger = c.base.With("call_id", c.res.ID, "profile", c.res.Profile, "tenant", c.res.Tenant)
	}
	return c.logger
}

// Run screens one call on ch and returns what happened. It never panics
// out: a panic anywhere fails open (allow, internal.error). It writes the
// routing variables before it returns unless the channel itself is broken,
// also when the caller hung up (Asterisk allows variable writes on a dead
// channel, for hangup handlers). It honours ctx and CallTimeout; when the
// deadline passes mid-call the call fails open: the challenge stops before
// its next step and the fail-open variables are written, so a PBX waits at
// most CallTimeout, plus one step already under way (overrunGrace at
// most), plus the writes (finishTimeout).
func (f *Flow) Run(ctx context.Context, ch Channel, info decision.CallInfo) (res *decision.Result) {
	start := f.now()
	res = f.newResult(info, start)
	if f.Metrics != nil {
		f.Metrics.inFlight.Inc()
		defer f.Metrics.inFlight.Dec()
	}
	timeout := orDefault(f.CallTimeout, DefaultCallTimeout)
	ctx, cancel := context.WithTimeout(ctx, timeout+overrunGrace)
	defer cancel()
	c := &call{res: res, info: info, start: start, base: f.logger(), deadline: start.Add(timeout)}
	defer func() {
		if p := recover(); p != nil {
			f.Metrics.fail(failInternal)
			res.Error = fmt.Sprintf("panic: %v", p)
			f.logger().Error("screen: panic; call allowed", "call_id", res.ID, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			f.failOpen(ctx, ch, c)
		}
		res.Duration = f.now().Sub(start)
		f.finish(c)
	}()
	f.run(ctx, ch, c)
	return res
}

func (f *Flow) newResult(info decision.CallInfo, start time.Time) *decision.Result {
	return &decision.Result{
		ID:            NewID(start),
		Time:          start,
		Tenant:        info.Tenant,
		Transport:     info.Transport,
		Channel:       info.Channel,
		UniqueID:      info.ID,
		CallerRaw:     info.CallerNumber,
		Caller:        info.CallerNumber,
		CallerName:    cleanName(info.CallerName),
		Dialed:        info.Dialed,
		Challenge:     policy.OutcomeNone,
		ConfigVersion: f.ConfigVersion,
	}
}

// begin reads the call's numbers and resolves its profile.
func (f *Flow) begin(c *call) {
	res := c.res
	caller := f.parse(c.info.CallerNumber)
	dialed := f.parse(c.info.Dialed)
	c.prof = f.profile(c.info, dialed, c.base)
	res.Profile = c.prof.Name
	if caller.Key() != "" {
		res.Caller = caller.Key()
	}
	if dialed.Key() != "" {
		res.Dialed = dialed.Key()
	}
	c.pcall = policy.Call{Caller: caller, Name: res.CallerName, Dialed: dialed, Time: c.start,
		HeaderInjection: c.info.HeaderInjection}
	if c.info.Attestation != "" || c.info.VerifyResult != "" {
		st, ok := policy.ParseSTIR(c.info.Attestation, c.info.VerifyResult)
		if !ok {
			c.log().Warn("screen: ignoring a STIR/SHAKEN result that is not one (want attest=A|B|C|none)",
				"attest", cleanName(c.info.Attestation), "verify", cleanName(c.info.VerifyResult))
		}
		c.pcall.STIR = st
		res.Attestation, res.VerifyResult = st.Attestation, st.Verify
	}
	c.matchName = res.CallerName
	if len(c.info.CallerName) > MaxNameLen {
		c.matchName = cleanNameN(c.info.CallerName, MaxMatchNameLen)
	}
}

// exempt reports whether the call is from or to an emergency or critical
// number: never screened.
func (f *Flow) exempt(c *call) bool {
	return isEmergency(c.prof, c.pcall.Caller) || isEmergency(c.prof, c.pcall.Dialed) ||
		f.critical(c.pcall.Caller) || f.critical(c.pcall.Dialed)
}

// query is the reputation question about the call.
func (c *call) query() reputation.Query {
	return reputation.Query{
		CallID:  c.res.ID,
		Tenant:  c.res.Tenant,
		Caller:  c.pcall.Caller,
		Name:    c.matchName,
		Dialed:  c.pcall.Dialed,
		Profile: c.prof,
		Time:    c.start,
	}
}

// decide applies the policy to the verdict. A challenge, enforced or held,
// is first checked against the callers who passed one recently.
func (f *Flow) decide(ctx context.Context, c *call) policy.Decision {
	d := policy.Decide(c.pcall, c.res.Verdict.Verdict, c.prof)
	if (d.Action == policy.Challenge || d.Held == policy.Challenge) && f.verified(ctx, c) {
		c.pcall.Verified = true
		d = policy.Decide(c.pcall, c.res.Verdict.Verdict, c.prof)
	}
	return d
}

func (f *Flow) run(ctx context.Context, ch Channel, c *call) {
	res := c.res
	f.begin(c)

	// Emergency numbers first, before any I/O that could fail or hang.
	if f.exempt(c) {
		res.Decision = emergencyDecision(c.prof)
		res.Result = policy.ResultAllow
		res.DecisionLatency = f.now().Sub(c.start)
		f.setVars(ctx, ch, c)
		return
	}

	// Already screened: a transfer or a forward loop.
	prev, ok, err := c.info.Screened, c.info.Screened != "", error(nil)
	if !c.info.ScreenedKnown {
		prev, ok, err = ch.Variable(ctx, decision.VarID)
	}
	switch {
	case err == nil:
		c.fresh = !ok || prev == ""
		if !c.fresh {
			c.pcall.AlreadyScreened = true
			c.prevID = prev
		}
	case errors.Is(err, ErrHangup):
		c.log().Debug("screen: caller gone before screening")
	default:
		f.Metrics.fail(failChannel)
		c.log().Warn("screen: cannot read "+decision.VarID+"; screening anyway", "err", err)
	}

	c.pcall.Restricted = f.restricted(ctx, ch, c)

	if !c.pcall.AlreadyScreened {
		res.Verdict = f.lookupBeside(ctx, ch, c)
	} else {
		res.Verdict.Tier = policy.TierUnknown
	}

	d := f.decide(ctx, c)
	res.Decision = d
	res.DecisionLatency = f.now().Sub(c.start)

	outcome := policy.OutcomeNone
	if d.Action == policy.Challenge {
		var err error
		outcome, err = f.challenge(ctx, ch, c)
		if err != nil {
			// The challenge could not be played: fail open.
			res.Error = err.Error()
			res.Decision.Reasons = append(res.Decision.Reasons, policy.ChallengeUnavailable)
			switch {
			case errors.Is(err, ErrPromptsMissing):
				// Prompts logged it once for the PBX; the gauge shows it.
				c.log().Debug("screen: challenge unavailable; call allowed", "err", err)
			case errors.Is(err, errCallDeadline):
				c.log().Warn("screen: call deadline passed during the challenge; call allowed", "err", err)
			default:
				f.Metrics.fail(failChannel)
				c.log().Warn("screen: challenge unavailable; call allowed", "err", err)
			}
		}
	}
	res.Challenge = outcome
	res.Result = res.Decision.Result(outcome)
	f.setVars(ctx, ch, c)
}

// profile resolves the profile: the name the dialplan passed, else the DID
// map, else "default". An unknown name falls back to default with a
// warning.
func (f *Flow) profile(info decision.CallInfo, dialed number.Number, log *slog.Logger) policy.Profile {
	name := strings.ToLower(strings.TrimSpace(info.Profile))
	if name == "" && f.Profiles != nil {
		if n, ok := f.Profiles.ProfileForDID(dialed); ok {
			name = n
		}
	}
	if name == "" {
		name = "default"
	}
	if f.Profiles != nil {
		if p, ok := f.Profiles.Profile(name); ok {
			if p.Name == "" {
				p.Name = name
			}
			return p
		}
		if name != "default" {
			log.Warn("screen: unknown profile; using default", "profile", cleanName(info.Profile))
		}
		if p, ok := f.Profiles.Profile("default"); ok {
			if p.Name == "" {
				p.Name = "default"
			}
			return p
		}
	} else if name != "default" {
		log.Warn("screen: unknown profile; using default", "profile", cleanName(info.Profile))
	}
	return policy.Default()
}

// isEmergency reports whether n is an emergency number for profile p; the
// built-in numbers count whatever the profile says.
func isEmergency(p policy.Profile, n number.Number) bool {
	if p.IsEmergency(n) {
		return true
	}
	return n.Digits != "" && slices.Contains(policy.DefaultEmergency, n.Digits)
}

// critical asks the Critical list, if any, about n; a panic in it counts
// as no match (the profile's list and the built-in numbers still apply).
func (f *Flow) critical(n number.Number) (ok bool) {
	if f.Critical == nil || (n.Digits == "" && n.E164 == "") {
		return false
	}
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	_, ok = f.Critical.Match(n)
	return ok
}

// rawEmergency reports whether raw caller ID text is a built-in emergency
// number, without the numbering-plan library: the check the panic path can
// still trust.
func rawEmergency(raw string) bool {
	raw = strings.TrimSpace(raw)
	return len(raw) <= 4 && slices.Contains(policy.DefaultEmergency, strings.TrimPrefix(raw, "+"))
}

func emergencyDecision(p policy.Profile) policy.Decision {
	mode := p.Mode
	if mode == "" {
		mode = policy.ModeEnforce
	}
	return policy.Decision{
		Action:      policy.Allow,
		Mode:        mode,
		Tier:        policy.TierUnknown,
		Reasons:     []policy.Reason{policy.EmergencyExempt},
		Profile:     p.Name,
		BlockResult: policy.ResultBlock,
	}
}

// restricted reports whether the caller withheld the number: from the
// transport's presentation code or name when it has one, else by reading
// CALLERID(num-pres). A failed read counts as not restricted.
func (f *Flow) restricted(ctx context.Context, ch Channel, c *call) bool {
	if c.info.PresentationCode >= 0 {
		return c.info.PresentationCode&0x60 != 0
	}
	pres := c.info.Presentation
	if pres == "" {
		v, ok, err := ch.Variable(ctx, "CALLERID(num-pres)")
		if err != nil && !errors.Is(err, ErrHangup) {
			c.log().Debug("screen: cannot read CALLERID(num-pres)", "err", err)
		}
		if !ok {
			return false
		}
		pres = v
	}
	return RestrictedPresentation(pres)
}

// RestrictedPresentation reports whether an Asterisk presentation name
// ("prohib_not_screened", "unavailable") withholds the number.
func RestrictedPresentation(name string) bool {
	name = strings.ToLower(strings.TrimSpace(name))
	return strings.HasPrefix(name, "prohib") || name == "unavailable"
}

// lookup runs the reputation source within LookupTimeout. A source that
// fails, panics or overruns adds provider.unavailable: the call fails open.
func (f *Flow) lookup(ctx context.Context, c *call) reputation.Verdict {
	return f.lookupWith(ctx, f.Source, c)
}

func (f *Flow) explainSource() reputation.Source {
	if f.ExplainSource != nil {
		return f.ExplainSource
	}
	return f.Source
}

// lookupWith asks src about the call. The query is built here and passed
// on by pointer: it is large, and this is the deepest stack of a call.
func (f *Flow) lookupWith(ctx context.Context, src reputation.Source, c *call) reputation.Verdict {
	unknown := reputation.Verdict{}
	unknown.Tier = policy.TierUnknown
	if src == nil {
		return unknown
	}
	if ch, ok := src.(reputation.Chain); ok && len(ch) == 0 {
		return unknown
	}
	timeout := orDefault(f.LookupTimeout, DefaultLookupTimeout)
	q := c.query()
	var a lookupAnswer
	if reputation.IsLocal(src) {
		a = lookupLocal(ctx, src, &q, timeout)
	} else {
		a = lookupAside(ctx, src, &q, timeout)
	}
	switch {
	case a.err == nil:
		if a.v.Tier == "" {
			a.v.Tier = policy.TierUnknown
		}
		return a.v
	case errors.Is(a.err, reputation.ErrNotCovered):
		unknown.Reasons = []policy.Reason{policy.CallerOutOfCoverage}
		return unknown
	default:
		f.Metrics.fail(failLookup)
		c.res.Error = a.err.Error()
		c.log().Warn("screen: reputation lookup failed; failing open", "err", a.err)
		unknown.Reasons = []policy.Reason{policy.ProviderUnavailable}
		return unknown
	}
}

type lookupAnswer struct {
	v   reputation.Verdict
	err error
}

// lookupAside runs the lookup on a goroutine of its own and waits at most
// timeout: a source still running then is abandoned.
func lookupAside(ctx context.Context, src reputation.Source, q *reputation.Query, timeout time.Duration) lookupAnswer {
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan lookupAnswer, 1)
	query := *q // the goroutine may outlive the call's frame: its own copy
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- lookupAnswer{err: fmt.Errorf("reputation lookup: panic: %v", p)}
			}
		}()
		v, err := src.Lookup(lctx, query)
		done <- lookupAnswer{v, err}
	}()
	select {
	case a := <-done:
		return a
	case <-lctx.Done():
		return lookupAnswer{err: fmt.Errorf("reputation lookup: %w", lctx.Err())}
	}
}

// lookupLocal runs a local source (reputation.Local: memory only, no I/O)
// on the call's goroutine, without the goroutine, timer and channel of
// lookupAside, which cost more than the lookup itself. The outcomes are
// lookupAside's: a panic is the same error, and so is a lookup that took
// timeout or longer, or during which the call ended (it cannot be
// abandoned, but its answer is not used).
func lookupLocal(ctx context.Context, src reputation.Source, q *reputation.Query, timeout time.Duration) (a lookupAnswer) {
	if err := ctx.Err(); err != nil {
		return lookupAnswer{err: fmt.Errorf("reputation lookup: %w", err)}
	}
	defer func() {
		if p := recover(); p != nil {
			a = lookupAnswer{err: fmt.Errorf("reputation lookup: panic: %v", p)}
		}
	}()
	start := time.Now()
	v, err := src.Lookup(ctx, *q)
	switch {
	case time.Since(start) >= timeout:
		return lookupAnswer{err: fmt.Errorf("reputation lookup: %w", context.DeadlineExceeded)}
	case ctx.Err() != nil: // the call ended meanwhile (its deadline, a forced stop)
		return lookupAnswer{err: fmt.Errorf("reputation lookup: %w", ctx.Err())}
	}
	return lookupAnswer{v, err}
}

// verified asks the Verifier whether the caller passed a challenge
// recently. Callers without a number are never remembered; a store failure
// reads as not verified.
func (f *Flow) verified(ctx context.Context, c *call) bool {
	if f.Verifier == nil || c.pcall.Anonymous() || c.pcall.Caller.Kind != number.Valid {
		return false
	}
	vctx, cancel := context.WithTimeout(ctx, orDefault(f.LookupTimeout, DefaultLookupTimeout))
	defer cancel()
	ok, err := f.Verifier.Verified(vctx, c.res.Tenant, c.pcall.Caller.E164)
	if err != nil {
		f.Metrics.fail(failVerifier)
		c.log().Warn("screen: verified-caller store failed; challenging", "err", err)
		return false
	}
	return ok
}

func (f *Flow) markVerified(ctx context.Context, c *call) {
	ttl := c.res.Decision.Challenge.VerifiedFor
	if f.Verifier == nil || ttl <= 0 || c.pcall.Anonymous() || c.pcall.Caller.Kind != number.Valid {
		return
	}
	vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), orDefault(f.LookupTimeout, DefaultLookupTimeout))
	defer cancel()
	if err := f.Verifier.MarkVerified(vctx, c.res.Tenant, c.pcall.Caller.E164, ttl); err != nil {
		f.Metrics.fail(failVerifier)
		c.log().Warn("screen: cannot remember verified caller", "err", err)
	}
}

// errCallDeadline stops a challenge whose call ran out of time.
var errCallDeadline = fmt.Errorf("call deadline passed: %w", context.DeadlineExceeded)

// promptsReady checks, through the Prompts cache, that every sound the
// challenge plays exists on the PBX. A channel that cannot tell (no
// SoundChecker) is trusted.
func (f *Flow) promptsReady(ctx context.Context, ch Channel, c *call) error {
	sc, ok := ch.(SoundChecker)
	if !ok {
		return nil
	}
	missing, err := f.promptCache().Check(ctx, sc, c.info.Language, ChallengeSounds(c.res.Decision.Challenge))
	switch {
	case err != nil:
		return fmt.Errorf("checking the prompts: %w", err)
	case len(missing) > 0:
		return fmt.Errorf("%w: %s", ErrPromptsMissing, strings.Join(missing, ", "))
	}
	sc.SoundsExist()
	return nil
}

// challenge plays the DTMF challenge: answer, intro, say the digits, read
// them back after the beep; on a wrong entry the retry prompt and new
// digits, up to Attempts tries. Nothing is played unless every sound is
// known to exist on the PBX. It returns passed or failed, abandoned when
// the caller hung up, or an error when the challenge could not be played
// (prompts missing, transport failure, deadline): the caller then fails
// open.
func (f *Flow) challenge(ctx context.Context, ch Channel, c *call) (policy.Outcome, error) {
	cs := c.res.Decision.Challenge
	digitsFn := f.Digits
	if digitsFn == nil {
		digitsFn = randomDigits
	}
	stop := func(err error) (policy.Outcome, error) {
		if errors.Is(err, ErrHangup) {
			return policy.OutcomeAbandoned, nil
		}
		return policy.OutcomeNone, fmt.Errorf("challenge: %w", err)
	}
	// inTime reports whether a step that may take need can still start:
	// never after the call's deadline, and never one that would run past
	// the grace its I/O has.
	inTime := func(need time.Duration) bool {
		now := f.now()
		return now.Before(c.deadline) && !now.Add(need).After(c.deadline.Add(overrunGrace))
	}
	if err := f.promptsReady(ctx, ch, c); err != nil {
		return stop(err)
	}
	if !inTime(0) {
		return stop(errCallDeadline)
	}
	if err := ch.Answer(ctx); err != nil {
		return stop(err)
	}
	for attempt := 0; attempt < cs.Attempts; attempt++ {
		prompt := cs.Intro
		if attempt > 0 {
			prompt = cs.Retry
		}
		if !inTime(0) {
			return stop(errCallDeadline)
		}
		if _, err := ch.Play(ctx, prompt, ""); err != nil {
			return stop(err)
		}
		want := digitsFn(cs.Digits)
		if !inTime(0) {
			return stop(errCallDeadline)
		}
		// A caller who types along stops the digits being said; the key
		// pressed counts as the first of the entry.
		got, err := ch.SayDigits(ctx, want, dtmfDigits)
		if err != nil {
			return stop(err)
		}
		if len(got) < cs.Digits {
			n := cs.Digits - len(got)
			if !inTime(time.Duration(n) * cs.Timeout) {
				return stop(errCallDeadline)
			}
			rest, err := ch.ReadDigits(ctx, BeepSound, cs.Timeout, n)
			if err != nil {
				return stop(err)
			}
			got += rest
		}
		if got == want {
			f.markVerified(ctx, c)
			if !inTime(0) {
				return policy.OutcomePassed, nil
			}
			if _, err := ch.Play(ctx, cs.Thanks, ""); err != nil && !errors.Is(err, ErrHangup) {
				c.log().Debug("screen: cannot play thanks prompt", "err", err)
			}
			return policy.OutcomePassed, nil
		}
		if got != "" {
			c.res.WrongEntries++
		}
	}
	return policy.OutcomeFailed, nil
}

// vars returns the routing variables for the call, in RoutingVars order.
func vars(c *call) []Var {
	res := c.res
	d := res.Decision
	score := ""
	if d.Scored {
		score = strconv.Itoa(d.Score)
	}
	reasons := make([]string, len(d.Reasons))
	for i, r := range d.Reasons {
		reasons[i] = string(r)
	}
	out := []Var{
		{decision.VarResult, string(res.Result)},
		{decision.VarAction, string(d.Action)},
		{decision.VarTier, string(d.Tier)},
		{decision.VarChallenge, string(res.Challenge)},
		{decision.VarReasons, strings.Join(reasons, ",")},
		{decision.VarScore, score},
		{decision.VarMode, string(d.Mode)},
		{decision.VarHeld, string(d.Held)},
		{decision.VarID, res.ID},
	}
	if c.prevID != "" {
		// Keep the first screening's id: it is what marks the call.
		out = out[:len(out)-1]
	}
	if c.fresh {
		// On a channel never screened the variables are unset already:
		// writing empty values would only cost round trips.
		out = slices.DeleteFunc(out, func(v Var) bool { return v.Value == "" })
	}
	return out
}

// setVars writes the routing variables, with a short grace period of its
// own when the call's deadline has passed already.
func (f *Flow) setVars(ctx context.Context, ch Channel, c *call) {
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
		defer cancel()
	}
	f.commit(c)
	if err := ch.SetVariables(ctx, vars(c)); err != nil {
		if errors.Is(err, ErrHangup) {
			// The channel is gone (ARI drops it at hangup): there is no
			// dialplan left to read the variables, so nothing failed.
			c.log().Debug("screen: caller gone before the routing variables were set", "err", err)
			return
		}
		f.Metrics.fail(failChannel)
		if c.res.Error == "" {
			c.res.Error = err.Error()
		}
		c.log().Error("screen: cannot set routing variables; the dialplan will allow the call", "err", err)
		return
	}
	c.varsOK = true
}

// commit hands the result to the recorders that must hold it before the
// dialplan learns the decision (the decision log writes it to the
// operating system: a crash from here on loses nothing the caller was
// told). They count and report their own failures; the call goes on.
func (f *Flow) commit(c *call) {
	cm, ok := f.Recorder.(decision.Committer)
	if !ok || c.committed {
		return
	}
	c.res.Duration = f.now().Sub(c.start)
	_ = cm.Commit(c.res)
	c.committed = true
	c.res.Committed = true
}

// failOpen turns the call into an allow after a panic and writes that.
func (f *Flow) failOpen(ctx context.Context, ch Channel, c *call) {
	reason := policy.InternalError
	if f.exempt(c) || rawEmergency(c.info.CallerNumber) || rawEmergency(c.info.Dialed) {
		reason = policy.EmergencyExempt
	}
	d := emergencyDecision(c.prof)
	d.Reasons = []policy.Reason{reason}
	c.res.Decision = d
	c.res.Result = policy.ResultAllow
	c.res.Challenge = policy.OutcomeNone
	c.fresh = false
	// What the dialplan gets now is not what was committed, if anything
	// was: commit again (the log then holds both, the later one last).
	c.committed = false
	defer func() {
		if p := recover(); p != nil {
			f.logger().Error("screen: panic while failing open", "call_id", c.res.ID, "panic", fmt.Sprint(p))
		}
	}()
	f.setVars(ctx, ch, c)
}

// finish counts, logs and records the call.
func (f *Flow) finish(c *call) {
	res := c.res
	defer func() {
		if p := recover(); p != nil {
			f.logger().Error("screen: panic while recording", "call_id", res.ID, "panic", fmt.Sprint(p))
		}
	}()
	f.Metrics.record(res)
	d := res.Decision
	level := slog.LevelDebug
	if d.Action != policy.Allow || d.Held != "" || res.Result != policy.ResultAllow {
		level = slog.LevelInfo
	}
	if c.base.Enabled(context.Background(), level) {
		c.log().Log(context.Background(), level, "screen: decision",
			"result", res.Result, "action", d.Action, "held", d.Held, "tier", d.Tier,
			"challenge", res.Challenge, "wrong_entries", res.WrongEntries,
			"reasons", d.Reasons, "decision_ms", float64(res.DecisionLatency.Microseconds())/1000,
			"duration_ms", float64(res.Duration.Microseconds())/1000)
	}
	if f.Recorder != nil {
		f.Recorder.Record(res)
	}
}

// Explain runs the lookups and the policy for a call without a channel:
// no challenge is played, no variable written, nothing recorded. The
// presentation comes from info (PresentationCode, Presentation); the
// verified-caller memory is consulted. It is what `callscreen check` and
// the admin API show. The error is ctx's when it ended first.
func (f *Flow) Explain(ctx context.Context, info decision.CallInfo) (*decision.Result, error) {
	start := f.now()
	res := f.newResult(info, start)
	c := &call{res: res, info: info, start: start, base: f.logger()}
	f.begin(c)
	if info.PresentationCode >= 0 {
		c.pcall.Restricted = info.PresentationCode&0x60 != 0
	} else {
		c.pcall.Restricted = RestrictedPresentation(info.Presentation)
	}
	if f.exempt(c) {
		res.Decision = emergencyDecision(c.prof)
		res.Result = policy.ResultAllow
		return res, ctx.Err()
	}
	res.Verdict = f.lookupWith(ctx, f.explainSource(), c)
	d := f.decide(ctx, c)
	res.Decision = d
	res.Result = d.Result(policy.OutcomeNone)
	if d.Action == policy.Challenge {
		// What the dialplan gets if the challenge fails.
		res.Result = d.Result(policy.OutcomeFailed)
	}
	res.DecisionLatency = f.now().Sub(start)
	res.Duration = res.DecisionLatency
	return res, ctx.Err()
}

// cleanName makes a caller name safe to keep and log: valid UTF-8, no
// control characters, at most MaxNameLen bytes.
func cleanName(s string) string { return cleanNameN(s, MaxNameLen) }

// cleanNameN is cleanName with a cap of max bytes.
func cleanNameN(s string, max int) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f || s[i] >= 0x80 {
			clean = false
			break
		}
	}
	if clean && len(s) <= max {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}
