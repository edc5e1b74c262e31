package policy

import (
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/number"
)

func num(s string) number.Number { return number.Parse(s, "US") }

var (
	known    = num("+12125551234")
	dialed   = num("+15551230000")
	monday10 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC) // a Monday
	sunday3  = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
)

func call() Call { return Call{Caller: known, Name: "John", Dialed: dialed, Time: monday10} }

// TestDesignTable has one case per row of the DESIGN §1 table, on the
// default profile.
func TestDesignTable(t *testing.T) {
	anon := call()
	anon.Caller = num("anonymous")
	restricted := call()
	restricted.Restricted = true
	invalid := call()
	invalid.Caller = num("unknown")
	emergencyCaller := call()
	emergencyCaller.Caller = num("911")
	screened := call()
	screened.AlreadyScreened = true

	tests := []struct {
		name    string
		call    Call
		verdict Verdict
		action  Action
		tier    Tier
		first   Reason
	}{
		{"must-pass", call(), Verdict{Reasons: []Reason{ListAllow}}, Allow, TierUnknown, ListAllow},
		{"must-pass beats must-block and spam", call(), Verdict{Tier: TierSpam, Reasons: []Reason{ProviderSpam, ListAllow, ListBlock}}, Allow, TierSpam, ListAllow},
		{"must-block", call(), Verdict{Tier: TierSpam, Reasons: []Reason{ListBlock}}, Block, TierSpam, ListBlock},
		{"blocked name", call(), Verdict{Reasons: []Reason{ListBlockName}}, Block, TierUnknown, ListBlockName},
		{"daily report", call(), Verdict{Tier: TierSpam, Reasons: []Reason{FeedDailyReport}}, Block, TierSpam, FeedDailyReport},
		{"daily report robocall", call(), Verdict{Tier: TierSpam, Reasons: []Reason{FeedDailyReport, FeedRobocall}}, Block, TierSpam, FeedDailyReport},
		{"tier spam", call(), Verdict{Tier: TierSpam, Reasons: []Reason{ProviderSpam}}, Block, TierSpam, ProviderSpam},
		{"tier spam without reasons", call(), Verdict{Tier: TierSpam}, Block, TierSpam, ProviderSpam},
		{"risk high", call(), Verdict{Tier: TierSpam, Reasons: []Reason{ProviderRiskHigh}}, Block, TierSpam, ProviderRiskHigh},
		{"business with recent reports", call(), Verdict{Tier: TierBusiness, Reasons: []Reason{ProviderBusiness, ProviderRecentReports}}, Challenge, TierBusiness, ProviderRecentReports},
		{"risk medium", call(), Verdict{Reasons: []Reason{ProviderRiskMedium}}, Challenge, TierUnknown, ProviderRiskMedium},
		{"anonymous", anon, Verdict{}, Challenge, TierUnknown, CallerAnonymous},
		{"restricted presentation", restricted, Verdict{}, Challenge, TierUnknown, CallerAnonymous},
		{"invalid caller id", invalid, Verdict{}, Challenge, TierUnknown, CallerInvalid},
		{"caller burst", call(), Verdict{Reasons: []Reason{VelocityCallerBurst}}, Challenge, TierUnknown, VelocityCallerBurst},
		{"did flood", call(), Verdict{Reasons: []Reason{VelocityDIDFlood}}, Challenge, TierUnknown, VelocityDIDFlood},
		{"neighbour spoof", call(), Verdict{Reasons: []Reason{CallerNeighbor}}, Challenge, TierUnknown, CallerNeighbor},
		{"own number", call(), Verdict{Reasons: []Reason{CallerOwnNumber}}, Challenge, TierUnknown, CallerOwnNumber},
		{"repeat gray", call(), Verdict{Reasons: []Reason{VelocityRepeatGray}}, Challenge, TierUnknown, VelocityRepeatGray},
		{"unknown", call(), Verdict{}, Allow, TierUnknown, ""},
		{"business without reports", call(), Verdict{Tier: TierBusiness, Reasons: []Reason{ProviderBusiness}}, Allow, TierBusiness, ProviderBusiness},
		{"emergency caller", emergencyCaller, Verdict{Tier: TierSpam, Reasons: []Reason{ListBlock}}, Allow, TierSpam, EmergencyExempt},
		{"emergency via source", call(), Verdict{Reasons: []Reason{EmergencyExempt, ListBlock}}, Allow, TierUnknown, EmergencyExempt},
		{"provider unavailable fails open", call(), Verdict{Reasons: []Reason{ProviderUnavailable}}, Allow, TierUnknown, ProviderUnavailable},
		{"already screened", screened, Verdict{Reasons: []Reason{ListBlock}}, Allow, TierUnknown, LoopAlreadyScreened},
		{"agent said not spam overrides provider", call(), Verdict{Tier: TierSpam, Reasons: []Reason{CallerReportedOK, ProviderSpam}}, Allow, TierSpam, CallerReportedOK},
		{"agent said not spam does not override must-block", call(), Verdict{Reasons: []Reason{CallerReportedOK, ListBlock}}, Block, TierUnknown, ListBlock},
		{"agent said spam", call(), Verdict{Reasons: []Reason{CallerReportedSpam}}, Block, TierUnknown, CallerReportedSpam},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.call, tt.verdict, Default())
			if d.Action != tt.action || d.Tier != tt.tier {
				t.Fatalf("Decide = %s/%s reasons %v; want %s/%s", d.Action, d.Tier, d.Reasons, tt.action, tt.tier)
			}
			if tt.first == "" {
				if len(d.Reasons) != 0 {
					t.Fatalf("reasons = %v; want none", d.Reasons)
				}
				return
			}
			if len(d.Reasons) == 0 || d.Reasons[0] != tt.first {
				t.Fatalf("reasons = %v; want %s first", d.Reasons, tt.first)
			}
			if d.Held != "" || d.Mode != ModeEnforce {
				t.Fatalf("enforce mode decision has held %q mode %q", d.Held, d.Mode)
			}
		})
	}
}

