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
	"strings"
	"text/tabwriter"
	"time"

	"github.com/callscreen/callscreen/config"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
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
	asJSON := fs.Bool("json", false, "print the full result as JSON")
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
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
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
	}

	v := res.Verdict
	fmt.Fprintf(tw, "\n;; VERDICT\n")
	fmt.Fprintf(tw, "tier\t%s\n", orDash(string(v.Tier)))
	fmt.Fprintf(tw, "score\t%s\n", score(v.Scored, v.Score))
	if v.Risk != "" {
		fmt.Fprintf(tw, "risk\t%s\n", v.Risk)
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
