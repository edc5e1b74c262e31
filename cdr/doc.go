// Package cdr reads Asterisk call detail records as cdr_csv writes them to
// Master.csv: a whole file at once (ReadCSV), or a file followed as it
// grows (Follower), across logrotate's rename and copytruncate.
//
// Record is the one row type; the MariaDB reader for FreePBX's
// asteriskcdrdb.cdr (package cdr/cdrdb) fills the same type. The column
// layout depends on cdr.conf's [csv] options (loguniqueid, loguserfield,
// newcdrcolumns, see Layout); a file whose first row has another number of
// columns is refused with an error that names the layout expected. A
// malformed row later in a file (wrong column count, a bad time or number,
// broken quoting) is counted and skipped with its line number; nothing in a
// field (a caller name with quotes, commas or newlines) can shift the
// columns, because cdr_csv doubles every quote inside a field and
// encoding/csv undoes exactly that.
//
// The package only reads: it never writes, moves or truncates a CDR file,
// never holds a lock on it, and has nothing to do with inbound calls or
// screening decisions, which must never depend on it.
package cdr
