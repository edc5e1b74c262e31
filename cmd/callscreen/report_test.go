package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/callscreen/callscreen/internal/redistest"
	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/feedback"
)

// writeConfig writes a configuration; unless it says otherwise, its admin
// API is off, so the commands under test never reach a server that
// happens to listen on the default port.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	if !strings.Contains(yaml, "admin:") {
		yaml += "admin:\n  listen: \"\"\n"
	}
	p := filepath.Join(t.TempDir(), "callscreen.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runCmd(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestReportFile(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, "data_dir: "+dir+"\n")

	code, out, errOut := runCmd("report", "spam", "(212) 555-1234", "--note", "free cruise robocall", "--agent", "ann", "--config", cfg)
	if code != 0 || !strings.Contains(out, "reported +12125551234 as spam for tenant default ("+filepath.Join(dir, feedback.FileName)+")") {
		t.Fatalf("report spam: code %d out %q err %q", code, out, errOut)
	}
	code, out, _ = runCmd("report", "not-spam", "+12125550000", "--tenant", "acme", "--config", cfg)
	if code != 0 || !strings.Contains(out, "as not-spam for tenant acme") {
		t.Fatalf("report not-spam: code %d out %q", code, out)
	}

	// serve's source, over the same file, sees both.
	store, err := feedback.OpenFile(filepath.Join(dir, feedback.FileName))
	if err != nil {
		t.Fatal(err)
	}
	src := feedback.NewSource(store, feedback.SourceOptions{})
	v, err := src.Lookup(context.Background(), reputation.Query{Caller: number.Parse("+12125551234", "US")})
	if err != nil || !slices.Equal(v.Reasons, []policy.Reason{policy.CallerReportedSpam}) || v.Raw["note"] != "free cruise robocall" {
		t.Fatalf("source after report: %+v, %v", v, err)
	}
	v, _ = src.Lookup(context.Background(), reputation.Query{Tenant: "acme", Caller: number.Parse("+12125550000", "US")})
	if !slices.Equal(v.Reasons, []policy.Reason{policy.CallerReportedOK}) {
		t.Fatalf("acme not-spam report: %v", v.Reasons)
	}

	code, out, _ = runCmd("report", "export", "--config", cfg)
	if code != 0 || !strings.HasPrefix(out, "number,kind,time,tenant,agent,decision_id,note\n+12125551234,spam,") || strings.Contains(out, "+12125550000") {
		t.Fatalf("export: code %d out %q", code, out)
	}
	code, out, _ = runCmd("report", "export", "--tenant", "acme", "--format", "jsonl", "--config", cfg)
	if code != 0 || !strings.Contains(out, `"number":"+12125550000"`) {
		t.Fatalf("export acme jsonl: code %d out %q", code, out)
	}

	code, out, _ = runCmd("report", "clear", "+12125551234", "--config", cfg)
	if code != 0 || !strings.Contains(out, "withdrew the report on +12125551234") {
		t.Fatalf("clear: code %d out %q", code, out)
	}
	// List reads the file as it is now (Get within a second).
	if list, err := store.List(context.Background(), ""); err != nil || len(list) != 0 {
		t.Fatalf("report still there after clear: %+v, %v", list, err)
	}
}

func TestReportRedis(t *testing.T) {
	srv := redistest.Start(t)
	cfg := writeConfig(t, "data_dir: "+t.TempDir()+"\nredis:\n  addrs: [\""+srv.Addr()+"\"]\n")
	code, out, errOut := runCmd("report", "spam", "+12125551234", "--config", cfg)
	if code != 0 || !strings.Contains(out, "(redis single)") {
		t.Fatalf("report: code %d out %q err %q", code, out, errOut)
	}
	if r, err := srv.Do("HEXISTS", feedback.Key(""), "+12125551234"); err != nil || r != ":1\r\n" {
		t.Fatalf("report not in Redis: %q %v", r, err)
	}
}

func TestReportBadInput(t *testing.T) {
	cfg := writeConfig(t, "data_dir: "+t.TempDir()+"\n")
	tests := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"no verb", []string{"report"}, 2, "usage:"},
		{"bad kind", []string{"report", "maybe", "+12125551234", "--config", cfg}, 2, `report kind "maybe": want spam or not-spam`},
		{"missing number", []string{"report", "spam", "--config", cfg}, 2, "usage:"},
		{"too many", []string{"report", "spam", "+12125551234", "+12125550000", "--config", cfg}, 2, "usage:"},
		{"not a number", []string{"report", "spam", "anonymous", "--config", cfg}, 1, `"anonymous" is not a phone number`},
		{"bad format", []string{"report", "export", "--format", "xml", "--config", cfg}, 1, `export format "xml": want csv or jsonl`},
		{"bad config", []string{"report", "spam", "+12125551234", "--config", filepath.Join(t.TempDir(), "missing.yaml")}, 1, "callscreen report: config "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCmd(tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.err) {
				t.Fatalf("code %d stderr %q; want %d and %q", code, errOut, tt.code, tt.err)
			}
		})
	}
}
