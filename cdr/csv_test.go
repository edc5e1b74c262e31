package cdr

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

const fixture = "testdata/Master-outbound.csv"

func collect(t *testing.T, path string, opts CSVOptions) ([]Record, Stats, error) {
	t.Helper()
	var out []Record
	st, err := ReadCSVFile(path, opts, func(r *Record) error {
		out = append(out, *r)
		return nil
	})
	return out, st, err
}

// TestFixture replays the Master.csv Asterisk 22.10.1 wrote.
func TestFixture(t *testing.T) {
	recs, st, err := collect(t, fixture, CSVOptions{Layout: DefaultLayout})
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 17 || st.Malformed != 0 || len(recs) != 17 {
		t.Fatalf("rows %d malformed %d records %d; want 17, 0, 17", st.Rows, st.Malformed, len(recs))
	}
	dials := 0
	for _, r := range recs {
		if r.LastApp == "Dial" {
			dials++
		}
	}
	if dials != 9 {
		t.Errorf("Dial rows: %d, want 9 (one per call)", dials)
	}
	tests := []struct {
		line int
		want Record
	}{
		{2, Record{Line: 2, Src: "+15551230001", Dst: "12125550002", DContext: "outbound", CLID: `"Acme Sales" <+15551230001>`,
			Channel: "Local/12125550002@outbound-00000005;2", DstChannel: "Local/answer-short@far-end-00000006;1",
			LastApp: "Dial", LastData: "Local/answer-short@far-end,3",
			Start: time.Date(2026, 12, 2, 1, 43, 59, 0, time.UTC), Answer: time.Date(2026, 12, 2, 1, 43, 59, 0, time.UTC),
			End: time.Date(2026, 12, 2, 1, 44, 0, 0, time.UTC), Duration: 1, BillSec: 1, Disposition: Answered,
			AMAFlags: "DOCUMENTATION", UniqueID: "1796175839.11"}},
		{3, Record{Line: 3, Dst: "12125550002", DContext: "outbound", CLID: `"" <>`, Channel: "Local/12125550002@outbound-00000005;1",
			LastApp: "Wait", LastData: "6", Start: time.Date(2026, 12, 2, 1, 43, 59, 0, time.UTC),
			Answer: time.Date(2026, 12, 2, 1, 43, 59, 0, time.UTC), End: time.Date(2026, 12, 2, 1, 44, 0, 0, time.UTC),
			Duration: 1, BillSec: 1, Disposition: Answered, AMAFlags: "DOCUMENTATION", UniqueID: "1796175839.10"}},
		{4, Record{Line: 4, Src: "+15551230001", Dst: "12125550004", DContext: "outbound", CLID: `"Acme Sales" <+15551230001>`,
			Channel: "Local/12125550004@outbound-00000009;2", DstChannel: "Local/busy@far-end-0000000a;1",
			LastApp: "Dial", LastData: "Local/busy@far-end,3", Start: time.Date(2026, 12, 2, 1, 44, 0, 0, time.UTC),
			End: time.Date(2026, 12, 2, 1, 44, 0, 0, time.UTC), Disposition: Busy, AMAFlags: "DOCUMENTATION", UniqueID: "1796175840.19"}},
		{14, Record{Line: 14, Src: "+15551230001", Dst: "12125550008", DContext: "outbound", CLID: `"Acme Sales" <+15551230001>`,
			Channel: "Local/12125550008@outbound-00000011;2", DstChannel: "Local/noanswer@far-end-00000012;1",
			LastApp: "Dial", LastData: "Local/noanswer@far-end,3", Start: time.Date(2026, 12, 2, 1, 44, 3, 0, time.UTC),
			End: time.Date(2026, 12, 2, 1, 44, 6, 0, time.UTC), Duration: 3, Disposition: NoAnswer, AMAFlags: "DOCUMENTATION",
			UniqueID: "1796175843.35"}},
	}
	for _, tt := range tests {
		got := recs[tt.line-1]
		if got != tt.want {
			t.Errorf("line %d:\n got %+v\nwant %+v", tt.line, got, tt.want)
		}
	}
}

// TestLayoutMismatch: a file whose rows do not have the configured layout
// is refused, naming the layout expected and the columns found.
func TestLayoutMismatch(t *testing.T) {
	for _, l := range []Layout{{}, {UniqueID: true}, {UniqueID: true, UserField: true, NewColumns: true}} {
		_, _, err := collect(t, fixture, CSVOptions{Layout: l})
		var le *LayoutError
		if !errors.As(err, &le) {
			t.Fatalf("layout %+v: err %v, want a *LayoutError", l, err)
		}
		msg := err.Error()
		for _, want := range []string{"line 1 has 18 columns", l.String(), "outbound.csv"} {
			if !strings.Contains(msg, want) {
				t.Errorf("layout %+v: %q does not say %q", l, msg, want)
			}
		}
	}
	if got := DefaultLayout.String(); !strings.HasPrefix(got, "cdr.conf [csv] loguniqueid=yes loguserfield=yes newcdrcolumns=no: 18 columns (accountcode, src,") {
		t.Errorf("DefaultLayout = %s", got)
	}
}

