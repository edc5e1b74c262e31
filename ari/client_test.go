package ari_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/ari"
	"github.com/callscreen/callscreen/ari/aritest"
	"github.com/callscreen/callscreen/internal/timingtest"
)

const (
	testUser = "callscreen"
	testPass = "s3cret+&pass"
)

func newServer(t *testing.T, cfg aritest.Config) *aritest.Server {
	t.Helper()
	if cfg.Username == "" {
		cfg.Username, cfg.Password = testUser, testPass
	}
	srv := aritest.NewServer(cfg)
	t.Cleanup(srv.Close)
	return srv
}

func newClient(t *testing.T, srv *aritest.Server, mod ...func(*ari.ClientConfig)) *ari.Client {
	t.Helper()
	cfg := ari.ClientConfig{URL: srv.URL, Username: testUser, Password: testPass, Timeout: 20 * time.Second} // the tests of the timeout set their own
	for _, m := range mod {
		m(&cfg)
	}
	c, err := ari.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewClientRejects(t *testing.T) {
	tests := []struct {
		name string
		cfg  ari.ClientConfig
		want string
	}{
		{"empty url", ari.ClientConfig{Username: "u", Password: testPass}, "url"},
		{"scheme", ari.ClientConfig{URL: "ftp://pbx", Username: "u", Password: testPass}, `scheme "ftp"`},
		{"credentials in url", ari.ClientConfig{URL: "http://u:" + testPass + "@pbx:8088", Username: "u", Password: testPass}, "credentials in the URL"},
		{"api_key in url", ari.ClientConfig{URL: "http://pbx:8088/?api_key=u:" + testPass, Username: "u", Password: testPass}, "never api_key"},
		{"no password", ari.ClientConfig{URL: "http://pbx:8088", Username: "u"}, "username and password are required"},
		{"colon in user", ari.ClientConfig{URL: "http://pbx:8088", Username: "a:b", Password: testPass}, "must not contain ':'"},
		{"negative timeout", ari.ClientConfig{URL: "http://pbx:8088", Username: "u", Password: testPass, Timeout: -1}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ari.NewClient(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), testPass) {
				t.Errorf("error repeats the password: %v", err)
			}
		})
	}
}

