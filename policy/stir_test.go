package policy

import (
	"slices"
	"strings"
	"testing"
)

func TestParseSTIR(t *testing.T) {
	tests := []struct {
		attest, verify string
		want           STIR
		ok             bool
	}{
		{"", "", STIR{}, true},
		{"A", "success", STIR{"A", "success"}, true},
		{"a", "SUCCESS", STIR{"A", "success"}, true},
		{" C ", "cid_orig_tn_mismatch", STIR{"C", "cid_orig_tn_mismatch"}, true},
		{"none", "", STIR{"none", ""}, true},
		{"B", "no such code", STIR{"B", "unknown"}, true},
		{"B", "", STIR{"B", ""}, true},
		{"D", "success", STIR{}, false},
		{"A,verify=success", "", STIR{}, false},
		{"", "success", STIR{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.attest+"/"+tt.verify, func(t *testing.T) {
			got, ok := ParseSTIR(tt.attest, tt.verify)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("ParseSTIR(%q, %q) = %+v, %v; want %+v, %v", tt.attest, tt.verify, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestSTIRDecisions is the STIR/SHAKEN policy table on the default
// profile: a verified A never lowers a must-block or a feed hit (it only
// discounts spoofing suspicions); an unverified call moves a gray decision
// to challenge, never to block, and leaves known businesses, must-pass
// callers and agents' "not spam" alone; no result changes nothing.
func TestSTIRDecisions(t *testing.T) {
	A := STIR{"A", "success"}
	B := STIR{"B", "success"}
	C := STIR{"C", "success"}
	failedA := STIR{"A", "signature_validation"}
	noHeader := STIR{"none", ""}
	unknownCode := STIR{"A", "unknown"}
	with := func(s STIR) Call { c := call(); c.STIR = s; return c }

	tests := []struct {
		name    string
		call    Call
		verdict Verdict
		action  Action
		reasons []Reason
	}{
		{"no result, unknown caller", call(), Verdict{}, Allow, nil},
		{"A verified, unknown caller", with(A), Verdict{}, Allow, []Reason{STIRVerified}},
		{"A verified does not lower must-block", with(A), Verdict{Tier: TierSpam, Reasons: []Reason{ListBlock}}, Block, []Reason{ListBlock, STIRVerified}},
		{"A verified does not lower a feed hit", with(A), Verdict{Tier: TierSpam, Reasons: []Reason{FeedDailyReport}}, Block, []Reason{FeedDailyReport, STIRVerified}},
		{"A verified does not lower provider spam", with(A), Verdict{Tier: TierSpam, Reasons: []Reason{ProviderSpam}}, Block, []Reason{ProviderSpam, STIRVerified}},
		{"A verified does not lower risk medium", with(A), Verdict{Reasons: []Reason{ProviderRiskMedium}}, Challenge, []Reason{ProviderRiskMedium, STIRVerified}},
		{"A verified discounts neighbour spoofing", with(A), Verdict{Reasons: []Reason{CallerNeighbor}}, Allow, []Reason{STIRVerified, CallerNeighbor}},
		{"A verified discounts own-number spoofing", with(A), Verdict{Reasons: []Reason{CallerOwnNumber}}, Allow, []Reason{STIRVerified, CallerOwnNumber}},
		{"B verified is a note", with(B), Verdict{}, Allow, []Reason{STIRPartial}},
		{"B verified keeps neighbour spoofing", with(B), Verdict{Reasons: []Reason{CallerNeighbor}}, Challenge, []Reason{CallerNeighbor, STIRPartial}},
		{"C moves a gray call to challenge", with(C), Verdict{}, Challenge, []Reason{STIRUnverified}},
		{"failed A is unverified", with(failedA), Verdict{}, Challenge, []Reason{STIRUnverified}},
		{"an unknown code is unverified", with(unknownCode), Verdict{}, Challenge, []Reason{STIRUnverified}},
		{"no Identity header is unverified", with(noHeader), Verdict{}, Challenge, []Reason{STIRUnverified}},
		{"unverified never blocks by itself", with(C), Verdict{Reasons: []Reason{ProviderRiskMedium}}, Challenge, []Reason{ProviderRiskMedium, STIRUnverified}},
		{"unverified does not soften a block", with(C), Verdict{Tier: TierSpam, Reasons: []Reason{ListBlock}}, Block, []Reason{ListBlock, STIRUnverified}},
		{"unverified leaves a known business alone", with(C), Verdict{Tier: TierBusiness, Reasons: []Reason{ProviderBusiness}}, Allow, []Reason{ProviderBusiness}},
		{"unverified leaves must-pass alone", with(C), Verdict{Reasons: []Reason{ListAllow}}, Allow, []Reason{ListAllow, STIRUnverified}},
		{"agent's not spam overrides unverified", with(C), Verdict{Reasons: []Reason{CallerReportedOK}}, Allow, []Reason{CallerReportedOK, STIRUnverified}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.call, tt.verdict, Default())
			if d.Action != tt.action {
				t.Fatalf("action %s; want %s (reasons %v)", d.Action, tt.action, d.Reasons)
			}
			if !slices.Equal(d.Reasons, tt.reasons) {
				t.Fatalf("reasons %v; want %v", d.Reasons, tt.reasons)
			}
		})
	}

	t.Run("a verified challenge-passer is not challenged for C", func(t *testing.T) {
		c := with(C)
		c.Verified = true
		if d := Decide(c, Verdict{}, Default()); d.Action != Allow {
			t.Fatalf("action %s, reasons %v", d.Action, d.Reasons)
		}
	})
	t.Run("profiles weigh the codes", func(t *testing.T) {
		p := Default()
		p.Actions = map[Reason]Action{STIRUnverified: Allow, STIRPartial: Challenge}
		if d := Decide(with(C), Verdict{}, p); d.Action != Allow {
			t.Errorf("stir.unverified: allow; got %s", d.Action)
		}
		if d := Decide(with(B), Verdict{}, p); d.Action != Challenge {
			t.Errorf("stir.partial: challenge; got %s", d.Action)
		}
	})
	t.Run("a profile cannot make unverified block", func(t *testing.T) {
		p := Default()
		p.Actions = map[Reason]Action{STIRUnverified: Block}
		if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "no evidence of spam") {
			t.Fatalf("Validate = %v", err)
		}
		p.Actions = nil
		p.AfterHours = map[Reason]Action{STIRUnverified: Block}
		if err := p.Validate(); err == nil {
			t.Fatal("Validate accepted stir.unverified: block after hours")
		}
	})
}
