package csvsafe

import "strconv"

// Cell returns s made inert for a spreadsheet: a cell starting with '=',
// '@', a tab or a carriage return, or with '+' or '-' and not a plain
// number, gets a leading apostrophe. Any other cell is returned as is.
// This is OWASP's "CSV injection" advice; numbers keep their sign so that
// E.164 callers stay readable and sortable.
func Cell(s string) string {
	if needs(s) {
		return "'" + s
	}
	return s
}

// Row applies Cell to every cell of row in place and returns it.
func Row(row []string) []string {
	for i := range row {
		row[i] = Cell(row[i])
	}
	return row
}

// Unescape undoes Cell: a cell that is an apostrophe followed by a cell
// Cell would have escaped loses the apostrophe. Anything else, including
// an apostrophe a person typed before ordinary text, is kept.
func Unescape(s string) string {
	if len(s) > 1 && s[0] == '\'' && needs(s[1:]) {
		return s[1:]
	}
	return s
}

func needs(s string) bool {
	if s == "" {
		return false
	}
	switch s[0] {
	case '=', '@', '\t', '\r':
		return true
	case '+', '-':
		_, err := strconv.ParseFloat(s, 64)
		return err != nil
	}
	return false
}
