package audit

import (
	"context"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/callscreen/callscreen/agi"
	"github.com/callscreen/callscreen/agi/agitest"
	"github.com/callscreen/callscreen/bridge"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/internal/timingtest"
	"github.com/callscreen/callscreen/screen"
)

// TestDiskFullCallsStillDecided: calls screened through FastAGI while the
// decision log's disk is full (a simulated one: TestDiskFullOnASmallFilesystem
// has the real thing) are still decided and routed; the failure shows in
// the metrics, and once the disk recovers the log catches up and verifies.
func TestDiskFullCallsStillDecided(t *testing.T) {
	dir := t.TempDir()
	fs := &faultFS{}
	m := NewMetrics(nil)
	l := openLog(t, Options{Dir: dir, Metrics: m, OpenFile: fs.open, QueueSize: 64})
	flow := &screen.Flow{Recorder: l, Logger: quiet}
	srv := &agi.Server{Handler: bridge.AGIHandler(func() *screen.Flow { return flow }), Logger: quiet}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx, ln) }()
	defer func() { cancel(); _ = srv.Shutdown(context.Background()); <-done }()

	call := func(i int) map[string]string {
		cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer ccancel()
		tr, err := agitest.Dial(cctx, ln.Addr().String(), agitest.Call{
			CallerID: "+14155552671", DNID: "+18005550100", UniqueID: fmt.Sprintf("170000.%d", i), Caller: agitest.Caller{Auto: true},
		})
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		return tr.Vars
	}
	if v := call(0); v[decision.VarResult] != "allow" {
		t.Fatalf("call before the disk fills: %v", v)
	}
	timingtest.WaitFor(t, "first record", func() bool { return l.Written() == 1 })

	fs.space(0)
	for i := 1; i <= 5; i++ {
		if v := call(i); v[decision.VarResult] != "allow" || v[decision.VarID] == "" {
			t.Fatalf("call %d with the disk full was not decided: %v", i, v)
		}
	}
	timingtest.WaitFor(t, "failing metric", func() bool { return testutil.ToFloat64(m.failing) == 1 })
	if testutil.ToFloat64(m.errorsWrite) == 0 || l.Written() != 1 {
		t.Errorf("write errors %v, written %d", testutil.ToFloat64(m.errorsWrite), l.Written())
	}

	fs.space(-1)
	timingtest.WaitFor(t, "catch up", func() bool { return l.Written() == 6 })
	closeLog(t, l)
	if rep, err := Verify(mustFiles(t, dir), l.PublicKey()); err != nil || rep.Records != 6 {
		t.Fatalf("log after the disk recovered: %+v, %v", rep, err)
	}
}

// TestRoutingVariablesAfterTheRecord: every CALLSCREEN_ID a simulated
// Asterisk receives is already in the log file when its call ends, with
// no fsync due for an hour: the flow wrote the record before it sent the
// routing variables, so a crash then would have lost nothing.
func TestRoutingVariablesAfterTheRecord(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, Options{Dir: dir, FsyncInterval: time.Hour})
	flow := &screen.Flow{Recorder: decision.Recorders{l}, Logger: quiet}
	srv := &agi.Server{Handler: bridge.AGIHandler(func() *screen.Flow { return flow }), Logger: quiet}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx, ln) }()
	defer func() { cancel(); _ = srv.Shutdown(context.Background()); <-done }()
	for i, c := range []agitest.Call{
		{CallerID: "+14155552671"},                                      // allow
		{CallerID: "anonymous", Caller: agitest.Caller{Auto: true}},     // challenge passed
		{CallerID: "anonymous", Caller: agitest.Caller{HangupAfter: 2}}, // abandoned
		{CallerID: "911"}, // emergency
		{CallerID: "+14155552671", Vars: map[string]string{"X": "y"}}, // allow again
	} {
		cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second)
		c.DNID, c.UniqueID = "+18005550100", fmt.Sprintf("170000.%d", i)
		tr, err := agitest.Dial(cctx, ln.Addr().String(), c)
		ccancel()
		id := tr.Vars[decision.VarID]
		if err != nil || id == "" {
			t.Fatalf("call %d: %v %v", i, err, tr.Vars)
		}
		if !fileHolds(t, dir, id) {
			t.Errorf("call %d got %s=%s before its record was written", i, decision.VarID, id)
		}
	}
}

// BenchmarkFlowAllowPath is the FastAGI allow path (simulated Asterisk to
// routing variables) with the decision log off and on, in the same run;
// cpu-ns/op is the process CPU per call (client included).
func BenchmarkFlowAllowPath(b *testing.B) {
	for _, withLog := range []bool{false, true} {
		b.Run(fmt.Sprintf("log=%v", withLog), func(b *testing.B) {
			flow := &screen.Flow{Logger: quiet}
			if withLog {
				l, err := Open(Options{Dir: b.TempDir(), Logger: quiet})
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close(context.Background())
				flow.Recorder = l
			}
			srv := &agi.Server{Handler: bridge.AGIHandler(func() *screen.Flow { return flow }), Logger: quiet}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); _ = srv.Serve(ctx, ln) }()
			defer func() { cancel(); _ = srv.Shutdown(context.Background()); <-done }()
			c := agitest.Call{CallerID: "+14155552671", DNID: "+18005550100"}
			cpu0 := cpuNow()
			b.ResetTimer()
			for b.Loop() {
				tr, err := agitest.Dial(context.Background(), ln.Addr().String(), c)
				if err != nil || tr.Vars[decision.VarResult] != "allow" {
					b.Fatalf("call: %v %v", err, tr.Vars)
				}
			}
			b.ReportMetric(float64(cpuNow()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

func cpuNow() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
