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

// writeRotatedLog writes a closed log of n records over several files,
// with a witness file beside it, and returns the directory, its files and
// the witness file.
func writeRotatedLog(t *testing.T, n int) (dir string, files []string, witness string) {
	t.Helper()
	dir = t.TempDir()
	witness = filepath.Join(t.TempDir(), "witness.jsonl")
	l, err := audit.Open(audit.Options{Dir: dir, CheckpointEvery: 4, RotateSize: 6 << 10, FsyncInterval: time.Millisecond,
		Witness: audit.FileWitness{Path: witness}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		r := &decision.Result{ID: fmt.Sprintf("id-%d", i), Time: time.Now(), Caller: "+12125550100", Dialed: "+18005550100",
			CallerName: strings.Repeat("N", 700), Decision: policy.Decision{Action: policy.Allow, Tier: policy.TierUnknown},
			Result: policy.ResultAllow}
		if _, err := l.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, err = audit.Files(dir)
	if err != nil || len(files) < 3 {
		t.Fatalf("files %v %v", files, err)
	}
	return dir, files, witness
}

// TestLogVerifyStartsAndBreaks: the command proves the log starts at seq
// 1 or continues from a checkpoint it is given or finds, checks the
// witness, and reports breaks by name.
func TestLogVerifyStartsAndBreaks(t *testing.T) {
	dir, files, witness := writeRotatedLog(t, 20)
	pub := audit.PublicKeyFile(filepath.Join(dir, audit.DefaultKeyName))

	// The oldest file archived elsewhere.
	archived := t.TempDir()
	rest := t.TempDir()
	for i, f := range files {
		data, _ := os.ReadFile(f)
		to := rest
		if i == 0 {
			to = archived
		}
		os.WriteFile(filepath.Join(to, filepath.Base(f)), data, 0o600)
	}
	// The head of the first file cut, as `sed -i 1,3d` does.
	cutHead := t.TempDir()
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if f == files[0] {
			data = bytes.Join(bytes.SplitAfter(data, []byte("\n"))[3:], nil)
		}
		os.WriteFile(filepath.Join(cutHead, filepath.Base(f)), data, 0o600)
	}
	// Cut back to an old checkpoint, head file with it.
	cutTail := t.TempDir()
	for _, f := range files[:2] {
		data, _ := os.ReadFile(f)
		os.WriteFile(filepath.Join(cutTail, filepath.Base(f)), data, 0o600)
	}
	data, _ := os.ReadFile(files[1])
	ls := bytes.SplitAfter(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	os.WriteFile(filepath.Join(cutTail, audit.HeadFile), append(ls[len(ls)-1], '\n'), 0o600)
	// A damaged newest file, then a start: a break.
	broken := t.TempDir()
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if f == files[len(files)-1] {
			data = bytes.Replace(data, []byte(`"id":"id-1`), []byte(`"id":"id-X`), 1)
		}
		os.WriteFile(filepath.Join(broken, filepath.Base(f)), data, 0o600)
	}
	for _, name := range []string{audit.HeadFile, audit.DefaultKeyName, audit.DefaultKeyName + ".pub"} {
		data, _ := os.ReadFile(filepath.Join(dir, name))
		os.WriteFile(filepath.Join(broken, name), data, 0o600)
	}
	l, err := audit.Open(audit.Options{Dir: broken, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	l.Close(context.Background())

	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"directory with its witness", []string{"--witness", witness, dir}, 0, []string{"OK: 4 files, 20 records (seq 1..20)", "witness checkpoints found"}},
		{"a later file finds the file before it", []string{files[2]}, 0, []string{"continuing from checkpoint", "OK:", "continuing from seq"}},
		{"oldest file archived", []string{"--pubkey", pub, rest}, 1, []string{"log start missing", "the log starts at seq"}},
		{"oldest file archived, --after it", []string{"--pubkey", pub, "--after", filepath.Join(archived, filepath.Base(files[0])), rest}, 0, []string{"OK:"}},
		{"head of the first file cut", []string{"--pubkey", pub, cutHead}, 1, []string{"log start missing", filepath.Base(files[0]) + ":1 "}},
		{"cut back with its head file", []string{"--pubkey", pub, cutTail}, 0, []string{"OK:"}},
		{"cut back, caught by the witness", []string{"--pubkey", pub, "--witness", witness, cutTail}, 1, []string{"log truncated", "the witness holds checkpoint"}},
		{"a break", []string{"--pubkey", pub, broken}, 1, []string{"BREAK: ", ".broken-", "record hash mismatch", "FAIL: the log has 1 break(s)", "verified: "}},
		{"unreadable witness", []string{"--witness", filepath.Join(dir, "nope"), dir}, 2, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), append([]string{"log", "verify"}, tc.args...), &out, &errb)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stdout %q; stderr %q", code, tc.code, out.String(), errb.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
