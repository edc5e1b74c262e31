package lists

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/callscreen/callscreen/number"
)

// List names one of the two lists.
type List string

// The lists.
const (
	// Allow is the must-pass list: never challenged, never blocked.
	Allow List = "allow"
	// Block is the must-block list.
	Block List = "block"
)

// Valid reports whether l is Allow or Block.
func (l List) Valid() bool { return l == Allow || l == Block }

// Kind says how an entry matches a caller.
type Kind string

// The entry kinds.
const (
	// Number matches one number exactly (E.164, or the digits of a short
	// code such as 911).
	Number Kind = "number"
	// Prefix matches every E.164 number that starts with Value.
	Prefix Kind = "prefix"
	// Range matches every E.164 number from Value to High inclusive, both
	// of the same length.
	Range Kind = "range"
	// Name matches the caller ID name against a glob pattern: '*' is any
	// run of characters, '?' any one character, case-insensitive.
	Name Kind = "name"
)

// Entry is one list entry.
type Entry struct {
	// Tenant is the tenant the entry belongs to; "" is the default tenant.
	// Entries read from the list files apply to every tenant.
	Tenant string
	List   List
	Kind   Kind
	// Value is the normalised match: an E.164 number ("+12125551234") or
	// short-code digits ("911") for Number, the E.164 prefix ("+1212555")
	// for Prefix, the low end for Range, the upper-cased pattern for Name.
	Value string
	// High is the high end of a Range, "" otherwise.
	High string
	// Note is free text (the comment after '#' in a file).
	Note string
	// AddedBy says who added the entry, "" when unknown.
	AddedBy string
	// Added is when the entry was added; zero when unknown.
	Added time.Time
	// Expires is when the entry stops matching; zero never expires.
	Expires time.Time
	// Origin says where the entry came from ("allow.txt:12", "redis", "csv").
	Origin string
}

// Expired reports whether the entry has expired at now.
func (e *Entry) Expired(now time.Time) bool {
	return !e.Expires.IsZero() && !now.Before(e.Expires)
}

// String returns the entry in list-file syntax (without the note).
func (e *Entry) String() string {
	switch e.Kind {
	case Prefix:
		return e.Value + "*"
	case Range:
		return e.Value + ".." + e.High
	case Name:
		return "name:" + e.Value
	}
	return e.Value
}

// MaxPatternLen is the longest caller-name pattern accepted.
const MaxPatternLen = 128

// Errors a bad entry is reported with (test with errors.Is).
var (
	ErrBadNumber  = errors.New("not a number")
	ErrBadPrefix  = errors.New("not a number prefix")
	ErrBadRange   = errors.New("not a number range")
	ErrBadPattern = errors.New("not a name pattern")
)

// ParseEntry reads one entry in list-file syntax, without comment:
//
//	+12125551234            exact number, E.164
//	(212) 555-1234          exact number, national form of region
//	911                     short code (2 to 6 digits)
//	+1900*                  every number starting +1900
//	212555*                 prefix in national form of region (+1212555)
//	+12125550100..+12125550199   inclusive range (national form allowed)
//	name:*CAR WARRANTY*     caller-name glob, case-insensitive
//
// region is the ISO 3166 region national forms are read in ("US").
func ParseEntry(s, region string) (Entry, error) {
	s = strings.TrimSpace(s)
	if len(s) >= 5 && strings.EqualFold(s[:5], "name:") {
		p, err := normPattern(s[5:])
		if err != nil {
			return Entry{}, err
		}
		return Entry{Kind: Name, Value: p}, nil
	}
	if lo, hi, ok := strings.Cut(s, ".."); ok {
		l, err := normNumber(lo, region)
		if err != nil {
			return Entry{}, fmt.Errorf("%w %q: low end: %w", ErrBadRange, s, err)
		}
		h, err := normNumber(hi, region)
		if err != nil {
			return Entry{}, fmt.Errorf("%w %q: high end: %w", ErrBadRange, s, err)
		}
		switch {
		case l[0] != '+' || h[0] != '+':
			return Entry{}, fmt.Errorf("%w %q: both ends must be full numbers", ErrBadRange, s)
		case len(l) != len(h):
			return Entry{}, fmt.Errorf("%w %q: ends differ in length", ErrBadRange, s)
		case l > h:
			return Entry{}, fmt.Errorf("%w %q: low end above high end", ErrBadRange, s)
		}
		return Entry{Kind: Range, Value: l, High: h}, nil
	}
	if p, ok := strings.CutSuffix(s, "*"); ok {
		v, err := normPrefix(p, region)
		if err != nil {
			return Entry{}, err
		}
		return Entry{Kind: Prefix, Value: v}, nil
	}
	v, err := normNumber(s, region)
	if err != nil {
		return Entry{}, err
	}
	return Entry{Kind: Number, Value: v}, nil
}

// NormalizeNumber returns the key an exact number is listed under: its
// E.164 form, or the digits of a short code. region reads national forms.
func NormalizeNumber(s, region string) (string, error) { return normNumber(s, region) }

