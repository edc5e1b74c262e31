package ari_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/callscreen/callscreen/ari"
	"github.com/callscreen/callscreen/ari/aritest"
	"github.com/coder/websocket"
)

// TestStopSendsCloseFrame: when the App stops (SIGTERM in serve), its
// event connection ends with a WebSocket close frame, not a dropped TCP
// connection, so Asterisk does not log "Web socket closed abruptly".
func TestStopSendsCloseFrame(t *testing.T) {
	srv := aritest.NewServer(aritest.Config{Username: "u", Password: "p"})
	t.Cleanup(srv.Close)
	client, err := ari.NewClient(ari.ClientConfig{URL: srv.URL, Username: "u", Password: "p", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{}, 1)
	app := &ari.App{Client: client, Name: appName, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Handler: ari.HandlerFunc(func(context.Context, *ari.Call) { served <- struct{}{} })}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := srv.WaitConnected(wctx, appName); err != nil {
		cancel()
		t.Fatal(err)
	}
	// A call the App serves shows it reading events (connected, not
	// still in the handshake).
	if _, err := srv.StartCall(appName, aritest.CallSpec{CallerNumber: "+12125551234"}); err != nil {
		cancel()
		t.Fatal(err)
	}
	select {
	case <-served:
	case <-wctx.Done():
		cancel()
		t.Fatal("the App never served the call")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-wctx.Done():
		t.Fatal("Run did not return after its context ended")
	}
	if err := srv.WaitClosed(wctx, 1); err != nil {
		t.Fatalf("the event connection never ended: %v", err)
	}
	got := srv.CloseStatuses()
	if len(got) != 1 || (got[0] != websocket.StatusNormalClosure && got[0] != websocket.StatusGoingAway) {
		t.Fatalf("event connection ended with %v; want a close frame with 1000 or 1001 (-1 is a dropped connection)", got)
	}
}
