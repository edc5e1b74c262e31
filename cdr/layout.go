package cdr

import (
	"fmt"
	"strings"
)

// Layout is the column layout of a Master.csv, set by cdr.conf's [csv]
// section. cdr_csv writes 16 columns, then uniqueid when loguniqueid=yes,
// userfield when loguserfield=yes, and peeraccount, linkedid, sequence
// when newcdrcolumns=yes (cdr/cdr_csv.c, build_csv_record).
type Layout struct {
	UniqueID   bool // loguniqueid
	UserField  bool // loguserfield
	NewColumns bool // newcdrcolumns
}

// DefaultLayout is what Asterisk's sample cdr.conf turns on: uniqueid and
// userfield, 18 columns.
var DefaultLayout = Layout{UniqueID: true, UserField: true}

// baseColumns are the columns every layout starts with.
var baseColumns = []string{
	"accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata",
	"start", "answer", "end", "duration", "billsec", "disposition", "amaflags",
}

// Columns lists the layout's columns in file order.
func (l Layout) Columns() []string {
	cols := append([]string(nil), baseColumns...)
	if l.UniqueID {
		cols = append(cols, "uniqueid")
	}
	if l.UserField {
		cols = append(cols, "userfield")
	}
	if l.NewColumns {
		cols = append(cols, "peeraccount", "linkedid", "sequence")
	}
	return cols
}

// String describes the layout as cdr.conf sets it, with its columns.
func (l Layout) String() string {
	yn := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	cols := l.Columns()
	return fmt.Sprintf("cdr.conf [csv] loguniqueid=%s loguserfield=%s newcdrcolumns=%s: %d columns (%s)",
		yn(l.UniqueID), yn(l.UserField), yn(l.NewColumns), len(cols), strings.Join(cols, ", "))
}

// LayoutError says that a file's rows do not have the layout's columns.
type LayoutError struct {
	Line   int64
	Got    int
	Layout Layout
}

func (e *LayoutError) Error() string {
	return fmt.Sprintf("line %d has %d columns; expected the layout %s; set outbound.csv.loguniqueid, loguserfield and newcdrcolumns as in your cdr.conf",
		e.Line, e.Got, e.Layout)
}
