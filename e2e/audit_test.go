package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callscreen/callscreen/agi/agitest"
	"github.com/callscreen/callscreen/audit"
)

// kill9 kills the server with SIGKILL and waits for it to be gone.
func (p *process) kill9(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("callscreen serve still running 30s after SIGKILL")
	}
}

// logIDs returns the ids of the records in a decision log directory, read
// as a crash left it (a partial last line is not a record).
func logIDs(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, err := audit.Files(dir)
	if err != nil || len(files) == 0 {
		t.Fatalf("decision log files in %s: %v %v", dir, files, err)
	}
	ids := map[string]bool{}
	if err := audit.Scan(files, func(r audit.Record) error { ids[r.ID] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	return ids
}

// placeCalls places n calls one after another, each from its own number
// to its own DID, and returns the CALLSCREEN_IDs they got.
func placeCalls(t *testing.T, p *process, from, n int) []string {
	t.Helper()
	var ids []string
	for i := from; i < from+n; i++ {
		tr := call(t, p, agitest.Call{CallerID: fmt.Sprintf("+1212555%04d", i%10000), DNID: fmt.Sprintf("+1415555%04d", i%10000)})
		if tr.Vars["CALLSCREEN_ID"] == "" {
			t.Fatalf("call %d: no CALLSCREEN_ID: %v", i, tr.Vars)
		}
		ids = append(ids, tr.Vars["CALLSCREEN_ID"])
	}
	return ids
}

// TestKill9UnderTraffic: serve is killed with SIGKILL while simulated
// Asterisk servers place calls; every CALLSCREEN_ID a caller received is
// in the decision log. The next start recovers the log without a break,
// and once stopped it verifies.
func TestKill9UnderTraffic(t *testing.T) {
	p := startServe(t, "", nil)
	auditDir := filepath.Join(p.dir, "data", "audit")
	var mu sync.Mutex
	received := map[string]bool{}
	var calls atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				n := g*100000 + i
				c := agitest.Call{CallerID: fmt.Sprintf("+1212%07d", n), DNID: fmt.Sprintf("+1415%07d", n), UniqueID: fmt.Sprintf("1700000000.%d", n)}
				if g%3 == 0 { // a challenge now and then: calls in flight longer
					c.CallingPres = 35
					c.Caller = agitest.Caller{Auto: true}
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				tr, err := agitest.Dial(ctx, p.agi, c)
				cancel()
				if id := tr.Vars["CALLSCREEN_ID"]; id != "" {
					mu.Lock()
					received[id] = true
					mu.Unlock()
				}
				calls.Add(1)
				var op *net.OpError
				if errors.As(err, &op) && op.Op == "dial" {
					return // the server is gone
				}
			}
		}()
	}
	// Kill once some hundred calls were answered (or after 20s on a very
	// busy machine), with calls in flight.
	deadline := time.Now().Add(20 * time.Second)
	for calls.Load() < 300 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	p.kill9(t)
	close(stop)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	if len(received) == 0 {
		t.Fatal("no call got a CALLSCREEN_ID before the kill")
	}
	inLog := logIDs(t, auditDir)
	var lost []string
	for id := range received {
		if !inLog[id] {
			lost = append(lost, id)
		}
	}
	if len(lost) > 0 {
		t.Fatalf("%d of %d CALLSCREEN_IDs callers received are not in the decision log, e.g. %v", len(lost), len(received), lost[:min(5, len(lost))])
	}
	t.Logf("%d calls placed, %d CALLSCREEN_IDs received before SIGKILL, all in the log (%d records)", calls.Load(), len(received), len(inLog))

	// Restart on the same data: the log recovers cleanly, and verifies
	// once the server stops.
	p2 := startServe(t, "data_dir: "+filepath.Join(p.dir, "data")+"\n", nil)
	ids := placeCalls(t, p2, 1, 3)
	p2.stop(t)
	if errs := p2.logs.errors(); len(errs) > 0 {
		t.Fatalf("errors logged by the restart:\n%s", strings.Join(errs, "\n"))
	}
	out, errOut, code := callscreen(t, p.dir, "log", "verify", auditDir)
	if code != 0 || !strings.Contains(out, "OK: ") {
		t.Fatalf("log verify after restart: exit %d\n%s%s", code, out, errOut)
	}
	inLog = logIDs(t, auditDir)
	for _, id := range ids {
		if !inLog[id] {
			t.Errorf("call after the restart %s not in the log", id)
		}
	}
}

