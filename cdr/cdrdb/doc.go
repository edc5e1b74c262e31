// Package cdrdb reads call detail records from FreePBX's CDR table
// (asteriskcdrdb.cdr in MariaDB or MySQL, written by cdr_adaptive_odbc)
// through database/sql and the go-sql-driver/mysql driver, into the same
// cdr.Record the Master.csv readers fill.
//
// A Reader reads incrementally: the first Read takes every row from a
// starting time on, each later Read the rows dated from the newest
// calldate seen, less a look-back. The look-back is needed because
// Asterisk writes a CDR when the call ends but dates it (calldate) when the
// call started: a long call's row arrives after shorter calls that started
// later. Rows read twice inside the look-back are recognised by a
// fingerprint and skipped. Each Read is one query whose rows are streamed,
// so memory does not grow with the table.
//
// The table's columns are discovered once; a table without the columns a
// CDR needs is refused with an error naming them. A row the reader cannot
// use (a NULL calldate, an unknown disposition) is counted and skipped with
// its uniqueid. The password is a secret: it is never part of an error or
// a log line (Options.Redacted).
//
// The package only reads (SELECT), needs no privilege beyond SELECT on the
// table, and has nothing to do with inbound calls: an unreachable database
// is an error for the caller to report, never a reason to delay or change
// the screening of a call.
package cdrdb
