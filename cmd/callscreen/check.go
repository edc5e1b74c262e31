package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/callscreen/callscreen/admin"
	"github.com/callscreen/callscreen/config"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/lists"
	"github.com/callscreen/callscreen/screen"
	"github.com/callscreen/callscreen/service"
)

func init() {
	register(command{name: "check", summary: "explain the decision for a number, without a running server", run: runCheck})
}

// runCheck builds the sources and profiles from the configuration, as
// serve does, and explains what a call from NUMBER would get: sources
// consulted, verdict, reasons, action and result. Nothing is recorded and
// no challenge is played.
func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("callscreen check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: callscreen check NUMBER [--name NAME] [--profile NAME] [--anonymous] [--to DID] [--tenant T]")
		fmt.Fprintln(stderr, "                        [--attestation A|B|C|none [--verify-result CODE]] [--config FILE] [--json]")
		fs.PrintDefaults()
	}
	path := configFlag(fs)
	name := fs.String("name", "", "caller ID `name`")
	profile := fs.String("profile", "", "profile `name` (default: the DID map, else default)")
	anonymous := fs.Bool("anonymous", false, "the caller withheld the number (restricted presentation)")
	to := fs.String("to", "", "dialed `number` (selects the profile through the DID map)")
	tenant := fs.String("tenant", "", "`tenant` whose lists and caches to consult")
	asJSON := fs.Bool("json", false, "print the result as the admin API's GET /api/v1/check does (JSON)")
	attestation := fs.String("attestation", "", "the STIR/SHAKEN attestation the PBX verified: `A`, B, C, or none (no Identity header)")
	verifyResult := fs.String("verify-result", "", "Asterisk's STIR/SHAKEN verify_result (`CODE`); default success with --attestation A, B or C")
	pos, ok := parseArgs(fs, args)
	if !ok {
		return 2
	}
	if len(pos) != 1 {
		fs.Usage()
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "callscreen check: %v\n", err)
		return 1
	}
	lc := cfg.Log
	if lc.Level == "info" || lc.Level == "debug" {
		lc.Level = "warn" // the explanation is the output; log only trouble
	}
	logger := config.NewLogger(lc, stderr)
	flow, closeFn, err := checkFlow(ctx, cfg, logger)
	if err != nil {
		fmt.Fprintf(stderr, "callscreen check: %v\n", err)
		return 1
	}
	defer closeFn()

	info := decision.CallInfo{
		CallerNumber: pos[0], CallerName: *name, Dialed: *to,
		Profile: *profile, Tenant: *tenant, PresentationCode: 0, Transport: "check",
	}
	if *anonymous {
		info.PresentationCode = 35
	}
	if *verifyResult != "" && *attestation == "" {
		fmt.Fprintln(stderr, "callscreen check: --verify-result needs --attestation")
		return 2
	}
	if *attestation != "" {
		v := *verifyResult
		if v == "" && !strings.EqualFold(*attestation, "none") {
			v = "success"
		}
		st, ok := policy.ParseSTIR(*attestation, v)
		switch {
		case !ok:
			fmt.Fprintf(stderr, "callscreen check: --attestation %q: want A, B, C or none\n", *attestation)
			return 2
		case st.Verify == "unknown":
			fmt.Fprintf(stderr, "callscreen check: --verify-result %q: not a verify_result of Asterisk 22 (%s)\n", *verifyResult, strings.Join(policy.VerifyResults, ", "))
			return 2
		}
		info.Attestation, info.VerifyResult = st.Attestation, st.Verify
	}
	if *profile != "" {
		if _, ok := cfg.Profile(*profile); !ok {
			fmt.Fprintf(stderr, "callscreen check: no profile %q (profiles: %s); a call naming it would use default\n", *profile, strings.Join(cfg.ProfileNames(), ", "))
		}
	}
	res, err := flow.Explain(ctx, info)
	if err != nil {
		fmt.Fprintf(stderr, "callscreen check: %v\n", err)
		return 1
	}
	if *asJSON {
		// The admin API's shape (GET /api/v1/check): snake case,
		// milliseconds, reasons with their descriptions.
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(admin.View(res)); err != nil {
			fmt.Fprintf(stderr, "callscreen check: %v\n", err)
			return 1
		}
		return 0
	}
	explain(stdout, cfg, info, res)
	return 0
}

// checkFlow builds the flow serve would run, minus what counts or records
// calls and the watchers (service.Explainer).
func checkFlow(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*screen.Flow, func(), error) {
	set, err := service.Build(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("config %s: %w", service.ConfigSource(cfg), err)
	}
	return service.Explainer(ctx, set, logger)
}

