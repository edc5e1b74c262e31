package number

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// nanpRegions are default regions the differential tests read numbers in:
// the main NANP region, another one with its own validity, one found by
// leading digits, one outside NANP, and none.
var nanpRegions = []string{"US", "CA", "JM", "GB", ""}

// agree fails unless Parse and the library alone read raw in region alike.
func agree(t *testing.T, raw, region string) {
	t.Helper()
	if fast, slow := Parse(raw, region), slowParse(raw, region); fast != slow {
		t.Fatalf("Parse(%q, %q):\nfast    %+v\nlibrary %+v", raw, region, fast, slow)
	}
}

func TestNANPPlanBuilds(t *testing.T) {
	plan, err := nanpPlanOnce()
	if err != nil {
		t.Fatalf("the NANP automata cannot be built from this metadata (every NANP number now takes the library): %v", err)
	}
	if len(plan.ids) < 2 || !slices.Contains(plan.ids, "US") || !slices.Contains(plan.ids, "CA") || !plan.possible {
		t.Fatalf("plan %+v", plan)
	}
	for _, region := range append(slices.Clone(plan.ids), "GB", "") {
		if _, err := plan.classifier(region); err != nil {
			t.Fatalf("classifier for default region %q: %v", region, err)
		}
	}
	if n, ok := ParseFast("+12125551234", "US"); !ok || n.Kind != Valid {
		t.Fatalf("ParseFast(+12125551234) = %+v, %v", n, ok)
	}
}

// TestNANPAgreesOnEveryAreaCode reads, for every area code, exchanges and
// line numbers at the edges and at random, both ways: in E.164 with the
// main region as default, and, for one of them, in every shape the
// automata take and with several default regions.
func TestNANPAgreesOnEveryAreaCode(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for npa := 200; npa <= 999; npa++ {
		suffixes := []string{"0000000", "2000000", "9999999", fmt.Sprintf("%07d", rng.IntN(10_000_000))}
		for i, sfx := range suffixes {
			d := fmt.Sprint(npa) + sfx
			agree(t, "+1"+d, "US")
			if i != 3 {
				continue
			}
			for _, region := range nanpRegions {
				agree(t, "+1"+d, region)
				if region == "US" || region == "CA" || region == "JM" {
					agree(t, d, region)
					agree(t, "1"+d, region)
				}
			}
		}
	}
}

// TestNANPAgreesOnEveryExchange covers every NPA-NXX of area codes whose
// validity depends on the exchange (their metadata lists exchanges), and
// of area codes that belong to several NANP regions or none.
func TestNANPAgreesOnEveryExchange(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, npa := range []string{"212", "268", "305", "505", "524", "809", "876", "600", "900"} {
		for nxx := range 1000 {
			agree(t, fmt.Sprintf("+1%s%03d%04d", npa, nxx, rng.IntN(10000)), "US")
		}
	}
}

func TestParseFast(t *testing.T) {
	for _, tt := range []struct {
		raw, region string
		ok          bool
	}{
		{"+12125551234", "US", true},
		{"2125551234", "US", true},
		{"12125551234", "CA", true},
		{"+16135550123", "GB", true},
		{"+18765550123", "US", true},
		{"+12120551234", "US", true}, // not valid, but answered
		{"", "US", true},
		{"anonymous", "US", true},
		{"555-CALL-NOW", "US", true},
		{"1234567890123456", "US", true},
		{"(212) 555-1234", "US", false},
		{"+442079460000", "US", false},
		{"2125551234", "GB", false},
		{"911", "US", false},
	} {
		n, ok := ParseFast(tt.raw, tt.region)
		if ok != tt.ok {
			t.Fatalf("ParseFast(%q, %q) ok = %v; want %v", tt.raw, tt.region, ok, tt.ok)
		}
		if ok {
			if want := slowParse(tt.raw, tt.region); n != want {
				t.Fatalf("ParseFast(%q, %q) = %+v; library %+v", tt.raw, tt.region, n, want)
			}
		}
	}
}

// FuzzParseAgrees: whatever the text, Parse equals the library's reading.
func FuzzParseAgrees(f *testing.F) {
	for _, s := range []string{"+12125551234", "2125551234", "12125551234", "+18095550123", "+12684641234",
		"+15235551234", "6005551234", "(212) 555-1234", "+442079460000", "anonymous", ""} {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, raw string, r uint8) {
		region := nanpRegions[int(r)%len(nanpRegions)]
		agree(t, raw, region)
		if n, ok := ParseFast(raw, region); ok && n != Parse(raw, region) {
			t.Fatalf("ParseFast(%q, %q) = %+v; Parse %+v", raw, region, n, Parse(raw, region))
		}
	})
}

func BenchmarkParseNewCallers(b *testing.B) {
	i := 0
	for b.Loop() {
		i++
		Parse(fmt.Sprintf("+1212%03d%04d", 200+(i/10000)%800, i%10000), "US")
	}
}
