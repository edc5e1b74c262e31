package audit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const crashDirEnv = "CALLSCREEN_AUDIT_CRASH_DIR"

// TestCrashHelper is the process TestKill9LosesNoAcknowledgedRecord kills:
// it appends under load and prints "ack SEQ ID" for every record the log
// reported durable. It does nothing in a normal test run.
func TestCrashHelper(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("helper process only")
	}
	l, err := Open(Options{Dir: dir, FsyncInterval: 5 * time.Millisecond, CheckpointEvery: 50, RotateSize: 1 << 20, Logger: quiet})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var next atomic.Int64
	next.Store(time.Now().UnixNano() % 1e9 * 1000)
	for range 8 {
		go func() {
			for {
				i := int(next.Add(1))
				r := result(i)
				r.ID = fmt.Sprintf("crash-%d-%d", os.Getpid(), i)
				seq, err := l.Append(context.Background(), r)
				if err != nil {
					continue
				}
				mu.Lock()
				fmt.Fprintf(out, "ack %d %s\n", seq, r.ID)
				out.Flush()
				mu.Unlock()
			}
		}()
	}
	for i := 0; ; i++ { // fire-and-forget load beside the acknowledged one
		r := result(i)
		r.ID = fmt.Sprintf("load-%d-%d", os.Getpid(), i)
		l.Record(r)
		if i%4 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
}

// TestKill9LosesNoAcknowledgedRecord kills a process appending under load
// with SIGKILL, three times over the same log, and checks that every record
// it reported written is in the log with its seq, and that the log
// recovers to one that verifies.
func TestKill9LosesNoAcknowledgedRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("starts helper processes")
	}
	dir := t.TempDir()
	acked := map[string]uint64{}
	for round := range 3 {
		n := crashOnce(t, dir, acked)
		t.Logf("round %d: %d records acknowledged before SIGKILL", round, n)

		// The crashed log verifies, its tail unsealed (or cut mid-line).
		files := mustFiles(t, dir)
		if _, err := VerifyWith(files, VerifyOptions{AllowUnsealed: true}); err != nil && !errors.Is(err, ErrTruncated) {
			t.Fatalf("round %d: crashed log: %v", round, err)
		}
	}
	// Recovery seals the log; then everything verifies, head included.
	l, err := Open(Options{Dir: dir, Logger: quiet})
	if err != nil {
		t.Fatalf("reopen after crash: %v", err)
	}
	closeLog(t, l)
	files := mustFiles(t, dir)
	head, err := ReadHead(dir)
	if err != nil || head == nil {
		t.Fatalf("head: %v %v", head, err)
	}
	rep, err := VerifyWith(files, VerifyOptions{PublicKey: l.PublicKey(), Head: head})
	if err != nil {
		t.Fatalf("recovered log: %v", err)
	}
	found := map[string]uint64{}
	if err := Scan(files, func(r Record) error { found[r.ID] = r.Seq; return nil }); err != nil {
		t.Fatal(err)
	}
	missing := 0
	for id, seq := range acked {
		if got, ok := found[id]; !ok || got != seq {
			missing++
			if missing < 5 {
				t.Errorf("acknowledged record %s seq %d: found seq %d (present %v)", id, seq, got, ok)
			}
		}
	}
	if missing > 0 || len(acked) == 0 {
		t.Fatalf("%d of %d acknowledged records lost", missing, len(acked))
	}
	t.Logf("%d acknowledged records, all present; log holds %d records", len(acked), rep.Records)
}

// crashOnce runs the helper until it has acknowledged some records, kills
// it with SIGKILL and collects every acknowledgement it printed.
func crashOnce(t *testing.T, dir string, acked map[string]uint64) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	kill := func() {
		if !killed {
			killed = true
			_ = cmd.Process.Kill() // SIGKILL
		}
	}
	defer kill()
	deadline := time.AfterFunc(20*time.Second, kill)
	defer deadline.Stop()
	sc := bufio.NewScanner(stdout)
	n := 0
	target := 600 + int(time.Now().UnixNano()%400)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 || fields[0] != "ack" {
			continue
		}
		seq, err := strconv.ParseUint(fields[1], 10, 64)
		if err != nil {
			t.Fatalf("helper printed %q", sc.Text())
		}
		acked[fields[2]] = seq
		if n++; n == target {
			kill()
		}
	}
	_ = cmd.Wait()
	if n < target {
		t.Fatalf("helper acknowledged only %d records before it ended", n)
	}
	return n
}