func TestMonitorMode(t *testing.T) {
	p := Default()
	p.Mode = ModeMonitor
	d := Decide(call(), Verdict{Tier: TierSpam, Reasons: []Reason{ListBlock}}, p)
	if d.Action != Allow || d.Held != Block || d.Result(OutcomeNone) != ResultAllow {
		t.Fatalf("monitor: action %s held %s result %s; want allow/block/allow", d.Action, d.Held, d.Result(OutcomeNone))
	}
	if !slices.Contains(d.Reasons, MonitorMode) || d.Reasons[0] != ListBlock {
		t.Fatalf("monitor reasons %v; want list.block first and mode.monitor", d.Reasons)
	}
	em := call()
	em.Caller = num("112")
	if d := Decide(em, Verdict{}, p); d.Held != "" || d.Reasons[0] != EmergencyExempt {
		t.Fatalf("monitor emergency = %+v; want exempt without held", d)
	}
}

func TestVerifiedHumanSkipsChallengeNotBlock(t *testing.T) {
	c := call()
	c.Verified = true
	d := Decide(c, Verdict{Reasons: []Reason{ProviderRiskMedium}}, Default())
	if d.Action != Allow || !slices.Contains(d.Reasons, CallerVerifiedHuman) {
		t.Fatalf("verified gray caller = %s %v; want allow with caller.verified_human", d.Action, d.Reasons)
	}
	d = Decide(c, Verdict{Reasons: []Reason{ListBlock}}, Default())
	if d.Action != Block {
		t.Fatalf("verified blocked caller = %s; want block", d.Action)
	}
}

func TestResult(t *testing.T) {
	p := Default()
	vm := Default()
	vm.Challenge.OnFail = ResultVoicemail
	vm.BlockResult = ResultVoicemail
	ch := Verdict{Reasons: []Reason{ProviderRiskMedium}}
	bl := Verdict{Reasons: []Reason{ListBlock}}
	tests := []struct {
		name string
		p    Profile
		v    Verdict
		o    Outcome
		want Result
	}{
		{"allow", p, Verdict{}, OutcomeNone, ResultAllow},
		{"block", p, bl, OutcomeNone, ResultBlock},
		{"block to voicemail", vm, bl, OutcomeNone, ResultVoicemail},
		{"passed", p, ch, OutcomePassed, ResultAllow},
		{"failed", p, ch, OutcomeFailed, ResultBlock},
		{"abandoned", p, ch, OutcomeAbandoned, ResultBlock},
		{"failed to voicemail", vm, ch, OutcomeFailed, ResultVoicemail},
		{"challenge not played fails open", p, ch, OutcomeNone, ResultAllow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Decide(call(), tt.v, tt.p).Result(tt.o); got != tt.want {
				t.Fatalf("Result(%s) = %s; want %s", tt.o, got, tt.want)
			}
		})
	}
}

