package lists

import (
	"strings"
	"testing"
)

// FuzzParseEntry: any text either fails cleanly or gives an entry whose
// file syntax reads back as the same entry.
func FuzzParseEntry(f *testing.F) {
	for _, s := range []string{
		"+12125551234", "(212) 555-1234", "911", "+1900*", "212555*", "020*",
		"+12125550100..+12125550199", "name:*CAR WARRANTY*", "name:?", "..", "+*", "name:", "*", "+1 (800) *",
		"1-800-FLOWERS", "+44 20 7946 0000", "\x00", "name:\xff\xfe",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseEntry(s, "US")
		if err != nil {
			return
		}
		again, err := ParseEntry(e.String(), "US")
		if err != nil {
			t.Fatalf("ParseEntry(%q) = %q, which does not parse again: %v", s, e.String(), err)
		}
		if again.Kind != e.Kind || again.Value != e.Value || again.High != e.High {
			t.Fatalf("ParseEntry(%q) = %+v, read back as %+v", s, e, again)
		}
		if e.Kind == Name {
			matchGlob(e.Value, strings.ToUpper(s)) // must not hang or panic
		}
	})
}

// FuzzReadCSV: no input panics, and every entry read is one Apply accepts.
func FuzzReadCSV(f *testing.F) {
	f.Add("number,description\n2125550001,x\n")
	f.Add("tenant,list,entry,note,added_by,added,expires\nacme,block,+1900*,\"a, \"\"b\"\"\",,2026-01-01,\n")
	f.Add("\"unterminated\n2125550001\n")
	f.Add("entry\nname:*X*\n+1..+2\n")
	f.Fuzz(func(t *testing.T, in string) {
		_, _, err := ReadCSV(strings.NewReader(in), CSVOptions{}, func(e Entry) error {
			if err := checkChange(&Change{Entry: e}); err != nil {
				t.Fatalf("ReadCSV gave an entry Apply refuses: %+v: %v", e, err)
			}
			return nil
		})
		if err != nil && !strings.Contains(err.Error(), "header") {
			t.Fatalf("ReadCSV on a string reader failed: %v", err)
		}
	})
}
