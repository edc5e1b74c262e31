package screen

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// fakeChannel is a small in-memory Channel: a caller who types Keys at
// each ReadDigits (Auto: the digits last said), hangs up after HangupAfter
// operations, and a variable store that, like Asterisk, still works after
// the hangup.
type fakeChannel struct {
	mu          sync.Mutex
	Vars        map[string]string
	Keys        []string
	Auto        bool
	HangupAfter int
	// Fail makes the named operation ("Play", "SetVariables", ...) fail
	// with this error.
	Fail map[string]error
	// Block makes the named operation wait for ctx.
	Block string
	// Barge is the key the caller presses while digits are said; it
	// interrupts when the interrupt keys allow it.
	Barge string
	// Clock, when set, is advanced by Step at every operation that plays
	// or reads digits: the time a caller spends listening.
	Clock *fakeClock
	Step  time.Duration

	ops      []string
	said     string
	hungUp   bool
	answered bool
	setCalls int
}

var _ Channel = (*fakeChannel)(nil)

func newFake() *fakeChannel { return &fakeChannel{Vars: map[string]string{}} }

var errTransport = errors.New("connection reset")

// op records an operation and reports whether the caller is gone.
func (f *fakeChannel) op(ctx context.Context, name, detail string, media bool) error {
	f.mu.Lock()
	f.ops = append(f.ops, strings.TrimSpace(name+" "+detail))
	n := len(f.ops)
	if f.HangupAfter > 0 && n > f.HangupAfter {
		f.hungUp = true
	}
	hung := f.hungUp
	err := f.Fail[name]
	block := f.Block == name
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return ctx.Err()
	}
	if media && f.Clock != nil {
		f.Clock.Advance(f.Step)
	}
	if err != nil {
		return err
	}
	if hung && media {
		return fmt.Errorf("%s: %w", name, ErrHangup)
	}
	return nil
}

func (f *fakeChannel) Answer(ctx context.Context) error {
	if err := f.op(ctx, "Answer", "", true); err != nil {
		return err
	}
	f.answered = true
	return nil
}

func (f *fakeChannel) Play(ctx context.Context, sound, interrupt string) (string, error) {
	return "", f.op(ctx, "Play", sound, true)
}

func (f *fakeChannel) SayDigits(ctx context.Context, digits, interrupt string) (string, error) {
	if err := f.op(ctx, "SayDigits", digits, true); err != nil {
		return "", err
	}
	f.mu.Lock()
	f.said = digits
	f.mu.Unlock()
	if f.Barge != "" && strings.Contains(interrupt, f.Barge) {
		return f.Barge, nil
	}
	return "", nil
}

func (f *fakeChannel) ReadDigits(ctx context.Context, sound string, timeout time.Duration, max int) (string, error) {
	if err := f.op(ctx, "ReadDigits", fmt.Sprintf("%s %s %d", sound, timeout, max), true); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Auto {
		return f.said, nil
	}
	if len(f.Keys) == 0 {
		return "", nil
	}
	k := f.Keys[0]
	f.Keys = f.Keys[1:]
	return k, nil
}

func (f *fakeChannel) Variable(ctx context.Context, name string) (string, bool, error) {
	if err := f.op(ctx, "Variable", name, false); err != nil {
		return "", false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.Vars[name]
	return v, ok, nil
}

func (f *fakeChannel) SetVariables(ctx context.Context, vars []Var) error {
	names := make([]string, len(vars))
	for i, v := range vars {
		names[i] = v.Name
	}
	if err := f.op(ctx, "SetVariables", strings.Join(names, ","), false); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setCalls++
	for _, v := range vars {
		if v.Value == "" {
			delete(f.Vars, v.Name)
		} else {
			f.Vars[v.Name] = v.Value
		}
	}
	return nil
}

func (f *fakeChannel) Hangup(ctx context.Context) error {
	err := f.op(ctx, "Hangup", "", true)
	f.mu.Lock()
	f.hungUp = true
	f.mu.Unlock()
	return err
}

func (f *fakeChannel) opsWith(prefix string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, o := range f.ops {
		if strings.HasPrefix(o, prefix) {
			out = append(out, o)
		}
	}
	return out
}

func (f *fakeChannel) allOps() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.ops, "\n")
}

// fakeClock is a Flow clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// soundFake is a fakeChannel that can check sounds, as both transports
// can: Missing names the sounds its PBX lacks, CheckErr fails the check.
type soundFake struct {
	*fakeChannel
	pbx      string
	Missing  []string
	CheckErr error
	// OnCheck, when set, runs as a check starts; an error it returns
	// is the check's.
	OnCheck func() error
	checks  int
	trusted bool
}

var _ SoundChecker = (*soundFake)(nil)

func (s *soundFake) PBX() string { return s.pbx }

func (s *soundFake) MissingSounds(ctx context.Context, language string, sounds []string) ([]string, error) {
	s.mu.Lock()
	s.checks++
	s.ops = append(s.ops, "MissingSounds "+language+" "+strings.Join(sounds, ","))
	s.mu.Unlock()
	if s.OnCheck != nil {
		if err := s.OnCheck(); err != nil {
			return nil, err
		}
	}
	if s.CheckErr != nil {
		return nil, s.CheckErr
	}
	var out []string
	for _, want := range sounds {
		for _, m := range s.Missing {
			if m == want {
				out = append(out, m)
			}
		}
	}
	return out, nil
}

func (s *soundFake) SoundsExist() {
	s.mu.Lock()
	s.trusted = true
	s.mu.Unlock()
}
