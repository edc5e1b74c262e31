package feed

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

type parsed struct {
	reports []Report
	st      Stats
	err     error
}

func parseString(in string, f Format) parsed {
	var p parsed
	p.err = parse(strings.NewReader(in), f, "US", &p.st, func(r Report, _ uint64) { p.reports = append(p.reports, r) }, nil)
	return p
}

func numbers(rs []Report) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Number)
	}
	return out
}

func badLines(st Stats) []int {
	var out []int
	for _, e := range st.Errors {
		out = append(out, e.Line)
	}
	return out
}

func TestParseJSON(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		numbers []string
		bad     []int
		syntax  bool
	}{
		{
			name: "array, one per line",
			in: `[
{"number":"+12125550001","created_date":"2026-03-01","violation_date":"2026-02-28","consumer_state":"NY","subject":"Reducing your debt","robocall":"yes"},
{"number":2125550002,"created_date":"2026-03-01 10:22:00","robocall":"no"},
{"number":"","created_date":"2026-03-01"},
{"number":"5551234","created_date":"2026-03-01"},
{"number":"2125550003","created_date":"yesterday"},
{"number":"2125550004"},
"not an object",
{"number":"+442079460000","violation_date":"2026-03-01T09:00:00Z","robocall":true},
{"number":"011 44 20 7946 0001","created_date":"2026-03-01"}
]`,
			numbers: []string{"+12125550001", "+12125550002", "+442079460000", "+442079460001"},
			bad:     []int{4, 5, 6, 7, 8},
		},
		{
			name:    "wrapper object",
			in:      `{"meta":{"count":2},"data":[{"number":"2125550001","created_date":"2026-03-01"},{"number":"2125550002","created_date":"2026-03-01"}]}`,
			numbers: []string{"+12125550001", "+12125550002"},
		},
		{
			name: "FTC API JSON:API shape",
			in: `{"data":[{"type":"dnc_complaint","id":"1","attributes":{"company-phone-number":"2125550001","created-date":"2026-03-01 00:00:06",
"violation-date":"2026-02-27 15:00:00","consumer-state":"Texas","subject":"Vehicles","recorded-message-or-robocall":"Y"}}]}`,
			numbers: []string{"+12125550001"},
		},
		{
			name:    "one object per line",
			in:      "{\"number\":\"2125550001\",\"created_date\":\"2026-03-01\"}\n{\"number\":\"x\",\"created_date\":\"2026-03-01\"}\n{\"number\":\"2125550002\",\"created_date\":\"2026-03-01\"}\n",
			numbers: []string{"+12125550001", "+12125550002"},
			bad:     []int{2},
		},
		{name: "empty file"},
		{name: "empty array", in: "[]"},
		{name: "half-written body", in: `[{"number":"2125550001","created_date":"2026-03-01"},{"number":"21255`, syntax: true},
		{name: "not JSON", in: "<html>502 Bad Gateway</html>", syntax: true},
		{name: "trailing junk", in: `[] []`, syntax: true},
		{name: "a bare string", in: `"hello"`, syntax: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := parseString(tt.in, JSON)
			if tt.syntax {
				if !errors.Is(p.err, ErrSyntax) {
					t.Fatalf("err = %v, want ErrSyntax", p.err)
				}
				return
			}
			if p.err != nil {
				t.Fatal(p.err)
			}
			if got := numbers(p.reports); !slices.Equal(got, tt.numbers) {
				t.Fatalf("numbers = %v, want %v", got, tt.numbers)
			}
			if got := badLines(p.st); !slices.Equal(got, tt.bad) {
				t.Fatalf("bad lines = %v (%v), want %v", got, p.st.Errors, tt.bad)
			}
			if p.st.Rows != len(tt.numbers)+len(tt.bad) || p.st.Accepted != len(tt.numbers) || p.st.Rejected != len(tt.bad) {
				t.Fatalf("stats = %+v", p.st)
			}
		})
	}
}

