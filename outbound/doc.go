// Package outbound judges the health of our own outbound numbers from
// their call detail records, the way carriers' analytics do before they
// label a number "Spam Likely": a high share of very short answered calls,
// many calls to unreachable (unallocated, disconnected) numbers, and a high
// volume per day.
//
// An Aggregator takes CDR rows (cdr.Record) from any reader and counts
// calls, not rows: of the rows one call leaves (Local channel halves, the
// far end's own leg, one row per Dial attempt) only the row that placed the
// call counts (lastapp Dial, or a configured outbound context), once per
// call (linkedid, else uniqueid), keeping the attempt that got furthest.
// Counts are kept per number and per day, so a long-running aggregator
// slides its window by dropping whole days; distinct destinations are a
// HyperLogLog sketch, so memory depends on the numbers and days kept, not
// on how many rows were read. Report turns the counts into shares, flags
// the shares that cross their thresholds and says in plain words what a
// carrier is likely to conclude.
//
// The package is pure: no I/O, no clock of its own (callers pass the
// time), no logging. It is about calls we place; it must never be asked
// about, or affect, an inbound call or a screening decision.
package outbound
