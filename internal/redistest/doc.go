// Package redistest runs a real redis-server for tests, on a free loopback
// port, in a temporary directory, with nothing persisted; StartSentinel and
// StartCluster run the Sentinel (a master, a replica, three sentinels) and
// Cluster (masters with replicas, joined by redis-cli --cluster create)
// topologies the same way, with KillMaster to test failover; Slow puts a
// proxy that delays every reply in front of one. Every wait is
// bounded (TopologyTimeout) and every process is killed when the test ends.
//
// When redis-server is not installed the test is skipped with a loud
// message, unless the CI environment variable is set: then it fails, so CI
// can never silently skip the Redis paths.
//
// It is for tests only and must never be imported by production code; it
// must never touch a Redis it did not start (no fixed port, no data
// directory outside the test's own).
package redistest
