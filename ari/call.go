package ari

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// AnyKey lists every DTMF key, for interrupt arguments.
const AnyKey = "0123456789*#ABCD"

const (
	// maxBufferedDigits bounds the DTMF a call keeps unread.
	maxBufferedDigits = 64
	// stopWait bounds the wait for PlaybackFinished after a stop, before
	// a blocking operation is sent anyway.
	stopWait = 3 * time.Second
)

// Call is one channel in the Stasis application, handed to a Handler. Its
// data fields are read-only. Its methods honour ctx's deadline; a channel
// that is gone makes them fail with an error wrapping ErrHangup. The
// methods may be called from several goroutines, but a call is meant to be
// driven by its handler alone.
type Call struct {
	// Channel is the channel as StasisStart described it.
	Channel Channel
	// Args are the Stasis() arguments after the application name; Params
	// holds those of the form key=value, keys lower-cased.
	Args   []string
	Params map[string]string
	// Tenant and Profile are what the App's Scope made of the arguments.
	Tenant, Profile string
	// Started is when the StasisStart arrived.
	Started time.Time

	client *Client
	id     string
	log    *slog.Logger

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every change below
	digits   []byte
	gone     bool
	goneWhy  string
	pb       *activePlayback
	resync   bool
	resolved bool
	seq      int
}

// activePlayback is the playback a call waits on.
type activePlayback struct {
	id        string
	mark      int // len(digits) when requested: keys pressed earlier do not interrupt it
	interrupt string
	key       byte
	stopSent  bool
	finished  bool
	state     string
}

func newCall(client *Client, start *StasisStart, arrived time.Time, log *slog.Logger) *Call {
	c := &Call{
		Channel: start.Channel,
		Args:    start.Args,
		Params:  map[string]string{},
		Started: arrived,
		client:  client,
		id:      start.Channel.ID,
		log:     log,
		changed: make(chan struct{}),
	}
	for _, a := range start.Args {
		if k, v, ok := strings.Cut(a, "="); ok {
			c.Params[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
	}
	return c
}

// ID returns the channel's unique id.
func (c *Call) ID() string { return c.id }

// Logger returns the call's logger (call_id, tenant, profile).
func (c *Call) Logger() *slog.Logger { return c.log }

// Gone reports whether the channel is known to be gone.
func (c *Call) Gone() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gone
}

func (c *Call) signalLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// The on* methods apply an event; the event loop calls them and they never
// block.

func (c *Call) onDTMF(digit string) {
	if len(digit) != 1 || !strings.Contains(AnyKey, digit) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.digits) < maxBufferedDigits {
		c.digits = append(c.digits, digit[0])
	}
	c.signalLocked()
}

func (c *Call) onPlayback(p *Playback, finished bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pb := c.pb
	if pb == nil || pb.id != p.ID {
		return
	}
	if finished && !pb.finished {
		pb.finished = true
		pb.state = p.State
	}
	c.signalLocked()
}

func (c *Call) onGone(why string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.gone {
		c.gone = true
		c.goneWhy = why
		c.signalLocked()
	}
}

// onResync asks a waiting operation to re-check, by REST, what events may
// have been lost while the event connection was down.
func (c *Call) onResync() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resync = true
	c.signalLocked()
}

func (c *Call) hangupErr(op string) error {
	return fmt.Errorf("ari %s channel %s: %w", op, c.id, ErrHangup)
}

// check notes a REST error that says the channel is gone.
func (c *Call) check(err error) error {
	if err != nil && errors.Is(err, ErrHangup) {
		c.onGone("asterisk: channel gone")
	}
	return err
}

// Answer answers the channel.
func (c *Call) Answer(ctx context.Context) error {
	if c.Gone() {
		return c.hangupErr("answer")
	}
	return c.check(c.client.Answer(ctx, c.id))
}

