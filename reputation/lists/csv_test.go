package lists

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/internal/csvsafe"
)

func readAll(t *testing.T, in string, opts CSVOptions) (string, []Entry, []LineError) {
	t.Helper()
	var got []Entry
	layout, bad, err := ReadCSV(strings.NewReader(in), opts, func(e Entry) error {
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return layout, got, bad
}

func TestReadCSV(t *testing.T) {
	added := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		in      string
		opts    CSVOptions
		layout  string
		entries []string // tenant list entry note by
		badRows []int
	}{
		{
			name:   "freepbx export",
			in:     "number,description\n2125550001,Ex Stalker Employee John\n\"(212) 555-0002\",\"a, quoted, note\"\nnot-a-number,x\n",
			layout: LayoutFreePBX,
			entries: []string{
				" block +12125550001 Ex Stalker Employee John csv-user",
				" block +12125550002 a, quoted, note csv-user",
			},
			badRows: []int{4},
		},
		{
			name:    "freepbx without header, with BOM and CRLF",
			in:      "\ufeff2125550001,one\r\n2125550002\r\n\r\n",
			layout:  LayoutFreePBX,
			entries: []string{" block +12125550001 one csv-user", " block +12125550002  csv-user"},
		},
		{
			name:    "freepbx rows to the allow list",
			in:      "number,description\n2125550001,clinic\n",
			opts:    CSVOptions{List: Allow},
			layout:  LayoutFreePBX,
			entries: []string{" allow +12125550001 clinic csv-user"},
		},
		{
			name: "native, columns in any order",
			in: "entry,list,note,tenant,expires,added_by\n" +
				"+12125550001,block,scam,acme,2026-12-31,bob\n" +
				"+1900*,,premium,,,\n" +
				"name:*WARRANTY*,block,,acme,,\n" +
				"+12125550100..+12125550199,allow,office,,2026-12-31T10:00:00Z,\n" +
				"+12125550003,grey,,,,\n" +
				"+12125550004,block,,,next week,\n" +
				"# a comment row\n" +
				"\"unterminated,block\n",
			layout: LayoutNative,
			entries: []string{
				"acme block +12125550001 scam bob",
				" block +1900* premium csv-user",
				"acme block name:*WARRANTY*  csv-user",
				" allow +12125550100..+12125550199 office csv-user",
			},
			badRows: []int{6, 7, 9},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.AddedBy, opts.Added = "csv-user", added
			told := 0
			opts.OnBad = func(LineError) { told++ }
			layout, got, bad := readAll(t, tt.in, opts)
			if told != len(bad) {
				t.Fatalf("OnBad told of %d bad rows, %d returned", told, len(bad))
			}
			if layout != tt.layout {
				t.Fatalf("layout = %s, want %s", layout, tt.layout)
			}
			var lines []string
			for _, e := range got {
				lines = append(lines, strings.Join([]string{e.Tenant, string(e.List), e.String(), e.Note, e.AddedBy}, " "))
				if e.Origin != "csv" || !e.Added.Equal(added) {
					t.Errorf("entry %s: origin %q added %v", e.String(), e.Origin, e.Added)
				}
			}
			if !slices.Equal(lines, tt.entries) {
				t.Fatalf("entries:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(tt.entries, "\n"))
			}
			var badLines []int
			for _, b := range bad {
				badLines = append(badLines, b.Line)
			}
			if !slices.Equal(badLines, tt.badRows) {
				t.Fatalf("bad rows on lines %v (%v), want %v", badLines, bad, tt.badRows)
			}
		})
	}
}

func TestReadCSVBadHeader(t *testing.T) {
	_, _, err := ReadCSV(strings.NewReader("phone,comment\n"), CSVOptions{}, func(Entry) error { return nil })
	if err != nil {
		t.Fatalf("a headerless-looking first row is data, not an error: %v", err)
	}
	_, _, err = ReadCSV(strings.NewReader("entry\n+12125550001\n"), CSVOptions{}, func(Entry) error { return errors.New("stop") })
	if err == nil || err.Error() != "stop" {
		t.Fatalf("fn error not returned: %v", err)
	}
}

func TestCSVRoundTrip(t *testing.T) {
	in := "tenant,list,entry,note,added_by,added,expires\n" +
		"acme,block,+12125550001,\"scam, \"\"urgent\"\"\",bob,2026-01-02T03:04:05Z,2026-12-31T00:00:00Z\n" +
		",allow,+1212777*,head office,,,\n" +
		",block,name:*WARRANTY*,,,,\n" +
		",block,+442079460000,london,,,\n"
	_, entries, bad := readAll(t, in, CSVOptions{})
	if len(bad) != 0 {
		t.Fatal(bad)
	}
	var out bytes.Buffer
	n, skipped, err := WriteCSV(&out, LayoutNative, "US", func(yield func(*Entry) bool) {
		for i := range entries {
			if !yield(&entries[i]) {
				return
			}
		}
	})
	if err != nil || n != 4 || skipped != 0 {
		t.Fatalf("WriteCSV = %d, %d, %v", n, skipped, err)
	}
	// The prefix starts with '+' and is not a number: a spreadsheet would
	// read it as a formula, so it is written escaped (and reads back as is).
	if want := strings.Replace(in, ",+1212777*,", ",'+1212777*,", 1); out.String() != want {
		t.Fatalf("round trip:\n%s\nwant:\n%s", out.String(), want)
	}
	if _, again, bad := readAll(t, out.String(), CSVOptions{}); len(bad) != 0 || len(again) != len(entries) || again[1] != entries[1] {
		t.Fatalf("export read back: %+v, bad %v", again, bad)
	}

	out.Reset()
	n, skipped, err = WriteCSV(&out, LayoutFreePBX, "US", func(yield func(*Entry) bool) {
		for i := range entries {
			if !yield(&entries[i]) {
				return
			}
		}
	})
	want := "number,description\n2125550001,\"scam, \"\"urgent\"\"\"\n+442079460000,london\n"
	if err != nil || n != 2 || skipped != 2 || out.String() != want {
		t.Fatalf("FreePBX export = %d, %d, %v:\n%s\nwant:\n%s", n, skipped, err, out.String(), want)
	}
	if _, _, err := WriteCSV(&out, "xml", "US", nil); err == nil {
		t.Fatal("unknown layout accepted")
	}
}

// TestWriteCSVEscapesFormulas: a note (or anything else) that a
// spreadsheet would run as a formula is written inert, and reads back as
// it was.
func TestWriteCSVEscapesFormulas(t *testing.T) {
	for _, note := range csvsafe.FormulaCases {
		t.Run(fmt.Sprintf("%q", note), func(t *testing.T) {
			e := Entry{List: Block, Kind: Number, Value: "+12125550001", Note: note}
			for _, layout := range []string{LayoutNative, LayoutFreePBX} {
				var out bytes.Buffer
				if _, _, err := WriteCSV(&out, layout, "US", func(yield func(*Entry) bool) { yield(&e) }); err != nil {
					t.Fatal(err)
				}
				rows, err := csv.NewReader(strings.NewReader(out.String())).ReadAll()
				if err != nil || len(rows) != 2 {
					t.Fatalf("%s: rows %q, %v", layout, rows, err)
				}
				noteCol := 3
				if layout == LayoutFreePBX {
					noteCol = 1
				}
				if got, want := rows[1][noteCol], "'"+note; got != want {
					t.Errorf("%s: note cell %q, want %q", layout, got, want)
				}
				_, back, bad := readAll(t, out.String(), CSVOptions{})
				// encoding/csv and the reader's TrimSpace may drop a
				// leading tab or CR; the apostrophe must not stay.
				if len(bad) != 0 || len(back) != 1 || strings.HasPrefix(back[0].Note, "'") || !strings.Contains(note, back[0].Note) {
					t.Errorf("%s: read back %+v, bad %v", layout, back, bad)
				}
			}
		})
	}
	// A prefix entry, which starts with '+' and is not a number, is
	// escaped too, and imports back as the same prefix.
	e := Entry{List: Block, Kind: Prefix, Value: "+1212555"}
	var out bytes.Buffer
	if _, _, err := WriteCSV(&out, LayoutNative, "US", func(yield func(*Entry) bool) { yield(&e) }); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), ",'+1212555*,") {
		t.Errorf("prefix not escaped:\n%s", out.String())
	}
	_, back, bad := readAll(t, out.String(), CSVOptions{})
	if len(bad) != 0 || len(back) != 1 || back[0].Kind != Prefix || back[0].Value != "+1212555" {
		t.Errorf("prefix read back %+v, bad %v", back, bad)
	}
}
