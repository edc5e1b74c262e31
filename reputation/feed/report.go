package feed

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/reputation/lists/numset"
)

// Report is one row of a feed: one complaint about one number.
type Report struct {
	// Number is the reported number in E.164.
	Number string
	// Created is when the report was filed; Violation when the call was
	// made (zero when not given).
	Created, Violation time.Time
	State, Subject     string
	Robocall           bool
}

// Errors a bad row is reported with (test with errors.Is).
var (
	ErrNoNumber  = errors.New("no number")
	ErrBadNumber = errors.New("not a valid number")
	ErrBadDate   = errors.New("not a date")
)

// normNumber reads a reported number: NANP forms fast, others (which need
// a "+") through the numbering plan. Numbers must be valid.
func normNumber(s, region string) (string, uint64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", 0, ErrNoNumber
	}
	e164, ok := number.FastNANP(s, region)
	if !ok && (number.NANPShaped(s, region) || s[0] != '+' && !strings.HasPrefix(s, "011") && number.NANPRegion(region)) {
		// A North American number with an impossible area code or
		// exchange, or a national number of the wrong length (not dialled
		// abroad with 011): no need for the (much slower) full parser.
		return "", 0, fmt.Errorf("%w: %q", ErrBadNumber, s)
	}
	if !ok {
		n := number.Parse(s, region)
		if n.Kind != number.Valid {
			return "", 0, fmt.Errorf("%w: %q", ErrBadNumber, s)
		}
		e164 = n.E164
	}
	k, ok := numset.Encode(e164)
	if !ok {
		return "", 0, fmt.Errorf("%w: %q", ErrBadNumber, s)
	}
	return e164, k, nil
}

var dateLayouts = []string{
	"2006-01-02 15:04:05",
	time.RFC3339,
	"2006-01-02T15:04:05",
	"2006-01-02",
	"1/2/2006 15:04:05",
	"1/2/2006 15:04",
	"1/2/2006",
}

// parseDate reads the date forms feeds use, as UTC; "" is the zero time.
func parseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, ok := fastDate(s); ok {
		return t, nil
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: %q", ErrBadDate, s)
}

// fastDate reads "YYYY-MM-DD" and "YYYY-MM-DD HH:MM:SS", the forms nearly
// every row uses, without time.Parse.
func fastDate(s string) (time.Time, bool) {
	if len(s) != 10 && len(s) != 19 {
		return time.Time{}, false
	}
	num := func(from, to int) (int, bool) {
		n := 0
		for i := from; i < to; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	y, ok1 := num(0, 4)
	m, ok2 := num(5, 7)
	d, ok3 := num(8, 10)
	if !ok1 || !ok2 || !ok3 || s[4] != '-' || s[7] != '-' || m < 1 || m > 12 || d < 1 || d > 31 {
		return time.Time{}, false
	}
	var hh, mm, ss int
	if len(s) == 19 {
		var ok4, ok5, ok6 bool
		hh, ok4 = num(11, 13)
		mm, ok5 = num(14, 16)
		ss, ok6 = num(17, 19)
		if s[10] != ' ' || s[13] != ':' || s[16] != ':' || !ok4 || !ok5 || !ok6 || hh > 23 || mm > 59 || ss > 59 {
			return time.Time{}, false
		}
	}
	t := time.Date(y, time.Month(m), d, hh, mm, ss, 0, time.UTC)
	if t.Day() != d { // 2026-02-30
		return time.Time{}, false
	}
	return t, true
}

// parseYesNo reads a robocall flag: yes/no, y/n, true/false, 1/0.
func parseYesNo(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes", "y", "true", "1":
		return true
	}
	return false
}

// day is a date as days since 1970-01-01 (UTC).
type day uint16

func dayOf(t time.Time) day {
	d := t.Unix() / 86400
	switch {
	case d < 0:
		return 0
	case d > 0xffff:
		return 0xffff
	}
	return day(d)
}

func (d day) time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// value is what the feed keeps per number, packed in 24 bits: the last
// report day, whether any report said robocall, and how many reports
// (saturating at 127).
type value uint32

const maxCount = 127

func pack(d day, robocall bool, count int) value {
	v := value(d) << 8
	if robocall {
		v |= 1 << 7
	}
	return v | value(min(count, maxCount))
}

func (v value) day() day       { return day(v >> 8) }
func (v value) robocall() bool { return v&(1<<7) != 0 }
func (v value) count() int     { return int(v & maxCount) }
func (v value) valid() bool    { return v>>24 == 0 && v.count() > 0 }
func (v value) String() string {
	return fmt.Sprintf("%s/%d/%v", v.day().time().Format(time.DateOnly), v.count(), v.robocall())
}

// merge combines what is known about a number with more reports.
func merge(a, b value) value {
	if a == 0 {
		return b
	}
	return pack(max(a.day(), b.day()), a.robocall() || b.robocall(), a.count()+b.count())
}
