// Package cdrgen writes synthetic Master.csv files in the layout Asterisk's
// cdr_csv writes (loguniqueid=yes, loguserfield=yes), shaped like the
// fixture's calls: for each outbound call the Dial row, the Local
// channel's ;1 half and the far end's own leg, with a mix of answered
// (short and long), busy, failed, unallocated and unanswered calls.
//
// It is for benchmarks and tests only; it must never write to a real
// Asterisk log directory.
package cdrgen
