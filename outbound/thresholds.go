package outbound

import (
	"fmt"
	"time"
)

// Thresholds say when a number's behaviour looks like an autodialer's.
// A zero share or rate turns that check off.
type Thresholds struct {
	// ShortCall: an answered call with billsec below it is short.
	ShortCall time.Duration
	// ShortShare flags a number when short calls are at least this share
	// of its answered calls.
	ShortShare float64
	// UnreachableShare flags a number when calls to unreachable numbers
	// (FAILED, CONGESTION, or NO ANSWER after 0 s) are at least this
	// share of its calls.
	UnreachableShare float64
	// CallsPerDay flags a number placing at least this many calls a day
	// (on average over the days it placed calls).
	CallsPerDay float64
	// MinCalls: a number with fewer calls in the window is not judged.
	MinCalls int
}

// DefaultThresholds are the documented defaults (docs/outbound-health.md).
func DefaultThresholds() Thresholds {
	return Thresholds{
		ShortCall:        6 * time.Second,
		ShortShare:       0.30,
		UnreachableShare: 0.10,
		CallsPerDay:      200,
		MinCalls:         20,
	}
}

// Validate names the first bad value.
func (t Thresholds) Validate() error {
	switch {
	case t.ShortCall < time.Second || t.ShortCall%time.Second != 0:
		return fmt.Errorf("short_call %s: want whole seconds, at least 1s", t.ShortCall)
	case t.ShortShare < 0 || t.ShortShare > 1:
		return fmt.Errorf("short_share %g: want a share from 0 to 1", t.ShortShare)
	case t.UnreachableShare < 0 || t.UnreachableShare > 1:
		return fmt.Errorf("unreachable_share %g: want a share from 0 to 1", t.UnreachableShare)
	case t.CallsPerDay < 0:
		return fmt.Errorf("calls_per_day %g: must not be negative", t.CallsPerDay)
	case t.MinCalls < 1:
		return fmt.Errorf("min_calls %d: must be at least 1", t.MinCalls)
	}
	return nil
}