func TestParseJSONFields(t *testing.T) {
	p := parseString(`[{"number":"+12125550001","created_date":"2026-03-01","violation_date":"2026-02-28","consumer_state":"NY","subject":" Debt ","robocall":"Yes"}]`, JSON)
	if p.err != nil || len(p.reports) != 1 {
		t.Fatal(p.err, p.reports)
	}
	r := p.reports[0]
	if r.State != "NY" || r.Subject != "Debt" || !r.Robocall || r.Created.Format("2006-01-02") != "2026-03-01" || r.Violation.Format("2006-01-02") != "2026-02-28" {
		t.Fatalf("report = %+v", r)
	}
}

const ftcHeader = "Company_Phone_Number,Created_Date,Violation_Date,Consumer_City,Consumer_State,Consumer_Area_Code,Subject,Recorded_Message_Or_Robocall\n"

func TestParseFTC(t *testing.T) {
	in := ftcHeader +
		"2125550001,2026-03-01 00:00:06,2026-02-28 15:36:00,New York,New York,212,Reducing your debt (credit cards, mortgage, student loans),Y\n" + // 2
		",2026-03-01 00:00:07,2026-02-28 15:36:00,Austin,Texas,512,Other,N\n" + // 3 empty number
		"+12125550002,2026-03-01 00:01:00,,Austin,Texas,512,\"Vehicles, \"\"warranty\"\"\",Y\n" + // 4 +1 prefix, quoted subject
		"5551234,2026-03-01 00:01:00,,,,,Other,N\n" + // 5 seven digits
		"1234567890123456,2026-03-01 00:01:00,,,,,Other,N\n" + // 6 sixteen digits
		"12125550003,3/1/2026 0:02,,,,,Other,N\n" + // 7 leading 1, US date
		"2125550004,not a date,,,,,Other,N\n" + // 8 bad date
		"(212) 555-0005,2026-03-01,,,,,Other\n" + // 9 short row, no robocall column
		"1-800-FLOWERS,2026-03-01,,,,,Other,N\n" + // 10 letters
		"\n" + // blank line
		"0000000000,2026-03-01,,,,,Other,N\n" + // 12 zeros
		"\"2125550006,2026-03-01\n" // 13 unterminated quote
	p := parseString(in, FTC)
	if p.err != nil {
		t.Fatal(p.err)
	}
	want := []string{"+12125550001", "+12125550002", "+12125550003", "+12125550005"}
	if got := numbers(p.reports); !slices.Equal(got, want) {
		t.Fatalf("numbers = %v, want %v", got, want)
	}
	if got, want := badLines(p.st), []int{3, 5, 6, 8, 10, 12, 13}; !slices.Equal(got, want) {
		t.Fatalf("bad lines = %v (%v), want %v", got, p.st.Errors, want)
	}
	if !errors.Is(p.st.Errors[0], ErrNoNumber) || !errors.Is(p.st.Errors[1], ErrBadNumber) || !errors.Is(p.st.Errors[3], ErrBadDate) {
		t.Fatalf("errors = %v", p.st.Errors)
	}
	if !p.reports[0].Robocall || p.reports[2].Robocall || !p.reports[1].Robocall {
		t.Fatalf("robocall flags wrong: %+v", p.reports)
	}
	if p.reports[1].Subject != `Vehicles, "warranty"` || p.reports[0].Subject != "Reducing your debt (credit cards, mortgage, student loans)" {
		t.Fatalf("subject = %q", p.reports[1].Subject)
	}
}

func TestParseFTCNoHeader(t *testing.T) {
	p := parseString("2125550001,2026-03-01\n", FTC)
	if !errors.Is(p.err, ErrSyntax) {
		t.Fatalf("err = %v, want ErrSyntax for a file without the FTC header", p.err)
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"json": JSON, "JSON": JSON, "ftc": FTC, "csv": FTC} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil {
		t.Error("ParseFormat(xml) accepted")
	}
}