// Play plays media (one playback of one or more URIs such as
// "sound:callscreen/intro", "digits:472") and waits for PlaybackFinished.
//
// A key in interrupt pressed during the playback is returned. It stops a
// sound: playback at once; a digits: playback cannot be stopped, so the
// key is returned when it ends. Keys not in interrupt, and keys pressed
// during a playback played with interrupt "", stay buffered for
// ReadDigits. Outcomes: ("", nil) or (key, nil) when it ended; an error
// wrapping ErrHangup when the channel went away; ErrPlaybackFailed when
// Asterisk could not play it; ctx's error (the playback may still run:
// SetVariables stops it).
func (c *Call) Play(ctx context.Context, media []string, interrupt string) (string, error) {
	c.mu.Lock()
	if c.gone {
		c.mu.Unlock()
		return "", c.hangupErr("play on")
	}
	c.seq++
	pb := &activePlayback{id: fmt.Sprintf("cs-%s-%d", c.id, c.seq), mark: len(c.digits), interrupt: interrupt}
	// Registered before the request: PlaybackStarted and even
	// PlaybackFinished can arrive before the 201.
	c.pb = pb
	c.mu.Unlock()
	if _, err := c.client.Play(ctx, c.id, pb.id, media); err != nil {
		if status, _ := statusOf(err); status != 0 {
			// Asterisk refused it: there is no playback. Without an
			// answer (a timeout) it may be playing: SetVariables and the
			// hand-back will try to stop it.
			c.mu.Lock()
			if c.pb == pb {
				c.pb = nil
			}
			c.mu.Unlock()
		}
		return "", c.check(err)
	}
	return c.waitPlayback(ctx, pb)
}

func (c *Call) waitPlayback(ctx context.Context, pb *activePlayback) (string, error) {
	for {
		c.mu.Lock()
		if pb.key == 0 && pb.interrupt != "" {
			for i := pb.mark; i < len(c.digits); i++ {
				if strings.IndexByte(pb.interrupt, c.digits[i]) >= 0 {
					pb.key = c.digits[i]
					c.digits = append(c.digits[:i], c.digits[i+1:]...)
					break
				}
			}
		}
		if pb.finished || c.gone {
			if c.pb == pb {
				c.pb = nil
			}
			gone, state, key := c.gone, pb.state, pb.key
			c.mu.Unlock()
			switch {
			case gone:
				return "", c.hangupErr("play on")
			case state == "failed":
				return "", fmt.Errorf("ari play on channel %s: %w", c.id, ErrPlaybackFailed)
			case key != 0:
				return string(key), nil
			}
			return "", nil
		}
		stop := pb.key != 0 && !pb.stopSent
		if stop {
			pb.stopSent = true
		}
		resync := c.resync
		c.resync = false
		wake := c.changed
		c.mu.Unlock()

		if stop {
			c.stop(ctx, pb)
		}
		if resync {
			if _, err := c.client.Playback(ctx, pb.id); errors.Is(err, ErrNotFound) {
				c.playbackGone(pb)
			}
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return "", fmt.Errorf("ari play on channel %s: %w", c.id, ctx.Err())
		}
	}
}

// stop asks Asterisk to stop pb. A playback it cannot stop now (500: a
// digits: media is playing) is left to finish; one it no longer has is
// finished.
func (c *Call) stop(ctx context.Context, pb *activePlayback) {
	err := c.client.StopPlayback(ctx, pb.id)
	status, _ := statusOf(err)
	switch {
	case err == nil, status == http.StatusInternalServerError:
	case errors.Is(err, ErrNotFound):
		c.playbackGone(pb)
	default:
		c.log.Debug("ari: cannot stop playback", "playback", pb.id, "err", err)
	}
}

// playbackGone marks pb finished when Asterisk no longer knows it (its
// PlaybackFinished was missed or is still on its way).
func (c *Call) playbackGone(pb *activePlayback) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !pb.finished {
		pb.finished = true
		pb.state = "done"
	}
	c.signalLocked()
}

// stopPlayback stops the running playback, if any, and waits (at most
// stopWait) until it has ended: answer and set-variable would otherwise
// wait behind it in Asterisk's queue, and continue would only act after it.
func (c *Call) stopPlayback(ctx context.Context) {
	c.mu.Lock()
	pb := c.pb
	if pb == nil || pb.finished || c.gone {
		c.mu.Unlock()
		return
	}
	pb.stopSent = true
	c.mu.Unlock()
	c.stop(ctx, pb)
	ctx, cancel := context.WithTimeout(ctx, stopWait)
	defer cancel()
	for {
		c.mu.Lock()
		done := pb.finished || c.gone
		if done && c.pb == pb {
			c.pb = nil
		}
		wake := c.changed
		c.mu.Unlock()
		if done {
			return
		}
		select {
		case <-wake:
		case <-ctx.Done():
			c.log.Debug("ari: playback still running after stop", "playback", pb.id)
			return
		}
	}
}