func normNumber(s, region string) (string, error) {
	s = strings.TrimSpace(s)
	if e, ok := number.FastNANP(s, region); ok {
		return e, nil
	}
	n := number.Parse(s, region)
	switch {
	case n.Kind == number.Valid:
		return n.E164, nil
	case n.E164 != "" && strings.HasPrefix(s, "+") && number.Parse(n.E164, region).E164 == n.E164:
		// Written in E.164 by the operator: take it even if the numbering
		// plan metadata does not know the range yet, as long as it reads
		// back the same (a caller with these digits gets the same key).
		return n.E164, nil
	case n.E164 == "" && n.Digits != "" && len(n.Digits) >= 2 && len(n.Digits) <= 6 && n.Digits == s:
		return n.Digits, nil
	case n.E164 != "":
		return "", fmt.Errorf("%w: %q is not a valid number in region %s", ErrBadNumber, s, region)
	}
	return "", fmt.Errorf("%w: %q", ErrBadNumber, s)
}

func normPrefix(p, region string) (string, error) {
	p = strings.TrimSpace(p)
	plus := strings.HasPrefix(p, "+")
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == '+' && i == 0:
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return "", fmt.Errorf("%w: %q", ErrBadPrefix, p+"*")
		}
	}
	d := b.String()
	if d == "" {
		return "", fmt.Errorf("%w: %q has no digits", ErrBadPrefix, p+"*")
	}
	if !plus {
		cc := phonenumbers.GetCountryCodeForRegion(region)
		if cc == 0 {
			return "", fmt.Errorf("%w: %q: unknown region %q for a national prefix", ErrBadPrefix, p+"*", region)
		}
		if ndd := phonenumbers.GetNddPrefixForRegion(region, true); ndd != "" {
			d = strings.TrimPrefix(d, ndd)
		}
		d = fmt.Sprint(cc) + d
	}
	if len(d) > 15 {
		return "", fmt.Errorf("%w: %q is longer than any number", ErrBadPrefix, p+"*")
	}
	return "+" + d, nil
}

func normPattern(p string) (string, error) {
	p = strings.TrimSpace(p)
	switch {
	case p == "":
		return "", fmt.Errorf("%w: empty", ErrBadPattern)
	case len(p) > MaxPatternLen:
		return "", fmt.Errorf("%w: longer than %d characters", ErrBadPattern, MaxPatternLen)
	case strings.Trim(p, "*") == "":
		return "", fmt.Errorf("%w: %q matches every name", ErrBadPattern, p)
	}
	for _, r := range p {
		if r < ' ' || r == 0x7f {
			return "", fmt.Errorf("%w: %q has control characters", ErrBadPattern, p)
		}
	}
	return strings.ToUpper(p), nil
}

// matchGlob reports whether name matches pattern (both upper-cased): '*'
// is any run, '?' any one character. The pattern is cut at its stars into
// segments: the first must match at the start of the name, the last at its
// end, and each one between at its leftmost place after the previous one
// (leftmost is always right for globs). A segment without '?' is found
// with strings.Index, so a long name costs time linear in its length, and
// nothing is allocated.
func matchGlob(pattern, name string) bool {
	first := strings.IndexByte(pattern, '*')
	if first < 0 {
		end, ok := matchAt(pattern, name, 0)
		return ok && end == len(name)
	}
	pos, ok := matchAt(pattern[:first], name, 0)
	if !ok {
		return false
	}
	last := strings.LastIndexByte(pattern, '*')
	suffix := pattern[last+1:]
	// The suffix takes as many characters at the end as it has runes.
	tail := len(name)
	for n := utf8.RuneCountInString(suffix); n > 0; n-- {
		if tail <= pos {
			return false
		}
		_, w := utf8.DecodeLastRuneInString(name[:tail])
		tail -= w
	}
	if tail < pos {
		return false
	}
	if end, ok := matchAt(suffix, name, tail); !ok || end != len(name) {
		return false
	}
	for mid := pattern[first+1 : last+1]; mid != ""; {
		var seg string
		seg, mid, _ = strings.Cut(mid, "*")
		if seg == "" {
			continue
		}
		at, end := findSegment(seg, name[:tail], pos)
		if at < 0 {
			return false
		}
		pos = end
	}
	return true
}

// matchAt matches seg ('?' is any one character) at byte i of s and
// returns the byte offset after it.
func matchAt(seg, s string, i int) (int, bool) {
	for _, r := range seg {
		if i >= len(s) {
			return 0, false
		}
		got, w := utf8.DecodeRuneInString(s[i:])
		if r != '?' && r != got {
			return 0, false
		}
		i += w
	}
	return i, true
}

// findSegment finds the leftmost match of seg in s at or after byte from;
// it returns its start and end, or -1.
func findSegment(seg, s string, from int) (int, int) {
	if strings.IndexByte(seg, '?') < 0 {
		if k := strings.Index(s[from:], seg); k >= 0 {
			return from + k, from + k + len(seg)
		}
		return -1, -1
	}
	for i := from; i < len(s); {
		if end, ok := matchAt(seg, s, i); ok {
			return i, end
		}
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	return -1, -1
}
