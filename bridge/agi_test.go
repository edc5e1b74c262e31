package bridge

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callscreen/callscreen/agi"
	"github.com/callscreen/callscreen/agi/agitest"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/screen"
)

// syncBuffer is a log sink the test can read while servers write to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var update = flag.Bool("update", false, "rewrite the golden transcripts in testdata")

// serve starts a FastAGI server on 127.0.0.1:0 screening with f.
func serve(t *testing.T, f *screen.Flow) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &agi.Server{Handler: AGIHandler(func() *screen.Flow { return f }), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ctx, l)
	}()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
		cancel()
		<-done
	})
	return l.Addr().String()
}

// seen makes f's PBXes known: the calls the tests place then show the
// steady state, without the check of a PBX's first call (firstContact in
// package screen; "agi-first-contact" shows that call). The simulated
// Asterisk calls from 127.0.0.1, net.Pipe from "pipe".
func seen(f *screen.Flow) *screen.Flow {
	if f.Prompts == nil {
		f.Prompts = &screen.Prompts{Logger: f.Logger, Metrics: f.Metrics}
	}
	f.Prompts.FirstContact("127.0.0.1")
	f.Prompts.FirstContact("pipe")
	return f
}

func testFlow(logs io.Writer) *screen.Flow {
	return seen(newTestFlow(logs))
}

func newTestFlow(logs io.Writer) *screen.Flow {
	blocked := "+12125550666"
	return &screen.Flow{
		Source: reputation.SourceFunc(func(_ context.Context, q reputation.Query) (reputation.Verdict, error) {
			var v reputation.Verdict
			if q.Caller.E164 == blocked {
				v.Tier = policy.TierSpam
				v.Reasons = []policy.Reason{policy.ListBlock}
				v.Final = true
			}
			return v, nil
		}),
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Digits: func(n int) string { return "4721"[:n] },
	}
}

// golden compares a transcript with testdata/NAME.txt, with the decision
// id (random) replaced by a placeholder.
func golden(t *testing.T, name string, tr *agitest.Transcript) {
	t.Helper()
	id := tr.Vars[decision.VarID]
	var b strings.Builder
	for _, l := range tr.Lines {
		s := l.String()
		if id != "" {
			s = strings.ReplaceAll(s, id, "<CALLSCREEN_ID>")
		}
		b.WriteString(s + "\n")
	}
	path := filepath.Join("testdata", name+".txt")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./bridge -update)", err)
	}
	if b.String() != string(want) {
		t.Fatalf("transcript %s differs from %s (go test ./bridge -update to accept):\n%s", name, path, b.String())
	}
}

func TestAGITranscripts(t *testing.T) {
	tests := []struct {
		name  string
		call  agitest.Call
		vars  map[string]string
		first bool // the PBX's first call
	}{
		{
			name: "agi-allow",
			call: agitest.Call{CallerID: "+12125551234", CallerIDName: "John Q. Public"},
			vars: map[string]string{"CALLSCREEN_RESULT": "allow", "CALLSCREEN_TIER": "UNKNOWN", "CALLSCREEN_CHALLENGE": "none"},
		},
		{
			name: "agi-allow-screened-argument",
			call: agitest.Call{CallerID: "+12125551234", Args: []string{"screened="}},
			vars: map[string]string{"CALLSCREEN_RESULT": "allow", "CALLSCREEN_TIER": "UNKNOWN"},
		},
		{
			name: "agi-block",
			call: agitest.Call{CallerID: "+12125550666", CallerIDName: "Robo"},
			vars: map[string]string{"CALLSCREEN_RESULT": "block", "CALLSCREEN_REASONS": "list.block"},
		},
		{
			name: "agi-challenge-pass",
			call: agitest.Call{CallerID: "+12125551234", CallingPres: 35, Caller: agitest.Caller{Auto: true}},
			vars: map[string]string{"CALLSCREEN_RESULT": "allow", "CALLSCREEN_ACTION": "challenge", "CALLSCREEN_CHALLENGE": "passed"},
		},
		{
			name: "agi-challenge-barge-in",
			call: agitest.Call{CallerID: "+12125551234", CallingPres: 35, Caller: agitest.Caller{Barge: []string{"", "4"}, Keys: []string{"72"}}},
			vars: map[string]string{"CALLSCREEN_RESULT": "allow", "CALLSCREEN_CHALLENGE": "passed"},
		},
		{
			// The first call from a PBX: every profile's sounds are
			// checked beside the lookup (three GET FULL VARIABLE), once.
			name:  "agi-first-contact",
			call:  agitest.Call{CallerID: "+12125551234", CallerIDName: "John Q. Public", Args: []string{"screened="}},
			vars:  map[string]string{"CALLSCREEN_RESULT": "allow", "CALLSCREEN_TIER": "UNKNOWN", "CALLSCREEN_CHALLENGE": "none"},
			first: true,
		},
		{
			name: "agi-challenge-hangup",
			// GET VARIABLE, 3 prompt checks, ANSWER, the intro: the
			// caller leaves while the first digit plays.
			call: agitest.Call{CallerID: "+12125551234", CallingPres: 35, Caller: agitest.Caller{HangupAfter: 6}},
			vars: map[string]string{"CALLSCREEN_RESULT": "block", "CALLSCREEN_CHALLENGE": "abandoned"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs syncBuffer
			f := testFlow(&logs)
			if tt.first {
				f = newTestFlow(&logs)
			}
			addr := serve(t, f)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			tt.call.Request = "agi://127.0.0.1:4573/screen" // the same in every run
			tr, err := agitest.Dial(ctx, addr, tt.call)
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.vars {
				if got := tr.Vars[k]; got != want {
					t.Errorf("%s = %q; want %q", k, got, want)
				}
			}
			if len(tr.Vars[decision.VarID]) != screen.IDLen {
				t.Errorf("%s = %q", decision.VarID, tr.Vars[decision.VarID])
			}
			if strings.Contains(logs.String(), "level=ERROR") || strings.Contains(logs.String(), "level=WARN") {
				t.Errorf("logs:\n%s", logs.String())
			}
			for _, c := range tr.Commands {
				// The prompts were checked: result=-1 means a hangup, with
				// no round trip to ask.
				if strings.HasPrefix(c, "CHANNEL STATUS") || strings.HasPrefix(c, "SAY DIGITS") {
					t.Errorf("sent %q", c)
				}
			}
			golden(t, tt.name, tr)
		})
	}
}

