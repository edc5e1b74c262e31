package citest

import "testing"

func TestCI(t *testing.T) {
	for v, want := range map[string]bool{"": false, "false": false, "0": false, "true": true, "1": true, "yes": true} {
		t.Setenv("CI", v)
		if got := CI(); got != want {
			t.Errorf("CI=%q: %v, want %v", v, got, want)
		}
	}
}

// recorder stands in for a test to see whether Unavailable fails or skips.
type recorder struct {
	testing.TB
	failed, skipped bool
	msg             string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Fatalf(format string, a ...any) { r.failed = true; r.msg = format }
func (r *recorder) Skipf(format string, a ...any)  { r.skipped = true; r.msg = format }

func TestUnavailable(t *testing.T) {
	for _, ci := range []string{"true", ""} {
		t.Setenv("CI", ci)
		r := &recorder{TB: t}
		Unavailable(r, "redis-server not found")
		if r.failed != (ci == "true") || r.skipped != (ci == "") {
			t.Errorf("CI=%q: failed %v, skipped %v; want a failure under CI, a skip elsewhere", ci, r.failed, r.skipped)
		}
	}
}
