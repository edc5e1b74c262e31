package bridge

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
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
