package number

import (
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// MaxRawLen is the longest caller ID text that is parsed at all. Anything
// longer is reported as invalid without being handed to the parser.
const MaxRawLen = 32

// maxDigits is the longest E.164 number (ITU-T E.164 §6.1).
const maxDigits = 15

// Kind says what a caller ID text turned out to be.
type Kind int

const (
	// Valid is a number that the numbering plan of its country allows.
	Valid Kind = iota
	// Anonymous is a withheld number: "anonymous", "restricted", "private",
	// "withheld" or "unavailable" in place of digits.
	Anonymous
	// Invalid is anything else: empty, "unknown", letters, too long, or
	// digits that no numbering plan assigns.
	Invalid
)

func (k Kind) String() string {
	switch k {
	case Valid:
		return "valid"
	case Anonymous:
		return "anonymous"
	default:
		return "invalid"
	}
}

// Number is a parsed caller or dialed number.
type Number struct {
	// Raw is the text as received, trimmed of surrounding white space.
	Raw string
	// Digits is Raw with everything but digits removed (a leading "+" is
	// dropped too). Used for short codes such as 911.
	Digits string
	// E164 is the number in E.164 form ("+12125551234"), or "" when the text
	// could not be read as a possible number.
	E164 string
	// Kind classifies the number.
	Kind Kind
	// Region is the ISO 3166 region the number belongs to ("US", "GB"), or "".
	Region string
	// CountryCode is the E.164 country calling code, 0 when unknown.
	CountryCode int
}

// NANP reports whether the number is in the North American Numbering Plan
// (country code 1).
func (n Number) NANP() bool { return n.CountryCode == 1 }

// Key returns the form used to look the number up in lists and caches: the
// E.164 form when there is one, otherwise the bare digits.
func (n Number) Key() string {
	if n.E164 != "" {
		return n.E164
	}
	return n.Digits
}

// NPANXX returns the first six national digits of a NANP number (area code
// and exchange), or "" for other numbers.
func (n Number) NPANXX() string {
	if !n.NANP() || len(n.E164) != 12 {
		return ""
	}
	return n.E164[2:8]
}

var anonymousWords = map[string]bool{
	"anonymous":   true,
	"restricted":  true,
	"private":     true,
	"withheld":    true,
	"unavailable": true,
	"blocked":     true,
}

// Parse reads raw caller ID text. region is the ISO 3166 region used for
// numbers written in national form ("2125551234" with region "US"). Parse
// never fails: what cannot be read is returned with Kind Invalid.
func Parse(raw, region string) Number {
	n, _ := parse(raw, region, anyPath)
	return n
}

// ParseFast is Parse when the answer needs no call into the numbering-plan
// library: text that is no number at all, and the common North American
// shapes ("+1" and ten digits; in a NANP region ten digits, or "1" and
// ten), which are read from automata compiled from the library's
// metadata, in well under a microsecond. ok is false when only Parse can
// tell (then it costs microseconds to tens of them, worth a cache).
func ParseFast(raw, region string) (n Number, ok bool) {
	return parse(raw, region, fastOnly)
}

// parseMode says which ways parse may take.
type parseMode int

const (
	anyPath     parseMode = iota // the automata where they apply, else the library
	fastOnly                     // stop, ok false, where the library would be called
	libraryOnly                  // the library for every number: the reference tests compare with
)

// parse is Parse in mode.
func parse(raw, region string, mode parseMode) (Number, bool) {
	raw = strings.TrimSpace(raw)
	n := Number{Raw: raw, Kind: Invalid}
	if raw == "" || len(raw) > MaxRawLen {
		return n, true
	}
	lower := strings.ToLower(raw)
	if anonymousWords[lower] {
		n.Kind = Anonymous
		return n, true
	}
	if lower == "unknown" {
		return n, true
	}
	digits, ok := cleanDigits(raw)
	if !ok {
		return n, true
	}
	n.Digits = digits
	if len(digits) == 0 || len(digits) > maxDigits {
		return n, true
	}
	// The commonest shapes skip the library: parseNANP answers its
	// checks from automata, and, should those be unavailable, nanpNumber
	// stands in for its parser.
	national, fast := nanpNational(raw, digits, region)
	fast = fast && mode != libraryOnly
	if fast {
		if n, ok := parseNANP(n, national, region); ok {
			return n, true
		}
	}
	if mode == fastOnly {
		return n, false
	}
	var pn *phonenumbers.PhoneNumber
	if fast {
		pn = nanpNumber(national)
	} else {
		var err error
		if pn, err = phonenumbers.Parse(raw, region); err != nil {
			return n, true
		}
	}
	if !phonenumbers.IsPossibleNumber(pn) {
		return n, true
	}
	n.CountryCode = int(pn.GetCountryCode())
	n.E164 = phonenumbers.Format(pn, phonenumbers.E164)
	// Asking the default region first avoids a search through every region
	// sharing the country code (25 for NANP) on the common path.
	if n.CountryCode == phonenumbers.GetCountryCodeForRegion(region) && phonenumbers.IsValidNumberForRegion(pn, region) {
		n.Region, n.Kind = region, Valid
		return n, true
	}
	n.Region = phonenumbers.GetRegionCodeForNumber(pn)
	if n.Region != "" && phonenumbers.IsValidNumberForRegion(pn, n.Region) {
		n.Kind = Valid
	}
	return n, true
}

// nanpNational returns the ten national digits of the commonest caller ID
// shapes: "+1" and ten digits, or, in a NANP region, ten digits or "1" and
// ten digits, with nothing but digits written, the area code starting
// with 2–9. Anything else is left to phonenumbers.Parse. Tests check that
// the library reads these shapes as country code 1 and these digits.
func nanpNational(raw, digits, region string) (string, bool) {
	var national string
	switch {
	case len(raw) == 12 && raw[0] == '+' && raw[1] == '1' && len(digits) == 11:
		national = digits[1:]
	case raw != digits || phonenumbers.GetCountryCodeForRegion(region) != 1:
		return "", false
	case len(digits) == 10:
		national = digits
	case len(digits) == 11 && digits[0] == '1':
		national = digits[1:]
	default:
		return "", false
	}
	if national[0] < '2' { // NANP area codes never start with 0 or 1
		return "", false
	}
	return national, true
}

// nanpNumber is the library's parsed form of a NANP national number.
func nanpNumber(national string) *phonenumbers.PhoneNumber {
	nn, _ := strconv.ParseUint(national, 10, 64) // ten digits: always fits
	cc := int32(1)
	return &phonenumbers.PhoneNumber{CountryCode: &cc, NationalNumber: &nn}
}

// cleanDigits returns the digits of s, accepting only the punctuation people
// write numbers with. A leading "+" is allowed once.
func cleanDigits(s string) (string, bool) {
	// Digits only, perhaps after a "+": the digits are a part of s.
	plain := s
	if len(plain) > 0 && plain[0] == '+' {
		plain = plain[1:]
	}
	i := 0
	for i < len(plain) && plain[i] >= '0' && plain[i] <= '9' {
		i++
	}
	if i == len(plain) {
		return plain, true
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == '+' && i == 0:
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return "", false
		}
	}
	return b.String(), true
}
