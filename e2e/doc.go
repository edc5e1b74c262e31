// Package e2e holds callscreen's end-to-end tests: the real binary runs
// `callscreen serve` on loopback with a configuration written for the
// test, and calls are placed through the simulated Asterisk (agi/agitest)
// and through `callscreen call`, as an operator would.
//
// The tests must never need anything but the binary they build, loopback
// and temporary directories, and they never touch the fixed ports 4573 or
// 8089 except in the one test of the no-configuration defaults, which is
// skipped when those ports are taken.
package e2e