func TestClientURLs(t *testing.T) {
	srv := newServer(t, aritest.Config{})
	ctx := context.Background()
	for _, u := range []string{srv.URL, srv.URL + "/", srv.URL + "/ari", srv.URL + "/ari/"} {
		t.Run(u, func(t *testing.T) {
			c := newClient(t, srv, func(cfg *ari.ClientConfig) { cfg.URL = u })
			if _, err := c.Channels(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// startCall puts a call into app without any event connection reading it.
func addChannel(t *testing.T, srv *aritest.Server, spec aritest.CallSpec) *aritest.Channel {
	t.Helper()
	return srv.AddChannel("callscreen", spec)
}

func TestClientREST(t *testing.T) {
	srv := newServer(t, aritest.Config{SoundDuration: 20 * time.Millisecond})
	c := newClient(t, srv)
	ctx := context.Background()
	ch := addChannel(t, srv, aritest.CallSpec{CallerNumber: "+12125551234", Presentation: "prohib", Vars: map[string]string{"X": "1"}})
	id := ch.ID()

	if err := c.Answer(ctx, id); err != nil {
		t.Fatalf("answer: %v", err)
	}
	if ch.Answers() != 1 {
		t.Errorf("answers = %d", ch.Answers())
	}
	pb, err := c.Play(ctx, id, "pb-1", []string{"sound:beep", "digits:12"})
	if err != nil {
		t.Fatalf("play: %v", err)
	}
	if pb.ID != "pb-1" || pb.MediaURI != "sound:beep" || pb.ChannelID() != id {
		t.Errorf("playback %+v", pb)
	}
	if got := ch.Playbacks(); len(got) != 1 || len(got[0]) != 2 {
		t.Errorf("one playback of two media expected, got %v", got)
	}
	if v, err := c.Variable(ctx, id, "CALLERID(num-pres)"); err != nil || v != "prohib" {
		t.Errorf("num-pres = %q, %v", v, err)
	}
	if v, err := c.Variable(ctx, id, "X"); err != nil || v != "1" {
		t.Errorf("X = %q, %v", v, err)
	}
	_, err = c.Variable(ctx, id, "UNSET")
	var ae *ari.Error
	if !errors.As(err, &ae) || ae.Status != 404 || ae.Message != "Provided variable was not found" || !errors.Is(err, ari.ErrNotFound) || errors.Is(err, ari.ErrHangup) {
		t.Errorf("unset variable: %v", err)
	}
	_, err = c.Variable(ctx, id, "STIR_SHAKEN(count)")
	if !errors.As(err, &ae) || ae.Status != 500 || ae.Message != "Unable to read provided function" {
		t.Errorf("function: %v", err)
	}
	if err := c.SetVariable(ctx, id, "A", `a "q" b,c`); err != nil {
		t.Fatal(err)
	}
	if err := c.SetVariables(ctx, id, []ari.Var{{"B", "2"}, {"C", ""}, {"B", "3"}}); err != nil {
		t.Fatal(err)
	}
	vars := ch.Vars()
	if vars["A"] != `a "q" b,c` || vars["B"] != "3" || vars["C"] != "" {
		t.Errorf("vars %v", vars)
	}
	chans, err := c.Channels(ctx)
	if err != nil || len(chans) != 1 || chans[0].ID != id || !chans[0].InApp("callscreen") {
		t.Errorf("channels %+v, %v", chans, err)
	}
	if err := c.Continue(ctx, id); err != nil {
		t.Fatal(err)
	}
	<-ch.Done()
	if ch.Continued() != 1 {
		t.Errorf("continued %d", ch.Continued())
	}
	err = c.Answer(ctx, id)
	if !errors.Is(err, ari.ErrHangup) || !strings.Contains(err.Error(), "409") {
		t.Errorf("answer after continue: %v, want 409 matching ErrHangup", err)
	}
	if err := c.Hangup(ctx, id, "busy"); err != nil || ch.HangupReason() != "busy" {
		t.Errorf("hangup: %v, reason %q", err, ch.HangupReason())
	}
	err = c.Answer(ctx, id)
	if !errors.Is(err, ari.ErrHangup) || !errors.Is(err, ari.ErrNotFound) || !strings.Contains(err.Error(), "Channel not found") {
		t.Errorf("after hangup: %v", err)
	}

	// Every request authenticated with Basic auth, never api_key.
	for _, r := range srv.Requests() {
		if r.APIKey || r.Query.Has("api_key") {
			t.Errorf("%s %s used api_key", r.Method, r.Path)
		}
	}
}

func TestClientBadArguments(t *testing.T) {
	srv := newServer(t, aritest.Config{})
	c := newClient(t, srv)
	ctx := context.Background()
	tests := map[string]error{
		"empty channel":   c.Answer(ctx, ""),
		"no media":        func() error { _, err := c.Play(ctx, "1.1", "", nil); return err }(),
		"media no scheme": func() error { _, err := c.Play(ctx, "1.1", "", []string{"beep"}); return err }(),
		"control char":    c.SetVariable(ctx, "1.1", "A\n", "x"),
		"newline value":   c.SetVariables(ctx, "1.1", []ari.Var{{"A", "x\ny"}}),
		"empty name":      func() error { _, err := c.Variable(ctx, "1.1", ""); return err }(),
	}
	for name, err := range tests {
		t.Run(name, func(t *testing.T) {
			if !errors.Is(err, ari.ErrBadArgument) {
				t.Errorf("err = %v, want ErrBadArgument", err)
			}
		})
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests sent for bad arguments", n)
	}
}

func TestSetVariablesFallback(t *testing.T) {
	for _, status := range []int{http.StatusNotFound, http.StatusMethodNotAllowed} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			srv := newServer(t, aritest.Config{PluralVariables: status})
			c := newClient(t, srv)
			ctx := context.Background()
			for i := range 2 {
				ch := addChannel(t, srv, aritest.CallSpec{})
				if err := c.SetVariables(ctx, ch.ID(), []ari.Var{{"A", "1"}, {"B", "2"}}); err != nil {
					t.Fatal(err)
				}
				if v := ch.Vars(); v["A"] != "1" || v["B"] != "2" {
					t.Errorf("call %d: vars %v", i, v)
				}
			}
			var plural, singles int
			for _, r := range srv.Requests() {
				switch {
				case strings.HasSuffix(r.Path, "/variables"):
					plural++
				case strings.HasSuffix(r.Path, "/variable"):
					singles++
				}
			}
			// The plural form is tried once, then never again.
			if plural != 1 || singles != 4 {
				t.Errorf("plural %d, singles %d; want 1 and 4", plural, singles)
			}
		})
	}
	t.Run("channel not found is not a fallback", func(t *testing.T) {
		srv := newServer(t, aritest.Config{})
		c := newClient(t, srv)
		err := c.SetVariables(context.Background(), "no-such", []ari.Var{{"A", "1"}})
		if !errors.Is(err, ari.ErrHangup) {
			t.Fatalf("err = %v", err)
		}
		if n := len(srv.Requests()); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
}

func TestClientTimeout(t *testing.T) {
	srv := newServer(t, aritest.Config{})
	srv.Fail(func(r *http.Request, path string) (int, string) {
		<-r.Context().Done() // Asterisk stuck
		return http.StatusInternalServerError, "late"
	})
	c := newClient(t, srv, func(cfg *ari.ClientConfig) { cfg.Timeout = 50 * time.Millisecond })
	err := c.Answer(context.Background(), "1.1")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	// The caller's own deadline is honoured too.
	c = newClient(t, srv, func(cfg *ari.ClientConfig) { cfg.Timeout = time.Minute })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Channels(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
}

func TestClientErrors(t *testing.T) {
	srv := newServer(t, aritest.Config{})
	ctx := context.Background()
	t.Run("401", func(t *testing.T) {
		c := newClient(t, srv, func(cfg *ari.ClientConfig) { cfg.Password = "wrong-pass" })
		_, err := c.Channels(ctx)
		if !errors.Is(err, ari.ErrUnauthorized) || !strings.Contains(err.Error(), "Authentication required") {
			t.Errorf("err = %v", err)
		}
		if strings.Contains(err.Error(), "wrong-pass") {
			t.Errorf("error repeats the password: %v", err)
		}
		_, err = c.Subscribe(ctx, "callscreen")
		var ae *ari.Error
		if !errors.Is(err, ari.ErrUnauthorized) || !errors.As(err, &ae) || ae.Status != 401 {
			t.Errorf("subscribe: %v", err)
		}
	})
	t.Run("500 without body", func(t *testing.T) {
		srv := newServer(t, aritest.Config{})
		srv.Fail(func(*http.Request, string) (int, string) { return http.StatusInternalServerError, "" })
		c := newClient(t, srv)
		err := c.Answer(ctx, "1.1")
		var ae *ari.Error
		if !errors.As(err, &ae) || ae.Status != 500 {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("stop playback states", func(t *testing.T) {
		srv := newServer(t, aritest.Config{DigitDuration: time.Second})
		c := newClient(t, srv)
		ch := addChannel(t, srv, aritest.CallSpec{})
		if _, err := c.Play(ctx, ch.ID(), "d", []string{"digits:123"}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Play(ctx, ch.ID(), "q", []string{"sound:x"}); err != nil {
			t.Fatal(err)
		}
		timingtest.WaitFor(t, "the playback to start", ch.Playing)
		// A digits: playback cannot be stopped while it plays.
		err := c.StopPlayback(ctx, "d")
		var ae *ari.Error
		if !errors.As(err, &ae) || ae.Status != 500 || ae.Message != "Could not stop playback" {
			t.Errorf("stop digits: %v", err)
		}
		// A queued one is cancelled.
		if err := c.StopPlayback(ctx, "q"); err != nil {
			t.Errorf("stop queued: %v", err)
		}
		if err := c.StopPlayback(ctx, "q"); !errors.Is(err, ari.ErrNotFound) {
			t.Errorf("stop stopped: %v", err)
		}
		if _, err := c.Playback(ctx, "d"); err != nil {
			t.Errorf("get playing: %v", err)
		}
	})
}
