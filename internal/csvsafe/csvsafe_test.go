package csvsafe

import "testing"

func TestCell(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"plain note", "plain note"},
		{"+12125551234", "+12125551234"},
		{"-42", "-42"},
		{"911", "911"},
		{`=HYPERLINK("http://x","click")`, `'=HYPERLINK("http://x","click")`},
		{"+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"},
		{"-2+3+cmd", "'-2+3+cmd"},
		{"@SUM(A1:A9)", "'@SUM(A1:A9)"},
		{"\t=1+1", "'\t=1+1"},
		{"\r=1+1", "'\r=1+1"},
		{"+1212555*", "'+1212555*"},
		{"it's fine", "it's fine"},
	} {
		got := Cell(tc.in)
		if got != tc.want {
			t.Errorf("Cell(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if back := Unescape(got); back != tc.in {
			t.Errorf("Unescape(Cell(%q)) = %q", tc.in, back)
		}
	}
	// An apostrophe a person typed is not removed.
	for _, s := range []string{"'quoted'", "'", "'12"} {
		if got := Unescape(s); got != s {
			t.Errorf("Unescape(%q) = %q, want it unchanged", s, got)
		}
	}
}

func TestRow(t *testing.T) {
	row := Row([]string{"=1", "ok", "@x"})
	if row[0] != "'=1" || row[1] != "ok" || row[2] != "'@x" {
		t.Fatalf("Row = %q", row)
	}
}
