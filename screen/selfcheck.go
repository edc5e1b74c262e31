package screen

import (
	"context"
	"fmt"

	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
)

// The made-up call SelfCheck screens: numbers the numbering plan keeps
// for fiction (NANP 555-0100 to 555-0199), so no real caller is looked up.
const (
	selfCheckCaller = "+12125550199"
	selfCheckDialed = "+12125550198"
)

// SelfCheck runs the flow's decision path for a made-up call through src:
// the number parsing, the profile, the critical numbers, a lookup and the
// policy, with no PBX, no challenge and nothing recorded or counted by the
// flow. It is what a watchdog asks to learn whether screening still makes
// progress.
//
// Outcomes: nil when everything returned before ctx ended, whatever the
// sources answered (a failing source is an answer the flow handles, not a
// stuck flow); an error wrapping ctx.Err() when something did not return
// in time (a lock held for ever, a source ignoring its context); an error
// when the path panicked. Pass src without sources that cost money or count
// calls.
func (f *Flow) SelfCheck(ctx context.Context, src reputation.Source) error {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("self-check: panic: %v", p)
			}
		}()
		start := f.now()
		info := decision.CallInfo{CallerNumber: selfCheckCaller, Dialed: selfCheckDialed, PresentationCode: 0, Transport: "self-check"}
		c := &call{res: f.newResult(info, start), info: info, start: start, base: f.logger()}
		f.begin(c)
		f.exempt(c)
		var v reputation.Verdict
		if src != nil {
			// An error is an answer: the flow fails open on it.
			v, _ = src.Lookup(ctx, c.query())
		}
		policy.Decide(c.pcall, v.Verdict, c.prof)
		done <- nil
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("self-check: the decision path did not return: %w", ctx.Err())
	}
}
