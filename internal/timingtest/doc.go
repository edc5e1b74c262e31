// Package timingtest helps tests about time on a loaded machine: waiting
// for a condition instead of sleeping, bounding how long a call took while
// discounting what the scheduler adds on its own, and a server that
// accepts connections and never answers.
//
// It is for tests only and must never be imported by production code; it
// must never make a test pass on timing alone (a fixed sleep standing in
// for a condition).
package timingtest
