package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	// The host's configuration, if it has one, is not the tests'.
	systemConfig = "/nonexistent/callscreen.yaml"
	os.Exit(m.Run())
}

func TestVersionAndUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "callscreen ") {
		t.Fatalf("version: code %d out %q err %q", code, out.String(), errb.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"nonsense"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), `unknown command "nonsense"`) {
		t.Fatalf("unknown command: code %d err %q", code, errb.String())
	}
}
