// Package e2e holds callscreen's end-to-end tests: the real binary runs
// `callscreen serve` on loopback with a configuration written for the
// test, and calls are placed through the simulated Asterisk (agi/agitest)
// and through `callscreen call`, as an operator would. The lifecycle tests
// signal it (SIGHUP reload, SIGTERM drain of FastAGI and ARI calls); the
// service tests hold it to its lifecycle (--check-config refuses what
// serve refuses, one server per data_dir, signals during start-up held
// there by a FIFO, a provider's Retry-After hold across SIGHUP); and
// the documentation tests run the README's tour and the guides in docs/
// with bash, checking every output they show (doctest_test.go says how
// blocks are marked).
//
// The tests must never need anything but the binary they build, bash,
// curl, a redis-server (internal/redistest), loopback and temporary
// directories, and they never touch the fixed ports 4573 or 8089 except in
// the one test of the no-configuration defaults, which is skipped when
// those ports are taken: the documents' fixed addresses are replaced by
// free ports.
package e2e
