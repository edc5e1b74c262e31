package audit

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/callscreen/callscreen/internal/timingtest"
)

// witnessServer is an HTTPS witness as HTTPWitness expects one: POST
// stores a line, GET answers them all. While down, it answers 503.
type witnessServer struct {
	*httptest.Server
	mu    sync.Mutex
	lines [][]byte
	down  atomic.Bool
	posts atomic.Int64
}

const witnessToken = "w1tness-t0ken"

func newWitnessServer(t *testing.T) *witnessServer {
	t.Helper()
	ws := &witnessServer{}
	ws.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+witnessToken {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		switch r.Method {
		case http.MethodPost:
			ws.posts.Add(1)
			if ws.down.Load() {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err != nil || !bytes.HasSuffix(body, []byte("\n")) || r.Header.Get("Content-Type") != "application/x-ndjson" {
				http.Error(w, "bad line", http.StatusBadRequest)
				return
			}
			ws.mu.Lock()
			ws.lines = append(ws.lines, body)
			ws.mu.Unlock()
			w.WriteHeader(http.StatusCreated)
		case http.MethodGet:
			ws.mu.Lock()
			defer ws.mu.Unlock()
			_, _ = w.Write(bytes.Join(ws.lines, nil))
		default:
			http.Error(w, "method", http.StatusMethodNotAllowed)
		}
	}))
	t.Cleanup(ws.Close)
	return ws
}

func (ws *witnessServer) holds(n uint64) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for _, l := range ws.lines {
		if _, _, got := peekEntry(bytes.TrimSuffix(l, []byte("\n"))); got == n {
			return true
		}
	}
	return false
}

// TestHTTPWitness: every checkpoint reaches an HTTPS witness, through an
// outage (retried, with the lag and the errors in the metrics), and the
// log verifies against what the witness holds; a log cut behind the
// witness does not.
func TestHTTPWitness(t *testing.T) {
	ws := newWitnessServer(t)
	ws.down.Store(true)
	dir := t.TempDir()
	m := NewMetrics(nil)
	l := openLog(t, Options{Dir: dir, Metrics: m, CheckpointEvery: 2,
		Witness: HTTPWitness{URL: ws.URL, Token: witnessToken, Client: ws.Client()}})
	appendN(t, l, 1, 7) // checkpoints 1..3, and 4 at Close

	timingtest.WaitFor(t, "a refused checkpoint", func() bool { return testutil.ToFloat64(m.witnessErrors) > 0 })
	if testutil.ToFloat64(m.witnessPending) == 0 || testutil.ToFloat64(m.witnessLag) <= 0 {
		t.Errorf("witness down: pending %v, lag %v", testutil.ToFloat64(m.witnessPending), testutil.ToFloat64(m.witnessLag))
	}
	ws.down.Store(false)
	timingtest.WaitFor(t, "the witness catching up", func() bool {
		return ws.holds(3) && testutil.ToFloat64(m.witnessPending) == 0
	})
	if lag := testutil.ToFloat64(m.witnessLag); lag != 0 {
		t.Errorf("lag %v after catching up", lag)
	}
	closeLog(t, l)
	for n := uint64(1); n <= 4; n++ { // 4 sealed the log at Close
		if !ws.holds(n) {
			t.Errorf("checkpoint %d did not reach the witness", n)
		}
	}

	wit, err := ReadWitness(context.Background(), ws.URL, witnessToken, ws.Client())
	if err != nil || len(wit) < 4 {
		t.Fatalf("read witness: %d checkpoints, %v", len(wit), err)
	}
	rep, err := VerifyDir(dir, VerifyOptions{PublicKey: l.PublicKey(), Witness: wit})
	if err != nil || rep.WitnessChecked != 4 {
		t.Fatalf("verify against the witness: %+v, %v", rep, err)
	}
	// The log cut back to checkpoint 2, head file rolled back with it.
	cutAtCheckpoint(t, dir, 2)
	if _, err := VerifyDir(dir, VerifyOptions{PublicKey: l.PublicKey()}); err != nil {
		t.Fatalf("the cut passes without the witness, or the test proves nothing: %v", err)
	}
	if _, err := VerifyDir(dir, VerifyOptions{PublicKey: l.PublicKey(), Witness: wit}); !errors.Is(err, ErrTruncated) {
		t.Errorf("cut log against the witness: %v, want ErrTruncated", err)
	}
	if _, err := ReadWitness(context.Background(), ws.URL, "wrong", ws.Client()); err == nil {
		t.Error("reading the witness with a wrong token worked")
	}
}

// TestFileWitnessAcrossRestarts: a restart sends the newest checkpoint
// again; the copies are the same and verification takes them.
func TestFileWitnessAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(t.TempDir(), "witness.jsonl")
	var pub []byte
	for round := range 3 {
		l := openLog(t, Options{Dir: dir, CheckpointEvery: 3, Witness: FileWitness{Path: path}})
		appendN(t, l, round*10, 4)
		closeLog(t, l)
		pub = l.PublicKey()
	}
	wit, err := ReadWitness(context.Background(), path, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if n := strings.Count(string(data), "\n"); n <= len(uniqueN(wit)) {
		t.Errorf("%d lines for %d checkpoints: no checkpoint was sent twice", n, len(uniqueN(wit)))
	}
	rep, err := VerifyDir(dir, VerifyOptions{PublicKey: pub, Witness: wit})
	if err != nil || rep.WitnessChecked != len(uniqueN(wit)) {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
	// A witness copy signed by someone else is refused.
	forged := *wit[0]
	forged.Sig = strings.Repeat("0", len(forged.Sig))
	if _, err := VerifyDir(dir, VerifyOptions{PublicKey: pub, Witness: []*Checkpoint{&forged}}); !errors.Is(err, ErrSignature) {
		t.Errorf("forged witness checkpoint: %v", err)
	}
	// A witness file with a line that is not a checkpoint is named.
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, append(data, "nonsense\n"...), 0o600)
	if _, err := ReadWitness(context.Background(), bad, "", nil); err == nil || !strings.Contains(err.Error(), bad+":") {
		t.Errorf("bad witness line: %v", err)
	}
}

func uniqueN(cps []*Checkpoint) map[uint64]bool {
	out := map[uint64]bool{}
	for _, c := range cps {
		out[c.N] = true
	}
	return out
}