// TestDamagedLogRestart: a flipped byte in the newest file of a stopped
// server's log, then a start: serve starts and screens, sets the damaged
// file aside, says so in an ERROR line and a metric, and log verify names
// the break (exit 1) while verifying everything else.
func TestDamagedLogRestart(t *testing.T) {
	const conf = "audit:\n  checkpoint_every: 5\n"
	p := startServe(t, conf, nil)
	auditDir := filepath.Join(p.dir, "data", "audit")
	before := placeCalls(t, p, 1, 12)
	p.stop(t)

	files, err := audit.Files(auditDir)
	if err != nil || len(files) == 0 {
		t.Fatal(files, err)
	}
	newest := files[len(files)-1]
	data, err := os.ReadFile(newest)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte(`"id":"`+before[6]+`"`))
	if i < 0 {
		t.Fatalf("call 7's record not in %s", newest)
	}
	data[i+len(`"id":"`)] ^= 1 // one flipped bit in the 7th record
	if err := os.WriteFile(newest, data, 0o640); err != nil {
		t.Fatal(err)
	}

	p2 := startServe(t, conf+"data_dir: "+filepath.Join(p.dir, "data")+"\n", nil)
	after := placeCalls(t, p2, 100, 3)
	if got := p2.metric(t, "callscreen_audit_breaks_total"); got != "1" {
		t.Errorf("callscreen_audit_breaks_total = %q, want 1", got)
	}
	errs := p2.logs.errors()
	if len(errs) != 1 || !strings.Contains(errs[0], "audit log damaged") || !strings.Contains(errs[0], "record hash mismatch") {
		t.Errorf("want one ERROR line about the damage, got:\n%s", strings.Join(errs, "\n"))
	}
	p2.stop(t)

	aside, _ := filepath.Glob(newest + ".broken-*")
	if len(aside) != 1 {
		t.Fatalf("damaged file set aside as %v", aside)
	}
	if kept, _ := os.ReadFile(aside[0]); !bytes.Equal(kept, data) {
		t.Error("the set-aside file is not the damaged file as it was")
	}
	out, errOut, code := callscreen(t, p.dir, "log", "verify", auditDir)
	if code != 1 || !strings.Contains(out, "BREAK: ") || !strings.Contains(out, filepath.Base(aside[0])) ||
		!strings.Contains(out, "record hash mismatch") || !strings.Contains(out, "verified: ") {
		t.Fatalf("log verify: exit %d\n%s%s", code, out, errOut)
	}
	// Before the break: the six good records; after it: the new calls.
	if !strings.Contains(out, ", 9 records (") {
		t.Errorf("log verify did not verify 6 records before the break and 3 after:\n%s", out)
	}
	inLog := logIDs(t, auditDir)
	for _, id := range after {
		if !inLog[id] {
			t.Errorf("call %s after the restart not in the log", id)
		}
	}
}

// TestCutHeadIsCaught: the first lines of a stopped server's log removed
// (sed -i 1,10d): log verify fails naming the file; a start then sets the
// file aside behind a break and screens.
func TestCutHeadIsCaught(t *testing.T) {
	const conf = "audit:\n  checkpoint_every: 5\n"
	p := startServe(t, conf, nil)
	auditDir := filepath.Join(p.dir, "data", "audit")
	placeCalls(t, p, 1, 12)
	p.stop(t)
	files, _ := audit.Files(auditDir)
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	cut := bytes.Join(bytes.SplitAfter(data, []byte("\n"))[10:], nil)
	if err := os.WriteFile(files[0], cut, 0o640); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := callscreen(t, p.dir, "log", "verify", auditDir)
	if code != 1 || !strings.Contains(out, filepath.Base(files[0])+":1 ") || !strings.Contains(out, "log start missing") {
		t.Fatalf("log verify of a cut head: exit %d\n%s%s", code, out, errOut)
	}

	p2 := startServe(t, conf+"data_dir: "+filepath.Join(p.dir, "data")+"\n", nil)
	placeCalls(t, p2, 100, 2)
	p2.stop(t)
	out, errOut, code = callscreen(t, p.dir, "log", "verify", auditDir)
	if code != 1 || !strings.Contains(out, "BREAK: ") || !strings.Contains(out, "log start missing") {
		t.Fatalf("log verify after the restart: exit %d\n%s%s", code, out, errOut)
	}
}

// TestWitnessFileThroughServe: with audit.witness.file, the checkpoints
// reach the file and log verify --witness checks the log against it.
func TestWitnessFileThroughServe(t *testing.T) {
	witness := filepath.Join(t.TempDir(), "pbx1-witness.jsonl")
	p := startServe(t, "audit:\n  checkpoint_every: 2\n  witness:\n    file: "+witness+"\n", nil)
	placeCalls(t, p, 1, 5)
	p.stop(t)
	out, errOut, code := callscreen(t, p.dir, "log", "verify", "--witness", witness, filepath.Join(p.dir, "data", "audit"))
	if code != 0 || !strings.Contains(out, "3 witness checkpoints found") {
		t.Fatalf("log verify --witness: exit %d\n%s%s", code, out, errOut)
	}
}
