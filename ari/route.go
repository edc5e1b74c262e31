package ari

// route applies an event to the call in flight it is about, found with
// call (nil when there is none). It never blocks. StasisStart, which
// starts a call, is the caller's to handle.
func route(e Event, call func(id string) *Call) {
	switch e := e.(type) {
	case *StasisEnd:
		if c := call(e.Channel.ID); c != nil {
			c.onGone("StasisEnd")
		}
	case *ChannelHangupRequest:
		if e.Soft && e.Cause != 0 && e.Cause&^(softAsyncGoto|softUnbridge) == 0 {
			// Not the end of the call: a redirect (StasisEnd follows) or
			// leaving a bridge.
			return
		}
		if c := call(e.Channel.ID); c != nil {
			c.onGone("ChannelHangupRequest")
		}
	case *ChannelDestroyed:
		if c := call(e.Channel.ID); c != nil {
			c.onGone("ChannelDestroyed")
		}
	case *ChannelDtmfReceived:
		if c := call(e.Channel.ID); c != nil {
			c.onDTMF(e.Digit)
		}
	case *PlaybackStarted:
		if c := call(e.Playback.ChannelID()); c != nil {
			c.onPlayback(&e.Playback, false)
		}
	case *PlaybackFinished:
		if c := call(e.Playback.ChannelID()); c != nil {
			c.onPlayback(&e.Playback, true)
		}
	}
}
