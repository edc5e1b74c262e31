// Package timingtest helps tests about time on a loaded machine: waiting
// for a condition instead of sleeping, bounding a call only to catch a
// hang, and a server that accepts connections and never answers (and
// says exactly how many it was given).
//
// It is for tests only and must never be imported by production code; it
// must never make a test pass or fail on timing alone: no fixed sleep
// standing in for a condition, no bound tight enough that a busy machine
// reaches it. How fast something is belongs in a benchmark.
package timingtest
