package behavior

import (
	"context"
	"time"
)

// Observation is one call as the counters see it.
type Observation struct {
	Tenant string
	// Caller and Dialed are E.164 numbers; "" skips the counters keyed by
	// it (an anonymous caller has no burst count).
	Caller, Dialed string
	// ID tells calls apart (the decision id).
	ID   string
	Time time.Time
	// BurstWindow and BurstCap: count the caller's calls within the
	// window, keeping at most BurstCap of them.
	BurstWindow time.Duration
	BurstCap    int
	// RepeatWindow: count the caller's flags within it.
	RepeatWindow time.Duration
	// Honeypot marks the caller for HoneypotFor (this call dialed one).
	Honeypot    bool
	HoneypotFor time.Duration
}

// Counts are what the counters say after counting one call.
type Counts struct {
	// Burst is the caller's calls within BurstWindow, this one included
	// (at most BurstCap).
	Burst int
	// Flood estimates the dialed number's calls in the last minute, this
	// one included.
	Flood int
	// Gray is how often the caller was flagged within RepeatWindow.
	Gray int
	// Honeypot is true when the caller is marked.
	Honeypot bool
}

// Counter counts calls. Implementations are safe for concurrent use.
//
// Outcomes:
//   - Observe: (counts, nil) the call is counted; (_, err) the counters
//     failed or ctx ended: nothing is known, the call may or may not be
//     counted.
//   - Flag: nil when recorded; an error when the counters failed.
type Counter interface {
	// Observe counts one call and returns the counts, in one round trip.
	Observe(ctx context.Context, o Observation) (Counts, error)
	// Flag records that caller was challenged or flagged at t; flags older
	// than keep are forgotten.
	Flag(ctx context.Context, tenant, caller, id string, t time.Time, keep time.Duration) error
}

// floodEstimate turns fixed one-minute counts into a sliding one-minute
// estimate: this minute's calls plus the previous minute's, weighted by
// how much of it the last 60 seconds still cover.
func floodEstimate(cur, prev int, t time.Time) int {
	into := float64(t.UnixMilli()%60000) / 60000
	return cur + int(float64(prev)*(1-into)+0.5)
}

// maxFlags bounds the flags kept per caller.
const maxFlags = 64
