package number

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// digitStrings returns every string of n ASCII digits.
func digitStrings(n int) []string {
	out := []string{""}
	for range n {
		var next []string
		for _, s := range out {
			for d := range 10 {
				next = append(next, s+strconv.Itoa(d))
			}
		}
		out = next
	}
	return out
}

// matcher is a classifier of one group: class 1 when it matches.
func matcher(n int, exprs ...string) (*digitClassifier, error) {
	return compileClassifier(n, [][]string{exprs}, anyGroup)
}

func matches(a *digitClassifier, s string) bool {
	c, ok := a.classify(s)
	return ok && c == 1
}

// checkDigitDFA compares the automaton for pattern with regexp on every
// string of n digits, as the library anchors it and as it is.
func checkDigitDFA(t *testing.T, pattern string, n int) {
	t.Helper()
	for _, expr := range []string{whole(pattern), prefix(pattern), pattern} {
		re, rerr := regexp.Compile(expr)
		a, err := matcher(n, expr)
		if (err != nil) != (rerr != nil) {
			t.Fatalf("compile %q: automaton %v, regexp %v", expr, err, rerr)
		}
		if err != nil {
			continue
		}
		for _, s := range digitStrings(n) {
			if got, want := matches(a, s), re.MatchString(s); got != want {
				t.Fatalf("%s on %q: automaton %v, regexp %v", expr, s, got, want)
			}
		}
	}
}

func TestDigitDFAMatchesRegexp(t *testing.T) {
	patterns := []string{
		``, `NA`, `\d`, `\d{3}`, `[2-9]\d{2}`, `1|12|123`, `(?:12)*`, `\b12\B3`, `\b`, `\B\d+`,
		`^1\d*`, `\d*1$`, `\d{2}$|3`, `(?i)a|1`, `.`, `.+`, `\D|5`, `[^5]\d*`, `1(?:2|3(?:4|5))`,
		`x*1\d`, `(?:2(?:0[1-35-9]|1[02-9])|3(?:0[1-57-9]))\d`, `(1)(2)?\d`, `(?s).\d`, `\A1\d*\z`,
		`(?m)^1\d*$`, `[[:digit:]]{2}`, `\pN\d`, `0{0,2}[1-3]`, `(?U)\d+?`, `a|b`,
		// Not well formed alone: the library's "^(?:" + p + ")$" is then
		// no longer anchored, and regexp searches.
		`)|(`, `1)|(2`, `)|\d\d(`, `)|1$|(`,
	}
	for _, p := range patterns {
		for _, n := range []int{0, 1, 2, 3, 4} {
			checkDigitDFA(t, p, n)
		}
	}
}

// TestDigitDFAGroups: the class sees exactly which groups match, a group
// matching when any of its expressions does.
func TestDigitDFAGroups(t *testing.T) {
	groups := [][]string{
		{whole(`1\d{2}`), whole(`2[0-4]\d`)},
		{whole(`NA`)},
		{prefix(`99`), `55`},
		{},
		{whole(`\d*[13579]`)},
	}
	mask := func(m []bool) int32 {
		var c int32
		for g, ok := range m {
			if ok {
				c |= 1 << g
			}
		}
		return c
	}
	a, err := compileClassifier(3, groups, mask)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range digitStrings(3) {
		var want int32
		for g, exprs := range groups {
			for _, e := range exprs {
				if regexp.MustCompile(e).MatchString(s) {
					want |= 1 << g
				}
			}
		}
		if got, ok := a.classify(s); !ok || got != want {
			t.Fatalf("classes of %q: automaton %b, regexps %b", s, got, want)
		}
	}
	none, err := compileClassifier(3, nil, anyGroup)
	if err != nil {
		t.Fatal(err)
	}
	if matches(none, "123") {
		t.Fatal("a classifier of no groups matched")
	}
}

func TestDigitDFARefuses(t *testing.T) {
	if _, err := matcher(3, whole(`(`)); err == nil {
		t.Fatal("a pattern regexp refuses was compiled")
	}
	a, err := matcher(3, whole(`\d+`))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"12", "1234", "12a", "1 2", "\xff12", ""} {
		if _, ok := a.classify(s); ok {
			t.Fatalf("classified %q, not three digits", s)
		}
	}
}

func FuzzDigitDFA(f *testing.F) {
	for _, s := range []struct{ p, d string }{
		{`[2-9]\d{9}|3\d{6}`, "2125551234"}, {`268(?:464|7(?:1[3-9]|[28]\d))\d{4}`, "2684641234"},
		{`8001|8[024]9`, "8095551234"}, {`\b1\B`, "12"}, {`(?:12)*$`, "1212"},
	} {
		f.Add(s.p, s.d)
	}
	f.Fuzz(func(t *testing.T, pattern, digits string) {
		if len(digits) > 12 || len(pattern) > 200 || strings.Trim(digits, "0123456789") != "" {
			return
		}
		for _, expr := range []string{whole(pattern), prefix(pattern), pattern} {
			re, err := regexp.Compile(expr)
			if err != nil {
				continue
			}
			a, err := matcher(len(digits), expr)
			if err != nil {
				if strings.Contains(err.Error(), "too large") {
					return
				}
				t.Fatalf("compile %q: %v (regexp compiles it)", expr, err)
			}
			if got, want := matches(a, digits), re.MatchString(digits); got != want {
				t.Fatalf("%s on %q: automaton %v, regexp %v", expr, digits, got, want)
			}
		}
	})
}
