package stats

import (
	"slices"
	"strings"

	"github.com/callscreen/callscreen/policy"
)

// Figures are the counts of a row (a profile, a DID, everything) as the API
// shows them, with the rates a supervisor reads.
type Figures struct {
	Calls int64 `json:"calls"`
	// Total is Calls, under the name older clients read.
	Total         int64 `json:"total"`
	Allowed       int64 `json:"allowed"`
	Blocked       int64 `json:"blocked"`
	Challenged    int64 `json:"challenged"`
	Passed        int64 `json:"passed"`
	Failed        int64 `json:"failed"`
	Abandoned     int64 `json:"abandoned"`
	Intercepted   int64 `json:"intercepted"`
	Voicemail     int64 `json:"voicemail"`
	Monitored     int64 `json:"monitored"`
	Held          int64 `json:"held"`
	HeldBlock     int64 `json:"held_block"`
	HeldChallenge int64 `json:"held_challenge"`
	// InterceptionRate is Intercepted over Calls: the share kept from
	// ringing.
	InterceptionRate float64 `json:"interception_rate"`
	// PassThrough is Passed over the challenges that ended (passed, failed
	// or abandoned).
	PassThrough float64 `json:"challenge_pass_through"`
	// WouldBlockRate and WouldChallengeRate are HeldBlock and HeldChallenge
	// over Monitored: what monitor mode would have done.
	WouldBlockRate     float64 `json:"would_block_rate"`
	WouldChallengeRate float64 `json:"would_challenge_rate"`
	// JunkShare is junk (blocked, failed challenges, held blocks) over
	// Calls, 0..1.
	JunkShare  float64       `json:"junk_share"`
	TopReasons []ReasonCount `json:"top_reasons"`
}

// ReasonCount is a reason code and how many calls carried it.
type ReasonCount struct {
	Code        string `json:"code"`
	Description string `json:"description"`
	Count       int64  `json:"count"`
}

// TopReasons is how many reasons a row lists.
const TopReasons = 5

func ratio(a, b int64) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// figures computes the row of c.
func figures(c *Counts) Figures {
	f := Figures{
		Calls: c.Calls, Total: c.Calls, Allowed: c.Allowed, Blocked: c.Blocked, Challenged: c.Challenged,
		Passed: c.Passed, Failed: c.Failed, Abandoned: c.Abandoned, Intercepted: c.Intercepted, Voicemail: c.Voicemail,
		Monitored: c.Monitored, Held: c.HeldBlock + c.HeldChallenge, HeldBlock: c.HeldBlock, HeldChallenge: c.HeldChallenge,
		InterceptionRate:   ratio(c.Intercepted, c.Calls),
		PassThrough:        ratio(c.Passed, c.Passed+c.Failed+c.Abandoned),
		WouldBlockRate:     ratio(c.HeldBlock, c.Monitored),
		WouldChallengeRate: ratio(c.HeldChallenge, c.Monitored),
		JunkShare:          ratio(c.Junk(), c.Calls),
		TopReasons:         topReasons(c.Reasons, TopReasons),
	}
	return f
}

// topReasons lists the n reasons most calls carried, most first (ties by
// code). mode.monitor, on every call of a monitor profile, says nothing
// about the callers and is left out.
func topReasons(m map[policy.Reason]int64, n int) []ReasonCount {
	out := make([]ReasonCount, 0, len(m))
	for r, c := range m {
		if r == policy.MonitorMode || c <= 0 {
			continue
		}
		out = append(out, ReasonCount{Code: string(r), Description: r.Description(), Count: c})
	}
	slices.SortFunc(out, func(a, b ReasonCount) int {
		if a.Count != b.Count {
			if a.Count > b.Count {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Code, b.Code)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}
