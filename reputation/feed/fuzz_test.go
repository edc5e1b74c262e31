package feed

import (
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
	f.Fuzz(func(t *testing.T, in string) { fuzzParse(t, in, JSON) })
}

func FuzzParseFTC(f *testing.F) {
	f.Add(ftcHeader + "2125550001,2026-03-01 00:00:06,,Austin,Texas,512,\"Vehicles, \"\"warranty\"\"\",Y\n")
	f.Add(ftcHeader + "\"2125550006,2026-03-01\n,,,\n\r\n")
	f.Add("Company_Phone_Number,Created_Date\n+1 (212) 555-0001,1/2/2026\n")
	f.Fuzz(func(t *testing.T, in string) { fuzzParse(t, in, FTC) })
}