// explain prints a Result the way dig prints an answer: sections, one fact
// per line.
func explain(w io.Writer, cfg *config.Config, info decision.CallInfo, res *decision.Result) {
	d := res.Decision
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	defer tw.Flush()
	fmt.Fprintf(tw, "; <<>> callscreen check <<>> %s\n", info.CallerNumber)
	fmt.Fprintf(tw, "; profile %s, tenant %s, config %s (%s)\n", res.Profile, orDash(res.Tenant), cfg.Version(), service.ConfigSource(cfg))

	caller := number.Parse(info.CallerNumber, cfg.Number.DefaultRegion)
	fmt.Fprintf(tw, "\n;; CALL\n")
	fmt.Fprintf(tw, "caller\t%s\t(%s%s)\n", orDash(caller.Key()), caller.Kind, prefixed(", ", caller.Region))
	if caller.Raw != caller.Key() {
		fmt.Fprintf(tw, "as received\t%q\n", info.CallerNumber)
	}
	if info.CallerName != "" {
		fmt.Fprintf(tw, "name\t%q\n", res.CallerName)
	}
	if info.Dialed != "" {
		fmt.Fprintf(tw, "dialed\t%s\n", res.Dialed)
	}
	pres := "allowed"
	if info.PresentationCode >= 0 && info.PresentationCode&0x60 != 0 {
		pres = "restricted"
	}
	fmt.Fprintf(tw, "presentation\t%s\n", pres)
	if res.Attestation != "" {
		fmt.Fprintf(tw, "stir/shaken\tattestation %s, verification %s\n", res.Attestation, orDash(res.VerifyResult))
	}

	var total time.Duration
	for _, r := range res.Verdict.Sources {
		total += r.Latency
	}
	fmt.Fprintf(tw, "\n;; SOURCES (%d consulted, %s)\n", len(res.Verdict.Sources), ms(total))
	if len(res.Verdict.Sources) == 0 {
		why := "no source configured"
		if slices.Contains(d.Reasons, policy.EmergencyExempt) {
			why = "not consulted: emergency numbers are never screened"
		}
		fmt.Fprintf(tw, "none\t%s\n", why)
	}
	for _, r := range res.Verdict.Sources {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Source, ms(r.Latency), sourceAnswer(r.Verdict, r.Err))
		for _, p := range r.Verdict.Sources {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", p.Source, ms(p.Latency), sourceAnswer(p.Verdict, p.Err))
		}
	}
	for _, r := range reports(res) {
		sourceData(tw, r, time.Now())
	}

	v := res.Verdict
	fmt.Fprintf(tw, "\n;; VERDICT\n")
	fmt.Fprintf(tw, "tier\t%s\n", orDash(string(v.Tier)))
	fmt.Fprintf(tw, "score\t%s\n", score(v.Scored, v.Score))
	prof, _ := cfg.Profile(res.Profile)
	if risk, why := riskOf(res, prof); risk != "" {
		fmt.Fprintf(tw, "risk\t%s\t(%s)\n", risk, why)
	}
	if v.RecentReports > 0 {
		fmt.Fprintf(tw, "recent reports\t%d\n", v.RecentReports)
	}
	fmt.Fprintf(tw, "reasons\t%s\n", reasons(v.Reasons))

	fmt.Fprintf(tw, "\n;; DECISION\n")
	fmt.Fprintf(tw, "action\t%s\n", d.Action)
	if d.Held != "" {
		fmt.Fprintf(tw, "held\t%s\t(monitor mode: logged, not enforced)\n", d.Held)
	}
	switch d.Action {
	case policy.Challenge:
		fmt.Fprintf(tw, "result\tallow if the caller enters %d digits within %d attempts, else %s\n", d.Challenge.Digits, d.Challenge.Attempts, d.Result(policy.OutcomeFailed))
	default:
		fmt.Fprintf(tw, "result\t%s\n", res.Result)
	}
	fmt.Fprintf(tw, "mode\t%s\n", d.Mode)
	fmt.Fprintf(tw, "reasons\t%s\n", reasons(d.Reasons))
	for _, r := range d.Reasons {
		fmt.Fprintf(tw, ";   %s: %s\n", r, r.Description())
	}
	if res.Error != "" {
		fmt.Fprintf(tw, "error\t%s\n", res.Error)
	}
}

// sourceData prints what a source returned beyond its verdict: for a list
// match the entry, where it comes from (file:line), its note and expiry;
// for the others their raw fields as the source gave them. Values are
// quoted when they hold anything but printable text, so a caller name or
// a provider's answer cannot forge lines of the output.
func sourceData(w io.Writer, r reputation.Report, now time.Time) {
	raw := r.Verdict.Raw
	if len(raw) == 0 || r.Err != nil {
		return
	}
	if r.Source == lists.SourceName && raw["entry"] != "" {
		fmt.Fprintf(w, "\n;; MATCHED ENTRY (%s)\n", r.Source)
		fmt.Fprintf(w, "list\t%s\n", printable(raw["list"]))
		fmt.Fprintf(w, "entry\t%s\t(%s)\n", printable(raw["entry"]), printable(raw["kind"]))
		fmt.Fprintf(w, "origin\t%s\n", orDash(printable(raw["origin"])))
		fmt.Fprintf(w, "note\t%s\n", orDash(printable(raw["note"])))
		if by := raw["added_by"]; by != "" || r.Verdict.Age > 0 {
			added := "by " + orDash(printable(by))
			if r.Verdict.Age > 0 {
				added = now.Add(-r.Verdict.Age).UTC().Format("2006-01-02 15:04 MST") + " " + added
			}
			fmt.Fprintf(w, "added\t%s\n", added)
		}
		exp := "never"
		if e := raw["expires"]; e != "" {
			exp = printable(e)
			if t, err := time.Parse(time.RFC3339, e); err == nil {
				exp = t.UTC().Format("2006-01-02 15:04 MST") + " (in " + roundDuration(t.Sub(now)) + ")"
			}
		}
		fmt.Fprintf(w, "expires\t%s\n", exp)
		return
	}
	fmt.Fprintf(w, "\n;; %s DATA\n", strings.ToUpper(printable(r.Source)))
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%s\t%s\n", printable(k), printable(raw[k]))
	}
}