func TestProfileOverridesAndAfterHours(t *testing.T) {
	p := Default()
	p.Actions = map[Reason]Action{CallerAnonymous: Block, ProviderRiskMedium: Allow}
	p.AfterHours = map[Reason]Action{ProviderRiskMedium: Block}
	p.Hours = []Window{{Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}, Open: 9 * time.Hour, Close: 17 * time.Hour}}
	anon := call()
	anon.Caller = num("anonymous")
	if d := Decide(anon, Verdict{}, p); d.Action != Block {
		t.Fatalf("anonymous with override = %s; want block", d.Action)
	}
	c := call()
	if d := Decide(c, Verdict{Reasons: []Reason{ProviderRiskMedium}}, p); d.Action != Allow {
		t.Fatalf("medium risk in hours = %s; want allow", d.Action)
	}
	c.Time = sunday3
	if d := Decide(c, Verdict{Reasons: []Reason{ProviderRiskMedium}}, p); d.Action != Block {
		t.Fatalf("medium risk after hours = %s; want block", d.Action)
	}
}

func TestScoreThresholdsAndCoverage(t *testing.T) {
	p := Default()
	p.Scores = ScoreThresholds{Block: 90, Challenge: 60}
	if d := Decide(call(), Verdict{Score: 95, Scored: true}, p); d.Action != Block || d.Reasons[0] != ProviderRiskHigh {
		t.Fatalf("score 95 = %s %v; want block provider.risk_high", d.Action, d.Reasons)
	}
	if d := Decide(call(), Verdict{Score: 70, Scored: true}, p); d.Action != Challenge {
		t.Fatalf("score 70 = %s; want challenge", d.Action)
	}
	// A provider that already rates the caller high: the score adds no
	// contradicting medium reason.
	if d := Decide(call(), Verdict{Score: 87, Scored: true, Reasons: []Reason{ProviderRiskHigh}}, p); d.Action != Block ||
		!slices.Equal(d.Reasons, []Reason{ProviderRiskHigh}) {
		t.Fatalf("score 87 with provider.risk_high = %s %v; want block [provider.risk_high]", d.Action, d.Reasons)
	}
	if d := Decide(call(), Verdict{Score: 87, Scored: true, Reasons: []Reason{ProviderSpam}}, p); !slices.Equal(d.Reasons, []Reason{ProviderSpam}) {
		t.Fatalf("score 87 with provider.spam: %v", d.Reasons)
	}
	if d := Decide(call(), Verdict{Score: 10, Scored: true}, p); d.Action != Allow || !d.Scored || d.Score != 10 {
		t.Fatalf("score 10 = %+v; want allow keeping the score", d)
	}
	p.Coverage = CoverageNANP
	uk := call()
	uk.Caller = num("+442079460000")
	if d := Decide(uk, Verdict{}, p); d.Action != Allow || !slices.Contains(d.Reasons, CallerOutOfCoverage) {
		t.Fatalf("UK caller on NANP profile = %s %v; want allow caller.out_of_coverage", d.Action, d.Reasons)
	}
}

