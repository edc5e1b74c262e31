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

	"github.com/callscreen/callscreen/internal/citest"
)

const crashDirEnv = "CALLSCREEN_AUDIT_CRASH_DIR"

// TestCrashHelper is the process TestKill9LosesNoAcknowledgedRecord kills:
// it writes under load and prints "commit ID" for every record Commit
// handed to the operating system (what the flow does before a call's
// routing variables go out) and "ack SEQ ID" for every record Append
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
	say := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(out, format, args...)
		out.Flush()
		mu.Unlock()
	}
	var next atomic.Int64
	next.Store(time.Now().UnixNano() % 1e9 * 1000)
	for g := range 8 {
		go func() {
			for {
				i := int(next.Add(1))
				r := result(i)
				r.ID = fmt.Sprintf("crash-%d-%d", os.Getpid(), i)
				if g%2 == 0 {
					if l.Commit(r) == nil {
						say("commit %s\n", r.ID)
					}
					continue
				}
				if seq, err := l.Append(context.Background(), r); err == nil {
					say("ack %d %s\n", seq, r.ID)
				}
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

// TestKill9LosesNoAcknowledgedRecord kills a process writing under load
// with SIGKILL, three times over the same log, and checks that every
// record it reported committed or durable is in the log (the durable ones
// with their seq), and that the log recovers to one that verifies. It
// asserts what was acknowledged, whatever the count: a loaded machine may
// let the helper acknowledge few records before the kill.
func TestKill9LosesNoAcknowledgedRecord(t *testing.T) {
	citest.Short(t, "starts helper processes")
	dir := t.TempDir()
	acked := map[string]uint64{} // id -> seq, 0 for a commit
	for round := range 3 {
		n := crashOnce(t, dir, acked)
		t.Logf("round %d: %d records acknowledged before SIGKILL", round, n)

		// The crashed log verifies, its tail unsealed (or cut mid-line).
		files := mustFiles(t, dir)
		if _, err := VerifyWith(files, VerifyOptions{AllowUnsealed: true}); err != nil && !errors.Is(err, ErrTruncated) {
			t.Fatalf("round %d: crashed log: %v", round, err)
		}
	}
	if len(acked) == 0 {
		t.Fatal("the helper acknowledged no record in three rounds")
	}
	// Recovery seals the log; then everything verifies, head included.
	l, err := Open(Options{Dir: dir, Logger: quiet})
	if err != nil {
		t.Fatalf("reopen after crash: %v", err)
	}
	closeLog(t, l)
	files := mustFiles(t, dir)
	rep, err := VerifyDir(dir, VerifyOptions{PublicKey: l.PublicKey()})
	if err != nil {
		t.Fatalf("recovered log: %v", err)
	}
	if len(rep.Breaks) != 0 {
		t.Fatalf("recovery after SIGKILL set files aside: %v", rep.Breaks)
	}
	found := map[string]uint64{}
	if err := Scan(files, func(r Record) error { found[r.ID] = r.Seq; return nil }); err != nil {
		t.Fatal(err)
	}
	missing := 0
	for id, seq := range acked {
		if got, ok := found[id]; !ok || (seq != 0 && got != seq) {
			missing++
			if missing < 5 {
				t.Errorf("acknowledged record %s seq %d: found seq %d (present %v)", id, seq, got, ok)
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged records lost", missing, len(acked))
	}
	t.Logf("%d acknowledged records, all present; log holds %d records", len(acked), rep.Records)
}

// crashOnce runs the helper until it has acknowledged a few hundred
// records (or for at most 30 seconds), kills it with SIGKILL and collects
// every acknowledgement it printed.
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
	var once sync.Once
	kill := func() { once.Do(func() { _ = cmd.Process.Kill() }) } // SIGKILL
	defer kill()
	deadline := time.AfterFunc(30*time.Second, kill)
	defer deadline.Stop()
	sc := bufio.NewScanner(stdout)
	n := 0
	target := 100 + int(time.Now().UnixNano()%400)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) == 2 && fields[0] == "commit":
			acked[fields[1]] = 0
		case len(fields) == 3 && fields[0] == "ack":
			seq, err := strconv.ParseUint(fields[1], 10, 64)
			if err != nil {
				t.Fatalf("helper printed %q", sc.Text())
			}
			acked[fields[2]] = seq
		default:
			continue
		}
		if n++; n == target {
			kill()
		}
	}
	_ = cmd.Wait()
	return n
}
