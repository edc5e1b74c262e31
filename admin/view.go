package admin

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/policy"
)

// Decision is a decision as the API and the dashboard show it.
type Decision struct {
	ID         string    `json:"id"`
	Time       time.Time `json:"time"`
	Tenant     string    `json:"tenant"`
	Profile    string    `json:"profile"`
	Transport  string    `json:"transport,omitempty"`
	Caller     string    `json:"caller"`
	CallerName string    `json:"caller_name,omitempty"`
	Dialed     string    `json:"dialed"`
	// Attestation and VerifyResult are the call's STIR/SHAKEN result,
	// omitted when it carried none.
	Attestation   string       `json:"attestation,omitempty"`
	VerifyResult  string       `json:"verify_result,omitempty"`
	Tier          string       `json:"tier"`
	Action        string       `json:"action"`
	Held          string       `json:"held,omitempty"`
	Mode          string       `json:"mode"`
	Result        string       `json:"result"`
	Challenge     string       `json:"challenge"`
	WrongEntries  int          `json:"wrong_entries"`
	Score         *int         `json:"score,omitempty"`
	Reasons       []ReasonView `json:"reasons"`
	Sources       []SourceView `json:"sources"`
	LatencyMS     float64      `json:"latency_ms"`
	DurationMS    float64      `json:"duration_ms"`
	Error         string       `json:"error,omitempty"`
	ConfigVersion string       `json:"config_version,omitempty"`
}

// ReasonView is a reason code with the sentence a supervisor reads.
type ReasonView struct {
	Code        string `json:"code"`
	Description string `json:"description"`
}

// SourceView is one reputation source's part in a decision.
type SourceView struct {
	Source        string            `json:"source"`
	Tier          string            `json:"tier,omitempty"`
	Risk          string            `json:"risk,omitempty"`
	Score         *int              `json:"score,omitempty"`
	RecentReports int               `json:"recent_reports,omitempty"`
	Reasons       []ReasonView      `json:"reasons,omitempty"`
	Raw           map[string]string `json:"raw,omitempty"`
	Error         string            `json:"error,omitempty"`
	LatencyMS     float64           `json:"latency_ms"`
}

func reasonViews(rs []policy.Reason) []ReasonView {
	out := make([]ReasonView, 0, len(rs))
	for _, r := range rs {
		out = append(out, ReasonView{Code: string(r), Description: r.Description()})
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// View turns a result into what the API shows.
func View(r *decision.Result) Decision {
	d := Decision{
		ID: r.ID, Time: r.Time.UTC(), Tenant: r.Tenant, Profile: r.Profile, Transport: r.Transport,
		Caller: r.Caller, CallerName: r.CallerName, Dialed: r.Dialed, Attestation: r.Attestation, VerifyResult: r.VerifyResult,
		Tier: string(r.Decision.Tier), Action: string(r.Decision.Action), Held: string(r.Decision.Held),
		Mode: string(r.Decision.Mode), Result: string(r.Result), Challenge: string(r.Challenge),
		WrongEntries: r.WrongEntries, Reasons: reasonViews(r.Decision.Reasons),
		Sources:   make([]SourceView, 0, len(r.Verdict.Sources)),
		LatencyMS: ms(r.DecisionLatency), DurationMS: ms(r.Duration), Error: r.Error, ConfigVersion: r.ConfigVersion,
	}
	if d.Caller == "" {
		d.Caller = r.CallerRaw
	}
	if d.Challenge == "" {
		d.Challenge = string(policy.OutcomeNone)
	}
	if r.Decision.Scored {
		s := r.Decision.Score
		d.Score = &s
	}
	for _, rep := range r.Verdict.Sources {
		sv := SourceView{
			Source: rep.Source, Tier: string(rep.Verdict.Tier), Risk: string(rep.Verdict.Risk),
			RecentReports: rep.Verdict.RecentReports, Raw: rep.Verdict.Raw, LatencyMS: ms(rep.Latency),
		}
		if len(rep.Verdict.Reasons) > 0 {
			sv.Reasons = reasonViews(rep.Verdict.Reasons)
		}
		if rep.Verdict.Scored {
			s := rep.Verdict.Score
			sv.Score = &s
		}
		if rep.Err != nil {
			sv.Error = rep.Err.Error()
		}
		d.Sources = append(d.Sources, sv)
	}
	return d
}

var csvHeader = []string{"time", "id", "tenant", "profile", "caller", "caller_name", "dialed", "tier", "action",
	"held", "mode", "result", "challenge", "wrong_entries", "score", "reasons", "latency_ms", "error", "attestation", "verify_result"}

// writeCSV writes decisions as CSV, cells that a spreadsheet would run as a
// formula made inert.
func writeCSV(w io.Writer, ds []Decision) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for _, d := range ds {
		codes := make([]string, len(d.Reasons))
		for i, r := range d.Reasons {
			codes[i] = r.Code
		}
		score := ""
		if d.Score != nil {
			score = strconv.Itoa(*d.Score)
		}
		row := []string{d.Time.Format(time.RFC3339Nano), d.ID, d.Tenant, d.Profile, d.Caller, d.CallerName, d.Dialed,
			d.Tier, d.Action, d.Held, d.Mode, d.Result, d.Challenge, strconv.Itoa(d.WrongEntries), score,
			strings.Join(codes, ","), strconv.FormatFloat(d.LatencyMS, 'f', 3, 64), d.Error, d.Attestation, d.VerifyResult}
		for i := range row {
			row[i] = csvCell(row[i])
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvCell defuses formula injection: a cell starting with = @ tab or CR,
// or with + or - and not a plain number (E.164 numbers stay as they are),
// gets a leading apostrophe.
func csvCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '@', '\t', '\r':
		return "'" + s
	case '+', '-':
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return "'" + s
		}
	}
	return s
}
