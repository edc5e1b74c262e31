package feed

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

func fuzzParse(t *testing.T, in string, f Format) {
	var st Stats
	seen := 0
	err := parse(strings.NewReader(in), f, "US", &st, func(r Report, key uint64) {
		seen++
		if r.Number == "" || key == 0 || (r.Created.IsZero() && r.Violation.IsZero()) {
			t.Fatalf("accepted an incomplete report %+v", r)
		}
	}, nil)
	if st.Rows != st.Accepted+st.Rejected || st.Accepted != seen || len(st.Errors) > MaxErrors {
		t.Fatalf("stats %+v, %d reports passed on", st, seen)
	}
	_ = err
}

func FuzzParseJSON(f *testing.F) {
	f.Add(goodFeed)
	f.Add(`{"data":[{"attributes":{"company-phone-number":"2125550001","created-date":"2026-03-01"}}]}`)
	f.Add("{\"number\":\"2125550001\",\"created_date\":\"2026-03-01\"}\n{\"number\":1}\n")
	f.Add(`[{"number":"2125550001","created_date":"2026-03-01"},{"num`)
	f.Add(`[1,"x",null,{"number":{}}]`)
	f.Add(`[{"number":"2125550001","created_date":"2026-03-01","x":[{"y":"\u00e9"}]}, null, 3]`)
	f.Fuzz(func(t *testing.T, in string) {
		fuzzParse(t, in, JSON)
		if trimmed := strings.TrimLeft(in, " \t\r\n"); strings.HasPrefix(trimmed, "[") {
			both(t, in)
		}
	})
}

func FuzzParseFTC(f *testing.F) {
	f.Add(ftcHeader + "2125550001,2026-03-01 00:00:06,,Austin,Texas,512,\"Vehicles, \"\"warranty\"\"\",Y\n")
	f.Add(ftcHeader + "\"2125550006,2026-03-01\n,,,\n\r\n")
	f.Add("Company_Phone_Number,Created_Date\n+1 (212) 555-0001,1/2/2026\n")
	f.Fuzz(func(t *testing.T, in string) { fuzzParse(t, in, FTC) })
}

// both runs the fast array reader and encoding/json's decoder on in and
// reports whether they agree: same reports in the same order, same stats,
// and both failing or both not.
func both(t *testing.T, in string) {
	t.Helper()
	type out struct {
		reports []Report
		st      Stats
		err     error
	}
	run := func(f func(io.Reader, string, *Stats, func(Report, uint64), func(Stats)) error) out {
		var o out
		o.err = f(bufio.NewReader(strings.NewReader(in)), "US", &o.st, func(r Report, _ uint64) { o.reports = append(o.reports, r) }, nil)
		return o
	}
	fast := run(func(r io.Reader, region string, st *Stats, fn func(Report, uint64), p func(Stats)) error {
		return parseJSONArray(r.(*bufio.Reader), region, st, fn, p)
	})
	slow := run(parseJSONStream)
	if (fast.err == nil) != (slow.err == nil) {
		t.Fatalf("input %q: fast reader err %v, decoder err %v", in, fast.err, slow.err)
	}
	if fast.err != nil {
		if !errors.Is(fast.err, ErrSyntax) {
			t.Fatalf("input %q: fast reader error %v is not ErrSyntax", in, fast.err)
		}
		return // where each stops reading may differ
	}
	if fmt.Sprint(fast.reports) != fmt.Sprint(slow.reports) {
		t.Fatalf("input %q: reports differ:\nfast %v\nslow %v", in, fast.reports, slow.reports)
	}
	if fast.st.Rows != slow.st.Rows || fast.st.Accepted != slow.st.Accepted || fast.st.Rejected != slow.st.Rejected {
		t.Fatalf("input %q: stats differ: fast %+v slow %+v", in, fast.st, slow.st)
	}
}

func TestJSONFastMatchesDecoder(t *testing.T) {
	for _, in := range []string{
		goodFeed,
		`[]`, ` [ ] `, `[`, `[,]`, `[1,]`, `[1 2]`, `[{}]`, `[null]`, `["x"]`, `[[1,2]]`, `[{"a":[1,{"b":2}]}]`,
		`[{"number":"2125550001","created_date":"2026-03-01","robocall":true},{"NUMBER":"2125550002","Created_Date":"2026-03-01"}]`,
		`[{"number":"212\u0035550001","created_date":"2026-03-01"}]`,
		`[{"number":"2125550001","created_date":"2026-03-01","subject":"a \"quoted\" \\ subject"}]`,
		`[{"number":2125550001,"created_date":"2026-03-01","extra":{"deep":[1,2,{"x":null}]}}]`,
		`[{"attributes":{"company-phone-number":"2125550001","created-date":"2026-03-01"}}]`,
		`[{"attributes":"oops"}]`,
		`[{"number":"2125550001","created_date":"2026-03-01",}]`,
		`[{"number":"2125550001" "created_date":"2026-03-01"}]`,
		`[{"number":"2125550001","created_date":"2026-03-01"}] x`,
		`[{"number":"2125550001","created_date":"2026-03-01"}]` + "\n\n",
		`[{"number":-1.5e3,"created_date":"2026-03-01"}]`,
		`[{"number":01,"created_date":"2026-03-01"}]`,
		`[{"number":"` + "\x01" + `"}]`,
		`[{"number":"2125550001","created_date":"2026-03-01"},` + "\n" + `{"number":"2125550002","created_date":"2026-03-01"}`,
	} {
		both(t, in)
	}
}
