// Package redistest runs a real redis-server for tests, on a free loopback
// port, in a temporary directory, with nothing persisted.
//
// When redis-server is not installed the test is skipped with a loud
// message, unless the CI environment variable is set: then it fails, so CI
// can never silently skip the Redis paths.
//
// It is for tests only and must never be imported by production code; it
// must never touch a Redis it did not start (no fixed port, no data
// directory outside the test's own).
package redistest