// reports lists what each source answered, the providers one by one
// rather than as the merged answer of the providers stage.
func reports(res *decision.Result) []reputation.Report {
	var out []reputation.Report
	for _, r := range res.Verdict.Sources {
		if len(r.Verdict.Sources) > 0 {
			out = append(out, r.Verdict.Sources...)
			continue
		}
		out = append(out, r)
	}
	return out
}

// printable returns s as it is when it is printable text without tabs,
// else quoted.
func printable(s string) string {
	for _, c := range s {
		if !unicode.IsPrint(c) {
			return strconv.Quote(s)
		}
	}
	return s
}

// roundDuration writes d in days and hours, or minutes under an hour.
func roundDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "the past"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()+0.5))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()+0.5))
	}
	days := int(d / (24 * time.Hour))
	if h := int((d % (24 * time.Hour)).Hours() + 0.5); h > 0 && h < 24 {
		return fmt.Sprintf("%dd%dh", days, h)
	}
	return fmt.Sprintf("%dd", days)
}

// riskOf says how risky the decision takes the caller to be, and why: the
// label follows the reasons the decision carries (provider.spam and
// provider.risk_high are high, provider.risk_medium medium), so label and
// reasons never disagree; the sources' own labels and the score
// thresholds that raised a reason are named. Without a risk reason it is
// the sources' label, if any.
func riskOf(res *decision.Result, prof policy.Profile) (string, string) {
	var labels []string
	for _, r := range reports(res) {
		if r.Verdict.Risk != "" {
			labels = append(labels, r.Source+" says "+string(r.Verdict.Risk))
		}
	}
	d := res.Decision
	risk, reason := "", policy.Reason("")
	switch {
	case slices.Contains(d.Reasons, policy.ProviderSpam):
		risk, reason = "high", policy.ProviderSpam
	case slices.Contains(d.Reasons, policy.ProviderRiskHigh):
		risk, reason = "high", policy.ProviderRiskHigh
	case slices.Contains(d.Reasons, policy.ProviderRiskMedium):
		risk, reason = "medium", policy.ProviderRiskMedium
	}
	if risk == "" {
		if res.Verdict.Risk == "" {
			return "", ""
		}
		return string(res.Verdict.Risk), strings.Join(labels, ", ") + "; no risk reason"
	}
	why := []string{string(reason)}
	if !slices.Contains(res.Verdict.Reasons, reason) && d.Scored {
		// The profile's score thresholds raised it.
		switch reason {
		case policy.ProviderRiskHigh:
			why = append(why, fmt.Sprintf("score %d >= scores.block %d", d.Score, prof.Scores.Block))
		case policy.ProviderRiskMedium:
			why = append(why, fmt.Sprintf("score %d >= scores.challenge %d", d.Score, prof.Scores.Challenge))
		}
	}
	return risk, strings.Join(append(why, labels...), "; ")
}

// sourceAnswer says in one line what a source answered.
func sourceAnswer(v reputation.Verdict, err error) string {
	switch {
	case errors.Is(err, reputation.ErrNotCovered):
		return "not covered (nothing sent)"
	case err != nil:
		return "error: " + err.Error()
	}
	var parts []string
	if len(v.Reasons) > 0 {
		parts = append(parts, reasons(v.Reasons))
	}
	if v.Tier != "" && v.Tier != policy.TierUnknown {
		parts = append(parts, "tier "+string(v.Tier))
	}
	if v.Scored {
		parts = append(parts, fmt.Sprintf("score %d", v.Score))
	}
	if v.Risk != "" {
		parts = append(parts, "risk "+string(v.Risk))
	}
	if v.Final {
		parts = append(parts, "final")
	}
	if len(parts) == 0 {
		return "no match"
	}
	return strings.Join(parts, "  ")
}

func reasons(rs []policy.Reason) string {
	if len(rs) == 0 {
		return "(none)"
	}
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ",")
}

func score(ok bool, n int) string {
	if !ok {
		return "-"
	}
	return fmt.Sprint(n)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}
