package lists

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseEntry(t *testing.T) {
	tests := []struct {
		in     string
		region string
		kind   Kind
		value  string
		high   string
		err    error
	}{
		{in: "+12125551234", kind: Number, value: "+12125551234"},
		{in: "(212) 555-1234", kind: Number, value: "+12125551234"},
		{in: "1-212-555-1234", kind: Number, value: "+12125551234"},
		{in: "020 7946 0000", region: "GB", kind: Number, value: "+442079460000"},
		{in: "911", kind: Number, value: "911"},
		{in: "+1900*", kind: Prefix, value: "+1900"},
		{in: "212555*", kind: Prefix, value: "+1212555"},
		{in: "1212555*", kind: Prefix, value: "+1212555"},
		{in: "020*", region: "GB", kind: Prefix, value: "+4420"},
		{in: "+1 (800) *", kind: Prefix, value: "+1800"},
		{in: "+12125550100..+12125550199", kind: Range, value: "+12125550100", high: "+12125550199"},
		{in: "2125550100 .. 2125550199", kind: Range, value: "+12125550100", high: "+12125550199"},
		{in: "name:*car warranty*", kind: Name, value: "*CAR WARRANTY*"},
		{in: "NAME: Spam Likely ", kind: Name, value: "SPAM LIKELY"},
		{in: "hello", err: ErrBadNumber},
		{in: "5551234", err: ErrBadNumber},
		{in: "12345678901234567", err: ErrBadNumber},
		{in: "+*", err: ErrBadPrefix},
		{in: "+1abc*", err: ErrBadPrefix},
		{in: "+1234567890123456*", err: ErrBadPrefix},
		{in: "+12125550199..+12125550100", err: ErrBadRange},
		{in: "+12125550100..+442079460000", err: ErrBadRange},
		{in: "911..912", err: ErrBadRange},
		{in: "name:", err: ErrBadPattern},
		{in: "name:**", err: ErrBadPattern},
		{in: "name:" + strings.Repeat("A", MaxPatternLen+1), err: ErrBadPattern},
		{in: "name:a\x01b", err: ErrBadPattern},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			region := tt.region
			if region == "" {
				region = "US"
			}
			e, err := ParseEntry(tt.in, region)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("ParseEntry(%q) error = %v, want %v", tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseEntry(%q): %v", tt.in, err)
			}
			if e.Kind != tt.kind || e.Value != tt.value || e.High != tt.high {
				t.Fatalf("ParseEntry(%q) = %s %q %q, want %s %q %q", tt.in, e.Kind, e.Value, e.High, tt.kind, tt.value, tt.high)
			}
		})
	}
}

func TestMatchGlob(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"*CAR WARRANTY*", "YOUR CAR WARRANTY DEPT", true},
		{"*CAR WARRANTY*", "CAR WARRANTY", true},
		{"*CAR WARRANTY*", "CAR WARRANT", false},
		{"SPAM?", "SPAM1", true},
		{"SPAM?", "SPAM", false},
		{"SPAM?", "SPAM12", false},
		{"A*B*C", "AXXBYYC", true},
		{"A*B*C", "AXXBYY", false},
		{"*", "", true},
		{"ÉCOLE*", "ÉCOLE PRIVÉE", true},
		{"?COLE", "ÉCOLE", true},
		{"V*", "", false},
		{strings.Repeat("*A", 30) + "B", strings.Repeat("A", 200), false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"/"+tt.name, func(t *testing.T) {
			if got := matchGlob(tt.pattern, tt.name); got != tt.want {
				t.Fatalf("matchGlob(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
			}
		})
	}
}

func TestParseFile(t *testing.T) {
	in := "\ufeff# header comment\n" +
		"\n" +
		"+12125551234   # the dentist\n" +
		"not a number\n" +
		"name:*WARRANTY#1*  # patterns may hold '#'\n" +
		strings.Repeat("9", maxLineLen+10) + "\n" +
		"+1900*\r\n" +
		"+12125550100..+12125550199"
	entries, bad, err := Parse(strings.NewReader(in), "block.txt", Block, "US")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Origin+" "+e.String()+" note="+e.Note)
	}
	want := []string{
		"block.txt:3 +12125551234 note=the dentist",
		"block.txt:5 name:*WARRANTY#1* note=patterns may hold '#'",
		"block.txt:7 +1900* note=",
		"block.txt:8 +12125550100..+12125550199 note=",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(bad) != 2 || bad[0].Line != 4 || bad[1].Line != 6 {
		t.Fatalf("bad lines = %v, want lines 4 and 6", bad)
	}
	if !errors.Is(&bad[0], ErrBadNumber) {
		t.Fatalf("bad line 4 error %v does not wrap ErrBadNumber", bad[0].Err)
	}
	if !strings.HasPrefix(bad[0].Error(), "block.txt:4: ") {
		t.Fatalf("line error %q does not name file and line", bad[0].Error())
	}
	for _, e := range entries {
		if e.List != Block {
			t.Fatalf("entry %s on list %q, want block", e.String(), e.List)
		}
	}
}

// globReference is the plain backtracking matcher over runes that
// matchGlob must agree with.
func globReference(pattern, name string) bool {
	p, n := []rune(pattern), []rune(name)
	pi, ni := 0, 0
	star, mark := -1, 0
	for ni < len(n) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == n[ni]):
			pi++
			ni++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, ni
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			ni = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// FuzzMatchGlob: the segment matcher agrees with the backtracking one on
// every valid UTF-8 pattern and name.
func FuzzMatchGlob(f *testing.F) {
	for _, s := range [][2]string{{"*CAR WARRANTY*", strings.Repeat("A", 300) + " CAR WARRANTY"}, {"A*B?C*", "AXBXCB"},
		{"?*?", "É"}, {"**", ""}, {"*AB*AB*", "ABAB"}, {"A?*?", "AÉÉ"}, {"*?É", "ÉÉ"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		if !utf8.ValidString(pattern) || !utf8.ValidString(name) {
			return
		}
		if got, want := matchGlob(pattern, name), globReference(pattern, name); got != want {
			t.Fatalf("matchGlob(%q, %q) = %v, reference says %v", pattern, name, got, want)
		}
	})
}

// A name padded far past what the record keeps is still matched whole, in
// time linear in its length.
func TestMatchGlobLongName(t *testing.T) {
	name := strings.Repeat("A", 60<<10) + " CAR WARRANTY"
	for _, tt := range []struct {
		pattern string
		want    bool
	}{{"*WARRANTY*", true}, {"*WARRANTY", true}, {"A*WARRANTY", true}, {"*B*", false}, {"*A?Z*", false}, {"*A?C*", true}} {
		if got := matchGlob(tt.pattern, name); got != tt.want {
			t.Errorf("matchGlob(%q, 60 KiB name) = %v, want %v", tt.pattern, got, tt.want)
		}
	}
}

// TestMatchGlobAllocates: matching a name pattern on the call path
// allocates nothing, however many segments it has.
func TestMatchGlobAllocates(t *testing.T) {
	for _, p := range []string{"*CAR WARRANTY*", "*A*B*C*", "A?*B**C", "**"} {
		if n := testing.AllocsPerRun(100, func() { matchGlob(p, "XAYBZC CAR WARRANTY") }); n != 0 {
			t.Errorf("matchGlob(%q) allocates %v times", p, n)
		}
	}
}
