// Package loadtest measures the FastAGI layer on loopback: sessions per
// second and per-session latency for a screening-shaped handler (GET
// VARIABLE and two SET VARIABLE), against a minimal hand-written server
// doing the same three commands, with simulated Asterisk callers from
// agitest; and the memory each held session costs the server.
//
// It is used by the Go benchmarks in agi and by "callscreen-bench agi". It
// must never run unbounded: every run stops at a session count or a
// duration, whichever comes first.
package loadtest
