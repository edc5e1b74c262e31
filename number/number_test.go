package number

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		raw    string
		region string
		kind   Kind
		e164   string
		nanp   bool
	}{
		{"+12125551234", "US", Valid, "+12125551234", true},
		{"2125551234", "US", Valid, "+12125551234", true},
		{"12125551234", "US", Valid, "+12125551234", true},
		{"(212) 555-1234", "US", Valid, "+12125551234", true},
		{"011442079460000", "US", Valid, "+442079460000", false},
		{"+442079460000", "US", Valid, "+442079460000", false},
		{"02079460000", "GB", Valid, "+442079460000", false},
		{"", "US", Invalid, "", false},
		{"unknown", "US", Invalid, "", false},
		{"UNKNOWN", "US", Invalid, "", false},
		{"anonymous", "US", Anonymous, "", false},
		{"Restricted", "US", Anonymous, "", false},
		{"abc", "US", Invalid, "", false},
		{"555-CALL-NOW", "US", Invalid, "", false},
		{"1234567890123456", "US", Invalid, "", false},
		{"+1234567890123456789012345678901234", "US", Invalid, "", false},
		{"0001234567", "US", Invalid, "+10001234567", true},
		{"911", "US", Invalid, "", false},
		{"${SHELL(id)}", "US", Invalid, "", false},
		{"\xff\xfe", "US", Invalid, "", false},
		{"+", "US", Invalid, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			n := Parse(tt.raw, tt.region)
			if n.Kind != tt.kind || n.E164 != tt.e164 || n.NANP() != tt.nanp {
				t.Fatalf("Parse(%q, %q) = kind %v e164 %q nanp %v; want %v %q %v",
					tt.raw, tt.region, n.Kind, n.E164, n.NANP(), tt.kind, tt.e164, tt.nanp)
			}
		})
	}
}

func TestShortCodeKeepsDigits(t *testing.T) {
	n := Parse("911", "US")
	if n.Digits != "911" || n.Key() != "911" {
		t.Fatalf("Parse(911) digits %q key %q; want 911", n.Digits, n.Key())
	}
}

func TestNPANXX(t *testing.T) {
	if got := Parse("+12125551234", "US").NPANXX(); got != "212555" {
		t.Fatalf("NPANXX = %q; want 212555", got)
	}
	if got := Parse("+442079460000", "US").NPANXX(); got != "" {
		t.Fatalf("NPANXX of a UK number = %q; want empty", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"+12125551234", "unknown", "anonymous", "(212) 555-1234", "011442079460000", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		n := Parse(raw, "US")
		if n.Kind == Valid && n.E164 == "" {
			t.Fatalf("valid number %q without E.164 form", raw)
		}
		if n.E164 != "" && n.E164[0] != '+' {
			t.Fatalf("E.164 form %q of %q lacks +", n.E164, raw)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		Parse("+12125551234", "US")
	}
}

// slowParse is Parse without the NANP fast path: the reference it must match.
func slowParse(raw, region string) Number {
	n, _ := parse(raw, region, libraryOnly)
	return n
}

func TestFastPathAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	shapes := []func(string) string{
		func(d string) string { return "+1" + d },
		func(d string) string { return d },
		func(d string) string { return "1" + d },
	}
	for i := 0; i < 3000; i++ {
		d := fmt.Sprintf("%010d", rng.Uint64N(10_000_000_000))
		for _, shape := range shapes {
			raw := shape(d)
			for _, region := range []string{"US", "CA", "GB"} {
				if fast, slow := Parse(raw, region), slowParse(raw, region); fast != slow {
					t.Fatalf("Parse(%q, %q):\nfast %+v\nslow %+v", raw, region, fast, slow)
				}
			}
		}
	}
}

func BenchmarkParseNational(b *testing.B) {
	for b.Loop() {
		Parse("(212) 555-1234", "US")
	}
}

func TestFastNANPAgreesWithParser(t *testing.T) {
	for _, in := range []string{
		"+12125551234", "2125551234", "12125551234", "(212) 555-1234", "1-212-555-1234", "212.555.1234",
		"+1 212 555 1234", "+16135550123",
	} {
		fast, ok := FastNANP(in, "US")
		if !ok {
			t.Fatalf("FastNANP(%q) declined", in)
		}
		slow := Parse(in, "US")
		if slow.E164 != fast {
			t.Fatalf("FastNANP(%q) = %q, parser says %q", in, fast, slow.E164)
		}
	}
	for _, in := range []string{"0125551234", "2120551234", "+11125551234"} {
		if !NANPShaped(in, "US") {
			t.Fatalf("NANPShaped(%q) = false", in)
		}
		if n := Parse(in, "US"); n.Kind == Valid {
			t.Fatalf("%q is NANP-shaped, declined, yet valid to the parser", in)
		}
	}
	for _, in := range []string{"5551234", "+442079460000", "911", "212555123a"} {
		if NANPShaped(in, "US") {
			t.Fatalf("NANPShaped(%q) = true", in)
		}
	}
	for _, in := range []string{"5551234", "0125551234", "2120551234", "+442079460000", "911", "212555123a", "2125551234", "+1212555123"} {
		region := "US"
		if in == "2125551234" {
			region = "GB"
		}
		if got, ok := FastNANP(in, region); ok {
			t.Fatalf("FastNANP(%q, %s) = %q, want declined", in, region, got)
		}
	}
}

func TestCleanDigits(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"", "", true}, {"+", "", true}, {"+12125551234", "12125551234", true}, {"2125551234", "2125551234", true},
		{"(212) 555-1234", "2125551234", true}, {"+1 212.555.1234", "12125551234", true}, {"++1", "", false},
		{"1+2", "", false}, {"12a", "", false}, {"+1\n2", "", false},
	} {
		if got, ok := cleanDigits(tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("cleanDigits(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
