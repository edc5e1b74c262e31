// Package citest decides what a test does when something real it needs (a
// program such as redis-server or chromium, root, a port) is missing: under
// CI it fails, elsewhere it is skipped, loudly.
//
// .ci/run sets CI=true after scripts/install-test-deps has installed every
// component, so there a missing one is a broken machine, not a choice, and
// a skipped test would pass a run that tested nothing. A developer without
// the component still gets every other test.
package citest

import (
	"fmt"
	"os"
	"testing"
)

// CI reports whether the tests run under CI: CI set to anything but "",
// "false" or "0".
func CI() bool {
	switch os.Getenv("CI") {
	case "", "false", "0":
		return false
	}
	return true
}

// Unavailable ends the test because what it needs is missing: under CI it
// fails with the message, elsewhere it skips with it. The message says
// what is missing and how to get it.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatalf("%s (CI is set: this test must run; scripts/install-test-deps installs what the tests need)", msg)
		return
	}
	t.Skipf("SKIPPED: %s", msg)
}

// Short skips a test that starts real components or many processes when
// go test runs with -short, except under CI, where every test runs.
func Short(t testing.TB, why string) {
	t.Helper()
	if testing.Short() && !CI() {
		t.Skipf("-short: %s", why)
	}
}
