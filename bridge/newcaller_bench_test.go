package bridge

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/callscreen/callscreen/agi"
	"github.com/callscreen/callscreen/agi/agitest"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/internal/flowbench"
	"github.com/callscreen/callscreen/screen"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkAGINewCallers is one allowed call from a caller never seen
// before, through the FastAGI server over net.Pipe: "flow" with the chain
// serve builds without Redis or providers (critical numbers, agents'
// reports, lists, feed, behaviour counters), metrics and a logger at info;
// "seq" the same server with a handler that only writes the flow's one
// EXEC MSet. The difference is what screening costs a call.
func BenchmarkAGINewCallers(b *testing.B) {
	ctx := context.Background()
	local, err := flowbench.New(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer local.Close()
	logger := local.Logger
	f := local.Flow(nil, screen.NewMetrics(prometheus.NewRegistry()))
	handlers := []struct {
		name string
		h    agi.Handler
	}{
		{"seq", agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
			_ = s.SetVariables(ctx, []agi.Variable{{Name: decision.VarResult, Value: "allow"}, {Name: decision.VarAction, Value: "allow"},
				{Name: decision.VarTier, Value: "UNKNOWN"}, {Name: decision.VarChallenge, Value: "none"},
				{Name: decision.VarMode, Value: "enforce"}, {Name: decision.VarID, Value: "01M80QP64KW6KJAADJ"}})
		})},
		{"flow", AGIHandler(func() *screen.Flow { return f })},
	}
	n := 0
	for _, h := range handlers {
		b.Run(h.name, func(b *testing.B) {
			srv := &agi.Server{Handler: h.h, Logger: logger, Metrics: agi.NewMetrics(nil)}
			r := bufio.NewReader(nil)
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				n++
				env := agitest.EnvBlock(agitest.Call{CallerID: fmt.Sprintf("+1212%03d%04d", 200+(n/10000)%800, n%10000),
					CallerIDName: "John Q. Public", DNID: "15551230000", Args: []string{"screened="}})
				server, client := net.Pipe()
				done := make(chan struct{})
				go func() { srv.ServeConn(ctx, server); close(done) }()
				if _, err := client.Write(env); err != nil {
					b.Fatal(err)
				}
				r.Reset(client)
				// One EXEC MSet, after the prompt check at the first call.
				line, err := r.ReadSlice('\n')
				for err == nil && bytes.HasPrefix(line, []byte("GET FULL VARIABLE")) {
					if _, err := io.WriteString(client, flowbench.Reply(line)); err != nil {
						b.Fatal(err)
					}
					line, err = r.ReadSlice('\n')
				}
				if err != nil || !bytes.HasPrefix(line, []byte("EXEC MSet ")) {
					b.Fatalf("%q %v", line, err)
				}
				if _, err := io.WriteString(client, flowbench.Reply(line)); err != nil {
					b.Fatal(err)
				}
				if _, err := r.ReadSlice('\n'); err != io.EOF {
					b.Fatalf("after MSet: %v", err)
				}
				client.Close()
				<-done
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the process's user and system CPU time: what a benchmark
// costs, whatever else the machine runs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
