// Package mariadbtest runs a real MariaDB server (mariadbd, from Debian's
// mariadb-server) for tests: its own data directory and socket in a
// temporary directory, a free loopback port, stopped when the test ends.
//
// When mariadbd is not installed the test is skipped with a loud message,
// unless the CI environment variable is set: then it fails, so CI can never
// silently skip the database paths (scripts/install-test-deps installs
// mariadb-server).
//
// It is for tests only and must never be imported by production code; it
// must never touch a database server it did not start (no fixed port, no
// system data directory, no system socket).
package mariadbtest