// TestMissingPromptFailsOpen: Asterisk answers result=-1 to STREAM FILE of
// a missing sound, as it does on hangup. The bridge tells them apart, so
// a PBX without the prompts installed lets challenged callers through
// instead of blocking them as abandoned.
func TestMissingPromptFailsOpen(t *testing.T) {
	var logs syncBuffer
	addr := serve(t, testFlow(&logs))
	tr, err := agitest.Dial(callCtx(t), addr, agitest.Call{
		CallerID: "anonymous", Sounds: map[string]int64{"beep": 3404},
		Caller: agitest.Caller{Auto: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Vars["CALLSCREEN_RESULT"] != "allow" || tr.Vars["CALLSCREEN_CHALLENGE"] != "none" ||
		!strings.Contains(tr.Vars["CALLSCREEN_REASONS"], "challenge.unavailable") {
		t.Fatalf("vars %v\n%s", tr.Vars, strings.Join(tr.Commands, "\n"))
	}
	if tr.Answered || len(tr.Played) > 0 {
		t.Fatalf("answered %v, played %q: nothing may be played before the prompts are known to exist", tr.Answered, tr.Played)
	}
	if tr.Status != "SUCCESS" {
		t.Fatalf("AGISTATUS %s; want SUCCESS (no STREAM FILE of a missing file)", tr.Status)
	}
}

func TestAGIInfo(t *testing.T) {
	tests := []struct {
		name string
		env  agi.Env
		want decision.CallInfo
	}{
		{
			name: "query",
			env: agi.Env{UniqueID: "1.2", Channel: "PJSIP/x-1", CallerID: "+12125551234", CallerIDName: "J", CallingPres: 35,
				DNID: "5551230000", Extension: "s", Params: map[string][]string{"profile": {"sales"}, "tenant": {"acme"}}},
			want: decision.CallInfo{ID: "1.2", Channel: "PJSIP/x-1", CallerNumber: "+12125551234", CallerName: "J", PresentationCode: 35,
				Dialed: "5551230000", Extension: "s", Profile: "sales", Tenant: "acme", Transport: "agi"},
		},
		{
			name: "arguments and extension",
			env:  agi.Env{CallingPres: -1, Extension: "15551230000", Args: []string{"x=1", "profile=support", "tenant=t1"}},
			want: decision.CallInfo{PresentationCode: -1, Dialed: "15551230000", Extension: "15551230000", Profile: "support", Tenant: "t1", Transport: "agi"},
		},
		{
			name: "screened handed over",
			env:  agi.Env{Args: []string{"screened=01ABC"}},
			want: decision.CallInfo{Screened: "01ABC", ScreenedKnown: true, Transport: "agi"},
		},
		{
			name: "screened handed over empty",
			env:  agi.Env{Args: []string{"screened="}},
			want: decision.CallInfo{ScreenedKnown: true, Transport: "agi"},
		},
		{
			name: "STIR/SHAKEN result handed over",
			env:  agi.Env{Args: []string{"screened=", "attest=A", "verify=success"}},
			want: decision.CallInfo{ScreenedKnown: true, Attestation: "A", VerifyResult: "success", Transport: "agi"},
		},
		{
			name: "query wins over arguments",
			env:  agi.Env{Params: map[string][]string{"profile": {"a"}}, Args: []string{"profile=b"}},
			want: decision.CallInfo{Profile: "a", Transport: "agi"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AGIInfo(&tt.env); got != tt.want {
				t.Fatalf("AGIInfo\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// callCtx bounds a simulated call: no test client waits for ever.
func callCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
