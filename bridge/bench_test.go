package bridge

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"

	"github.com/callscreen/callscreen/agi"
	"github.com/callscreen/callscreen/agi/agitest"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/screen"
)

// BenchmarkAGIAllowPath is one allowed call through the FastAGI server, the
// bridge and the flow, over net.Pipe: the environment block with
// screened= handed over, one EXEC MSet, close. The caller is the same each
// time (its number parse is cached).
func BenchmarkAGIAllowPath(b *testing.B) {
	f := listFlow(nil, nil)
	f.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	f.Verifier = decision.NewMemoryVerifier(100, nil)
	srv := &agi.Server{Handler: AGIHandler(func() *screen.Flow { return f }), Logger: slog.New(slog.DiscardHandler)}
	env := agitest.EnvBlock(agitest.Call{CallerID: "+12125551234", CallerIDName: "John Q. Public",
		Request: "agi://127.0.0.1/screen?profile=support", Args: []string{"screened="}})
	ctx := context.Background()
	r := bufio.NewReader(nil)
	b.ReportAllocs()
	for b.Loop() {
		server, client := net.Pipe()
		done := make(chan struct{})
		go func() { srv.ServeConn(ctx, server); close(done) }()
		if _, err := client.Write(env); err != nil {
			b.Fatal(err)
		}
		r.Reset(client)
		if _, err := r.ReadSlice('\n'); err != nil {
			b.Fatal(err)
		}
		if _, err := io.WriteString(client, "200 result=0\n"); err != nil {
			b.Fatal(err)
		}
		if _, err := r.ReadSlice('\n'); err != io.EOF {
			b.Fatalf("after MSet: %v", err)
		}
		client.Close()
		<-done
	}
}

// BenchmarkAGIFirstContact is one allowed call through the simulated
// Asterisk on loopback TCP, from a PBX already seen (steady) and from one
// the process has not seen (first-contact: every profile's sounds checked
// beside the lookup, three GET FULL VARIABLE). The difference is what the
// first call from each PBX pays; the simulator answers at once, so a real
// PBX adds its round trips and its stat() calls.
func BenchmarkAGIFirstContact(b *testing.B) {
	for _, first := range []bool{false, true} {
		name := "steady"
		if first {
			name = "first-contact"
		}
		b.Run(name, func(b *testing.B) {
			newFlow := func() *screen.Flow {
				f := listFlow(nil, nil)
				if first {
					f.Prompts = nil // a process that has not seen the PBX
				}
				return f
			}
			var cur atomic.Pointer[screen.Flow]
			cur.Store(newFlow())
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			srv := &agi.Server{Handler: AGIHandler(cur.Load), Logger: slog.New(slog.DiscardHandler)}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); _ = srv.Serve(ctx, l) }()
			defer func() { cancel(); _ = srv.Shutdown(context.Background()); <-done }()
			call := agitest.Call{CallerID: "+12125551234", CallerIDName: "John Q. Public",
				Request: "agi://127.0.0.1/screen?profile=support", Args: []string{"screened="}}
			b.ReportAllocs()
			for b.Loop() {
				if first {
					b.StopTimer()
					cur.Store(newFlow())
					b.StartTimer()
				}
				tr, err := agitest.Dial(ctx, l.Addr().String(), call)
				if err != nil || tr.Vars["CALLSCREEN_RESULT"] != "allow" {
					b.Fatalf("%v %v", err, tr)
				}
			}
		})
	}
}
