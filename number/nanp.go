package number

import "github.com/nyaruka/phonenumbers"

// FastNANP normalises the common North American forms without the
// numbering-plan library, which is a hundred times slower: "+1NPANXXXXXX",
// and, when region is a NANP region, "NPANXXXXXX" and "1NPANXXXXXX", with
// the usual punctuation. NPA and NXX must start with 2–9. It reports false
// for anything else, which then needs the full parser. Unlike Parse it
// does not ask whether the area code is in service: lists and feeds take
// such a number as written.
func FastNANP(s, region string) (string, bool) {
	e, ok, _ := fastNANP(s, region)
	return e, ok
}

// NANPShaped reports whether s is written as a North American number
// (FastNANP's forms, whatever the NPA and NXX): when FastNANP declines such
// a number it is not a valid one, and the slow parser need not be asked.
func NANPShaped(s, region string) bool {
	_, _, shaped := fastNANP(s, region)
	return shaped
}

func fastNANP(s, region string) (e164 string, ok, shaped bool) {
	var d [16]byte
	n := 0
	plus := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if n == len(d) {
				return "", false, false
			}
			d[n] = c
			n++
		case c == '+' && i == 0:
			plus = true
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return "", false, false
		}
	}
	digits := d[:n]
	switch {
	case n == 11 && digits[0] == '1':
		digits = digits[1:]
	case n == 10 && !plus:
	default:
		return "", false, false
	}
	if !plus && !NANPRegion(region) {
		return "", false, false
	}
	if digits[0] < '2' || digits[3] < '2' {
		return "", false, true
	}
	return "+1" + string(digits), true, true
}

// NANPRegion reports whether region (ISO 3166) is in the North American
// Numbering Plan, where a national number is always ten digits.
func NANPRegion(region string) bool {
	switch region {
	case "US", "CA":
		return true
	}
	return len(region) == 2 && phonenumbers.GetCountryCodeForRegion(region) == 1
}