func TestValidate(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("default profile invalid: %v", err)
	}
	bad := []struct {
		mutate func(*Profile)
		want   string
	}{
		{func(p *Profile) { p.Mode = "audit" }, `mode "audit"`},
		{func(p *Profile) { p.Actions = map[Reason]Action{"made.up": Block} }, `unknown reason code "made.up"`},
		{func(p *Profile) { p.Actions = map[Reason]Action{ListBlock: "drop"} }, `action "drop"`},
		{func(p *Profile) { p.Challenge.Digits = 0 }, "challenge.digits 0"},
		{func(p *Profile) { p.Challenge.Attempts = 9 }, "challenge.attempts 9"},
		{func(p *Profile) { p.Challenge.Timeout = time.Millisecond }, "challenge.timeout 1ms"},
		{func(p *Profile) { p.Challenge.OnFail = "allow" }, `challenge.on_fail "allow"`},
		{func(p *Profile) { p.Challenge.Intro = `x" ; y` }, "challenge.prompts.intro"},
		{func(p *Profile) { p.Coverage = "eu" }, `coverage "eu"`},
		{func(p *Profile) { p.BlockResult = "allow" }, `block_result "allow"`},
	}
	for _, b := range bad {
		p := Default()
		b.mutate(&p)
		err := p.Validate()
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("Validate() = %v; want error containing %q", err, b.want)
		}
	}
}

// TestEveryReasonDocumented parses this package's source and fails when a
// Reason constant has no registry entry, or an entry has no description.
func TestEveryReasonDocumented(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "reasons.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var consts []Reason
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Values) != 1 {
			return true
		}
		if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Reason" {
			return true
		}
		lit, ok := vs.Values[0].(*ast.BasicLit)
		if !ok {
			return true
		}
		s, _ := strconv.Unquote(lit.Value)
		consts = append(consts, Reason(s))
		return true
	})
	if len(consts) < 20 {
		t.Fatalf("found only %d reason constants; parser out of step with reasons.go", len(consts))
	}
	for _, r := range consts {
		info, ok := Lookup(r)
		if !ok || strings.TrimSpace(info.Description) == "" || !info.Default.Valid() {
			t.Errorf("reason %q is not documented in the registry", r)
		}
	}
	if len(consts) != len(registry) {
		t.Errorf("%d constants, %d registry entries", len(consts), len(registry))
	}
	for _, info := range registry {
		if strings.ToLower(string(info.Code)) != string(info.Code) || !strings.Contains(string(info.Code), ".") {
			t.Errorf("reason %q is not a dotted lower-case code", info.Code)
		}
	}
}

// TestDesignReasonsExist checks that every reason code DESIGN names exists.
func TestDesignReasonsExist(t *testing.T) {
	for _, r := range strings.Split("list.allow list.block list.block_name feed.daily_report feed.robocall provider.spam provider.risk_high provider.risk_medium provider.business provider.recent_reports provider.unavailable caller.anonymous caller.invalid caller.out_of_coverage caller.own_number caller.neighbor velocity.caller_burst velocity.did_flood velocity.repeat_gray caller.verified_human emergency.exempt loop.already_screened mode.monitor", " ") {
		if !Reason(r).Known() {
			t.Errorf("DESIGN reason %q missing", r)
		}
	}
}

var update = flag.Bool("update", false, "rewrite golden files")

// reasonsDoc renders docs/reasons.md from the registry.
func reasonsDoc() string {
	var b strings.Builder
	b.WriteString("# Reason codes\n\n")
	b.WriteString("Every decision carries reason codes in `CALLSCREEN_REASONS` and in the decision log, the\n")
	b.WriteString("codes that decided first. They are stable: a published code never changes meaning. The\n")
	b.WriteString("default action is what a code asks for unless the profile overrides it\n")
	b.WriteString("(`profiles.NAME.actions`, `profiles.NAME.after_hours`). This file is generated from\n")
	b.WriteString("`policy/reasons.go` by `go test ./policy -update`.\n\n")
	b.WriteString("| code | default action | meaning |\n|---|---|---|\n")
	for _, info := range Reasons() {
		b.WriteString("| `" + string(info.Code) + "` | " + string(info.Default) + " | " + info.Description + " |\n")
	}
	return b.String()
}

// TestReasonsDoc checks docs/reasons.md against the registry.
func TestReasonsDoc(t *testing.T) {
	const path = "../docs/reasons.md"
	want := reasonsDoc()
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("docs/reasons.md is out of date; run go test ./policy -update")
	}
}

func BenchmarkDecide(b *testing.B) {
	p := Default()
	c := call()
	v := Verdict{}
	for b.Loop() {
		Decide(c, v, p)
	}
}