const goodRow = `"","+15551230001","12125550002","outbound","""Acme"" <+15551230001>","Local/a;2","","Dial","x","2026-12-02 01:43:59","2026-12-02 01:43:59","2026-12-02 01:44:00",1,1,"ANSWERED","DOCUMENTATION","1.1",""` + "\n"

// TestMalformedRows: every malformed row is counted and skipped with its
// line; good rows around it are read.
func TestMalformedRows(t *testing.T) {
	swap := func(old, new string) string { return strings.Replace(goodRow, old, new, 1) }
	rows := []string{
		goodRow,
		`"a","b"` + "\n",                         // 2: wrong column count after a good row
		swap("2026-12-02 01:43:59", "yesterday"), // 3: bad start
		swap(`,1,1,"ANSWERED"`, `,x,1,"ANSWERED"`),          // 4: bad duration
		swap(`"ANSWERED"`, `"MAYBE"`),                       // 5: bad disposition
		`"","x"y","z"` + "\n",                               // 6: bare quote
		swap(`"""Acme"" <+15551230001>"`, "\"two\nlines\""), // 7-8: a quoted newline, good
		"\n", // 9: an empty line is skipped by encoding/csv
		swap("2026-12-02 01:44:00", "2026-04-31 01:44:00"), // 10: no such day
		goodRow, // 11
	}
	path := t.TempDir() + "/Master.csv"
	if err := os.WriteFile(path, []byte(strings.Join(rows, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	recs, st, err := collect(t, path, CSVOptions{Layout: DefaultLayout})
	if err != nil {
		t.Fatal(err)
	}
	var lines []int64
	for _, r := range recs {
		lines = append(lines, r.Line)
	}
	if len(lines) != 3 || lines[0] != 1 || lines[1] != 7 || lines[2] != 11 {
		t.Errorf("good rows at lines %v, want [1 7 11]", lines)
	}
	if recs[1].CLID != "two\nlines" {
		t.Errorf("quoted newline: clid %q", recs[1].CLID)
	}
	wantBad := []string{"line 2", "line 3", "line 4", "line 5", "line 6", "line 10"}
	if st.Malformed != int64(len(wantBad)) || len(st.Bad) != len(wantBad) {
		t.Fatalf("malformed %d %+v; want %v", st.Malformed, st.Bad, wantBad)
	}
	for i, w := range wantBad {
		if st.Bad[i].Where != w {
			t.Errorf("bad row %d at %s, want %s (%s)", i, st.Bad[i].Where, w, st.Bad[i].Err)
		}
	}
	if !strings.Contains(st.Bad[1].Err, `start "yesterday"`) || !strings.Contains(st.Bad[3].Err, `disposition "MAYBE"`) {
		t.Errorf("errors do not say what was wrong: %+v", st.Bad)
	}
}

// TestHostileFields: quotes, commas and newlines in a caller name cannot
// shift the columns (cdr_csv doubles quotes inside a field).
func TestHostileFields(t *testing.T) {
	for _, name := range []string{`a","b","c`, `"","","","`, "x\ny", `,,,,,`, `"ANSWERED"`} {
		clid := `"` + strings.ReplaceAll(name+" <+15551230001>", `"`, `""`) + `"`
		row := strings.Replace(goodRow, `"""Acme"" <+15551230001>"`, clid, 1)
		recs, st, err := func() ([]Record, Stats, error) {
			var out []Record
			st, err := ReadCSV(strings.NewReader(row), CSVOptions{Layout: DefaultLayout}, func(r *Record) error {
				out = append(out, *r)
				return nil
			})
			return out, st, err
		}()
		if err != nil || st.Malformed != 0 || len(recs) != 1 {
			t.Fatalf("name %q: %v %+v", name, err, st)
		}
		if recs[0].CLID != name+" <+15551230001>" || recs[0].Src != "+15551230001" || recs[0].Disposition != Answered || recs[0].UniqueID != "1.1" {
			t.Errorf("name %q: %+v", name, recs[0])
		}
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"2026-12-02 01:43:59", true}, {"", true}, {"2026-12-02T01:43:59", false}, {"2026-13-02 01:43:59", false},
		{"2026-02-30 01:43:59", false}, {"2026-12-02 24:00:00", false}, {"+026-12-02 01:43:59", false}, {"2026-12-02 01:43", false},
	}
	for _, tt := range tests {
		_, err := parseTime(tt.in, time.UTC)
		if (err == nil) != tt.ok {
			t.Errorf("parseTime(%q): %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}
