package outbound

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// Verdict is the judgement on one number.
type Verdict string

// Verdicts.
const (
	// VerdictOK: no threshold crossed.
	VerdictOK Verdict = "ok"
	// VerdictTooFewCalls: fewer calls than Thresholds.MinCalls; not judged.
	VerdictTooFewCalls Verdict = "too_few_calls"
	// VerdictLikelySpam: at least one threshold crossed; carriers are
	// likely to label the number spam.
	VerdictLikelySpam Verdict = "likely_spam"
)

// Report is every number's health over the days kept.
type Report struct {
	Numbers    []Health   `json:"numbers"`
	Thresholds Thresholds `json:"thresholds"`
	Counts     Counts     `json:"counts"`
}

// Health is one number's calls over the window, its shares, the
// thresholds they crossed and the verdict.
type Health struct {
	Number       string `json:"number"`
	Calls        int    `json:"calls"`
	Answered     int    `json:"answered"`
	Short        int    `json:"short"`
	Unreachable  int    `json:"unreachable"`
	Busy         int    `json:"busy"`
	NoAnswer     int    `json:"no_answer"`
	Destinations int    `json:"distinct_destinations"`
	// ActiveDays are the days with at least one call; CallsPerDay is
	// Calls over ActiveDays.
	ActiveDays  int     `json:"active_days"`
	CallsPerDay float64 `json:"calls_per_day"`
	// Shares: Short of Answered; the others of Calls.
	AnswerShare      float64 `json:"answer_share"`
	ShortShare       float64 `json:"short_share"`
	UnreachableShare float64 `json:"unreachable_share"`
	BusyShare        float64 `json:"busy_share"`
	NoAnswerShare    float64 `json:"no_answer_share"`
	Verdict          Verdict `json:"verdict"`
	// Summary says the verdict in plain words.
	Summary string `json:"summary"`
	// Flags are the thresholds crossed, worst first.
	Flags []Flag `json:"flags"`
	Days  []Day  `json:"days"`
}

// Flag is one threshold a number crossed.
type Flag struct {
	Metric    string  `json:"metric"` // short_share, unreachable_share, calls_per_day
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
	Text      string  `json:"text"`
}

// Day is one number's calls on one day.
type Day struct {
	Date         string `json:"date"` // YYYY-MM-DD
	Calls        int    `json:"calls"`
	Answered     int    `json:"answered"`
	Short        int    `json:"short"`
	Unreachable  int    `json:"unreachable"`
	Busy         int    `json:"busy"`
	NoAnswer     int    `json:"no_answer"`
	Destinations int    `json:"distinct_destinations"`
}

// MarshalJSON writes ShortCall in seconds.
func (t Thresholds) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ShortCall        int64   `json:"short_call_seconds"`
		ShortShare       float64 `json:"short_share"`
		UnreachableShare float64 `json:"unreachable_share"`
		CallsPerDay      float64 `json:"calls_per_day"`
		MinCalls         int     `json:"min_calls"`
	}{int64(t.ShortCall / time.Second), t.ShortShare, t.UnreachableShare, t.CallsPerDay, t.MinCalls})
}

func share(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return round4(float64(n) / float64(of))
}

func round4(x float64) float64 { return math.Round(x*10000) / 10000 }

// pct writes a share as a whole percentage ("41%").
func pct(x float64) string { return fmt.Sprintf("%.0f%%", x*100) }

// judge fills the shares, flags, verdict and summary.
func (h *Health) judge(t Thresholds) {
	for _, d := range h.Days {
		if d.Calls > 0 {
			h.ActiveDays++
		}
	}
	if h.ActiveDays > 0 {
		h.CallsPerDay = math.Round(float64(h.Calls)/float64(h.ActiveDays)*10) / 10
	}
	h.AnswerShare = share(h.Answered, h.Calls)
	h.ShortShare = share(h.Short, h.Answered)
	h.UnreachableShare = share(h.Unreachable, h.Calls)
	h.BusyShare = share(h.Busy, h.Calls)
	h.NoAnswerShare = share(h.NoAnswer, h.Calls)
	h.Flags = []Flag{}
	secs := int64(t.ShortCall / time.Second)
	if t.ShortShare > 0 && h.Answered > 0 && h.ShortShare >= t.ShortShare {
		h.Flags = append(h.Flags, Flag{Metric: "short_share", Value: h.ShortShare, Threshold: t.ShortShare,
			Text: fmt.Sprintf("%s of answered calls under %d s", pct(h.ShortShare), secs)})
	}
	if t.UnreachableShare > 0 && h.UnreachableShare >= t.UnreachableShare {
		h.Flags = append(h.Flags, Flag{Metric: "unreachable_share", Value: h.UnreachableShare, Threshold: t.UnreachableShare,
			Text: fmt.Sprintf("%s of calls to unreachable numbers", pct(h.UnreachableShare))})
	}
	if t.CallsPerDay > 0 && h.CallsPerDay >= t.CallsPerDay {
		h.Flags = append(h.Flags, Flag{Metric: "calls_per_day", Value: h.CallsPerDay, Threshold: t.CallsPerDay,
			Text: fmt.Sprintf("%.0f calls a day", h.CallsPerDay)})
	}
	var texts []string
	for _, f := range h.Flags {
		texts = append(texts, f.Text)
	}
	switch {
	case h.Calls < t.MinCalls:
		h.Verdict = VerdictTooFewCalls
		h.Summary = fmt.Sprintf("too few calls to judge: %d, at least %d needed", h.Calls, t.MinCalls)
		if len(texts) > 0 {
			h.Summary += "; so far " + strings.Join(texts, ", ")
		}
	case len(h.Flags) > 0:
		h.Verdict = VerdictLikelySpam
		h.Summary = "likely to be labelled spam: " + strings.Join(texts, ", ")
	default:
		h.Verdict = VerdictOK
		h.Summary = fmt.Sprintf("healthy: %s of answered calls under %d s, %s of calls to unreachable numbers",
			pct(h.ShortShare), secs, pct(h.UnreachableShare))
	}
}

// Status is what a long-running judge of the numbers (outbound/monitor)
// knows: the last report and how the last refresh went. The admin API
// serves it as is.
type Status struct {
	// Source names the CDRs: a file, or a database without its password.
	Source string `json:"source"`
	// Updated is the end of the last refresh that read the CDRs; zero
	// before the first.
	Updated time.Time `json:"updated,omitzero"`
	// Error is why the last refresh failed; "" when it worked. Numbers
	// then stay as the last good refresh left them.
	Error string `json:"error,omitempty"`
	// Window is how many days are judged; Since the first of them.
	WindowDays int    `json:"window_days"`
	Since      string `json:"since,omitempty"`
	// MalformedRows counts the rows skipped since start.
	MalformedRows int64 `json:"malformed_rows"`
	Report
}