// ReadDigits plays media (none when empty; any key interrupts it), then
// collects up to max DTMF digits, waiting at most timeout for each. Digits
// buffered earlier count, in the order they were typed: before the key
// that stopped the media; '#' ends the entry and is not returned. It
// returns the digits entered, "" when none came in time.
func (c *Call) ReadDigits(ctx context.Context, media []string, timeout time.Duration, max int) (string, error) {
	if max < 1 || timeout <= 0 {
		return "", fmt.Errorf("ari read digits on channel %s: %w: max %d, timeout %s", c.id, ErrBadArgument, max, timeout)
	}
	var got []byte
	if len(media) > 0 {
		// A caller typing along may have pressed keys before the media
		// started (a playback that did not take them left them
		// buffered): they come first. Taken out of the buffer now, they
		// cannot be mistaken for the key that stops the media, which was
		// pressed after them. A '#' among them stays for the loop below.
		c.mu.Lock()
		for len(c.digits) > 0 && len(got) < max && c.digits[0] != '#' {
			got = append(got, c.digits[0])
			c.digits = c.digits[1:]
		}
		c.mu.Unlock()
		key, err := c.Play(ctx, media, AnyKey)
		if err != nil {
			return "", err
		}
		switch {
		case key == "#":
			return string(got), nil
		case key != "" && len(got) < max:
			got = append(got, key...)
		case key != "":
			// The entry was complete before it: the key stays buffered,
			// first, as any key typed after an entry does.
			c.mu.Lock()
			c.digits = append([]byte{key[0]}, c.digits...)
			c.mu.Unlock()
		}
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		c.mu.Lock()
		progress := false
		for len(c.digits) > 0 && len(got) < max {
			d := c.digits[0]
			c.digits = c.digits[1:]
			if d == '#' {
				c.mu.Unlock()
				return string(got), nil
			}
			got = append(got, d)
			progress = true
		}
		gone := c.gone
		wake := c.changed
		c.mu.Unlock()
		switch {
		case len(got) >= max:
			return string(got), nil
		case gone:
			return string(got), c.hangupErr("read digits on")
		}
		if progress {
			timer.Reset(timeout)
		}
		select {
		case <-wake:
		case <-timer.C:
			return string(got), nil
		case <-ctx.Done():
			return string(got), fmt.Errorf("ari read digits on channel %s: %w", c.id, ctx.Err())
		}
	}
}

// Variable reads a channel variable or a dialplan function
// ("CALLERID(num-pres)"). ok is false when the variable is unset (404) or
// the function cannot be read (500, 400): Asterisk answers so for a
// function whose module is not loaded, or an index out of range.
func (c *Call) Variable(ctx context.Context, name string) (value string, ok bool, err error) {
	if c.Gone() {
		return "", false, c.hangupErr("get variable " + name + " of")
	}
	v, err := c.client.Variable(ctx, c.id, name)
	if err == nil {
		return v, true, nil
	}
	if errors.Is(err, ErrHangup) {
		return "", false, c.check(err)
	}
	status, _ := statusOf(err)
	function := strings.HasSuffix(name, ")")
	switch {
	case status == http.StatusNotFound:
		return "", false, nil
	case function && (status == http.StatusInternalServerError || status == http.StatusBadRequest):
		c.log.Debug("ari: function not readable", "function", name, "err", err)
		return "", false, nil
	}
	return "", false, err
}

// SetVariables stops any running playback (Asterisk would hold the
// variables behind it), then sets vars in one call.
func (c *Call) SetVariables(ctx context.Context, vars []Var) error {
	if c.Gone() {
		return c.hangupErr("set variables on")
	}
	c.stopPlayback(ctx)
	return c.check(c.client.SetVariables(ctx, c.id, vars))
}

// Hangup hangs the channel up; the App will not continue it.
func (c *Call) Hangup(ctx context.Context) error {
	if c.Gone() {
		return c.hangupErr("hang up")
	}
	if err := c.client.Hangup(ctx, c.id, "normal"); err != nil {
		return c.check(err)
	}
	c.onGone("hung up by the application")
	return nil
}

// takeResolve marks the call as handed back; false when it was already.
func (c *Call) takeResolve() (first, gone bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.resolved {
		return false, c.gone
	}
	c.resolved = true
	return true, c.gone
}
