package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/audit"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/policy"
)

// writeLog writes a closed decision log of n records into a new directory.
func writeLog(t *testing.T, n int) (dir string, files []string) {
	t.Helper()
	dir = t.TempDir()
	l, err := audit.Open(audit.Options{Dir: dir, CheckpointEvery: 5, FsyncInterval: time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		r := &decision.Result{ID: fmt.Sprintf("id-%d", i), Time: time.Now(), Caller: "+12125550100", Dialed: "+18005550100",
			Decision: policy.Decision{Action: policy.Block, Tier: policy.TierSpam, Reasons: []policy.Reason{policy.ListBlock}},
			Result:   policy.ResultBlock}
		if _, err := l.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, err = audit.Files(dir)
	if err != nil || len(files) != 1 {
		t.Fatalf("files %v %v", files, err)
	}
	return dir, files
}

func TestLogVerifyCommand(t *testing.T) {
	dir, files := writeLog(t, 12)
	data, _ := os.ReadFile(files[0])
	lines := bytes.SplitAfter(data, []byte("\n"))

	elsewhere := t.TempDir()
	copyTo := func(name string, content []byte) string {
		p := filepath.Join(elsewhere, name)
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tampered := bytes.Replace(data, []byte(`"id":"id-3"`), []byte(`"id":"id-X"`), 1)
	tamperedFile := copyTo("tampered.jsonl", tampered)
	cut := copyTo("cut.jsonl", bytes.Join(lines[:len(lines)-2], nil)) // last record and final checkpoint gone
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	otherPub := filepath.Join(t.TempDir(), "other.pub")
	if err := audit.WritePublicKey(otherPub, other.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	pub := audit.PublicKeyFile(filepath.Join(dir, audit.DefaultKeyName))
	// A directory whose head file is ahead of its log: truncated at a checkpoint.
	truncDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(truncDir, filepath.Base(files[0])), bytes.Join(lines[:6], nil), 0o600); err != nil {
		t.Fatal(err)
	}
	head, _ := os.ReadFile(filepath.Join(dir, audit.HeadFile))
	os.WriteFile(filepath.Join(truncDir, audit.HeadFile), head, 0o600)

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"directory", []string{dir}, 0, "OK: 1 files, 12 records (seq 1..12), 3 checkpoints, signatures by key"},
		{"file with its key beside it", []string{files[0]}, 0, "OK:"},
		{"flipped field", []string{"--pubkey", pub, tamperedFile}, 1, "tampered.jsonl:4 (offset"},
		{"cut at a line boundary", []string{"--pubkey", pub, cut}, 1, "records not covered by a checkpoint"},
		{"cut, allowed unsealed", []string{"--pubkey", pub, "--allow-unsealed", cut}, 0, "OK:"},
		{"another key", []string{"--pubkey", otherPub, dir}, 1, "checkpoint signed by another key"},
		{"truncated against its head", []string{"--pubkey", pub, truncDir}, 1, "log truncated"},
		{"truncated, head ignored", []string{"--pubkey", pub, "--no-head", truncDir}, 0, "OK:"},
		{"no key found", []string{tamperedFile}, 2, ""},
		{"chain only", []string{"--no-signatures", files[0]}, 0, "signatures NOT checked"},
		{"no files", nil, 2, ""},
		{"missing file", []string{filepath.Join(elsewhere, "nope")}, 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), append([]string{"log", "verify"}, tc.args...), &out, &errb)
			if code != tc.code || !strings.Contains(out.String(), tc.want) {
				t.Errorf("exit %d, want %d; stdout %q (want %q); stderr %q", code, tc.code, out.String(), tc.want, errb.String())
			}
		})
	}
}
