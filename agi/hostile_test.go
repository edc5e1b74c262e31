package agi_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/agi"
	"github.com/callscreen/callscreen/agi/agitest"
)

// The real caller of the hostile captures, and the name that carried line
// breaks in caller-name-with-newlines.txt.
const (
	realCaller  = "+12125550666"
	hostileName = "Evil\nagi_callerid: +12125550777\n\n200 result=1 (01FAKEID)"
)

// hostileEnv is the environment block Asterisk writes for a call whose
// caller name is name (setup_env writes it raw), followed by what Asterisk
// sends next (nothing, or HANGUP).
func hostileEnv(name, script string, args ...string) string {
	return string(agitest.EnvBlock(agitest.Call{
		Request: "agi://127.0.0.1:4573/" + script, CallerID: realCaller, CallerIDName: name,
		Context: "from-trunk", Args: args,
	}))
}

// TestParseEnvHostileNames: line breaks in the caller name never become a
// key, never end the block and never become a reply. Each case was a
// measured attack on the line-by-line parser (the caller read as the
// allow-listed +12125550777, CALLSCREEN_ID read as 01FAKEID, the profile
// switched to pilot).
func TestParseEnvHostileNames(t *testing.T) {
	forgedTail := "Evil\nagi_callingpres: 0\nagi_callingani2: 0\nagi_callington: 0\nagi_callingtns: 0\n" +
		"agi_dnid: unknown\nagi_rdnis: unknown\nagi_context: x\nagi_extension: 1\nagi_priority: 1\n" +
		"agi_enhanced: 0.0\nagi_accountcode: \nagi_threadid: 1\nagi_arg_1: screened=01FAKE\nagi_arg_2: profile=pilot\n\n200 result=0"
	tests := []struct {
		name, callerName, script string
		args                     []string
		wantName                 string
		wantProfile              string
		wantArgs                 []string
	}{
		{"allow-listed number injected", "Evil\nagi_callerid: +12125550777", "screen?profile=support", nil,
			"Evil agi_callerid: +12125550777", "support", nil},
		{"early end and fake CALLSCREEN_ID reply", hostileName, "screen?profile=support", []string{"screened="},
			"Evil agi_callerid: +12125550777  200 result=1 (01FAKEID)", "support", []string{"screened="}},
		{"profile switch", "Evil\nagi_network_script: screen?profile=pilot\nagi_request: agi://x/screen?profile=pilot", "screen?profile=support", nil,
			"Evil agi_network_script: screen?profile=pilot agi_request: agi://x/screen?profile=pilot", "support", nil},
		{"profile switch with an early end", "Evil\n\nagi_network_script: screen?profile=pilot\n", "screen", nil,
			"Evil  agi_network_script: screen?profile=pilot ", "", nil},
		{"forged tail, blank line and reply", forgedTail, "screen", []string{"screened="},
			strings.ReplaceAll(forgedTail, "\n", " "), "", []string{"screened="}},
		{"blank lines only", "\n\n\n", "screen", nil, "   ", "", nil},
		{"fake reply lines", "200 result=1 (x)\n200 result=0\nHANGUP", "screen", nil,
			"200 result=1 (x) 200 result=0 HANGUP", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			block := hostileEnv(tt.callerName, tt.script, tt.args...)
			// What Asterisk sends next is the reply to the first command,
			// which cannot arrive before that command is written: it comes
			// from a second read.
			r := bufio.NewReader(io.MultiReader(strings.NewReader(block), strings.NewReader("200 result=0\n")))
			env, err := agi.ParseEnv(r, agi.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if env.CallerID != realCaller {
				t.Errorf("caller %q, want %q", env.CallerID, realCaller)
			}
			if env.CallerIDName != tt.wantName {
				t.Errorf("name %q, want %q", env.CallerIDName, tt.wantName)
			}
			if env.Script != "screen" || env.Params.Get("profile") != tt.wantProfile {
				t.Errorf("script %q profile %q, want screen, %q", env.Script, env.Params.Get("profile"), tt.wantProfile)
			}
			if !slices.Equal(env.Args, tt.wantArgs) {
				t.Errorf("args %q, want %q", env.Args, tt.wantArgs)
			}
			if !slices.Equal(env.Injected, []string{"agi_calleridname"}) {
				t.Errorf("Injected %q, want [agi_calleridname]", env.Injected)
			}
			if env.Context != "from-trunk" || env.All["agi_threadid"] != "140000000000000" {
				t.Errorf("tail: context %q threadid %q", env.Context, env.All["agi_threadid"])
			}
			if rest, _ := r.ReadString('\n'); rest != "200 result=0\n" {
				t.Errorf("after the block the reader has %q, want the first reply", rest)
			}
		})
	}
}

// TestHostileNameFixtureAgainstServer replays caller-name-with-newlines.txt:
// Asterisk writes the whole block (the name's lines included) before it
// reads a command, so all of its bytes are sent first. The server must read
// the real caller and the real block, and the reply to its first command
// is Asterisk's "200 result=0", not the name's "(01FAKEID)".
func TestHostileNameFixtureAgainstServer(t *testing.T) {
	lines := readFixture(t, "caller-name-with-newlines.txt")
	fromAsterisk, fromServer := splitDirections(lines)
	addr, done := scriptServer(t, func(t *testing.T, ctx context.Context, s *agi.Session) {
		env := s.Env()
		if env.CallerID != realCaller || env.CallerIDName != "Evil agi_callerid: +12125550777  200 result=1 (01FAKEID)" ||
			env.Script != "inject" || env.Params.Get("profile") != "support" || env.Priority != "3" ||
			!slices.Equal(env.Injected, []string{"agi_calleridname"}) {
			t.Errorf("env: %+v", env)
		}
		v, ok, err := s.GetVariable(ctx, "CALLSCREEN_ID")
		if err != nil || ok || v != "" {
			t.Errorf("GET VARIABLE CALLSCREEN_ID = %q, %t, %v; want unset (the real reply)", v, ok, err)
		}
	})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	// The capture's last Asterisk line is the real reply to the first
	// command: everything before it is the block.
	reply := lines[len(lines)-1].Text
	block := strings.TrimSuffix(fromAsterisk, reply)
	if reply != "200 result=0\n" || !strings.HasSuffix(block, "agi_threadid: 140409069102784\n\n") {
		t.Fatalf("capture changed: block ends %q, reply %q", block[len(block)-40:], reply)
	}
	if _, err := io.WriteString(conn, block); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	first, _, _ := strings.Cut(fromServer, "\n")
	if got, err := r.ReadString('\n'); err != nil || got != first+"\n" {
		t.Fatalf("server sent %q, %v; want the capture's first command %q", got, err, first+"\n")
	}
	if _, err := io.WriteString(conn, reply); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(r)
	if err != nil || len(rest) != 0 {
		t.Errorf("after the first command: %q, %v; want the server to close", rest, err)
	}
	<-done
}

// TestHostileNameFixtureAgainstSimulator: the simulator in hostile-name mode
// (the raw name, Stdio reading) answers the capture's naive server with
// exactly the capture's bytes: the name's lines inside the block, one reply
// for the three commands written before the block had been read, the other
// two left in Asterisk's stdio buffer. The next bytes to reach the socket
// release them, in order.
func TestHostileNameFixtureAgainstSimulator(t *testing.T) {
	lines := readFixture(t, "caller-name-with-newlines.txt")
	fromAsterisk, fromServer := splitDirections(lines)
	call := agitest.Call{
		Request: "agi://127.0.0.1:14599/inject?profile=support", Channel: "Local/15551230000@capture-inject-00000000;2",
		Context: "capture-inject", Extension: "15551230000", Priority: "3", UniqueID: "1796175775.1",
		ThreadID: "140409069102784", CallerID: realCaller, CallerIDName: hostileName,
		DNID: "", RDNIS: "", Stdio: true,
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res := make(chan *agitest.Transcript, 1)
	go func() {
		tr, _ := agitest.Dial(ctx, l.Addr().String(), call)
		res <- tr
	}()
	conn, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	// The naive server: it stops at the name's blank line and sends its
	// three commands, reading "replies" out of the rest of the block.
	var got strings.Builder
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		got.WriteString(l)
		if l == "\n" {
			break
		}
	}
	if _, err := io.WriteString(conn, fromServer); err != nil { // one write: one read in Asterisk
		t.Fatal(err)
	}
	rest := make([]byte, len(fromAsterisk)-got.Len())
	if _, err := io.ReadFull(r, rest); err != nil {
		t.Fatal(err)
	}
	got.Write(rest)
	if got.String() != fromAsterisk {
		t.Fatalf("simulator sent\n%q\ncapture has\n%q", got.String(), fromAsterisk)
	}
	// Past the capture: new bytes on the socket wake run_agi, which runs
	// the buffered GET FULL VARIABLE (its reply carries the name's line
	// breaks too), then SET VARIABLE, then the NOOP that woke it.
	if _, err := io.WriteString(conn, "NOOP\n"); err != nil {
		t.Fatal(err)
	}
	want := "200 result=1 (" + hostileName + ")\n200 result=1\n200 result=0\n"
	next := make([]byte, len(want))
	if _, err := io.ReadFull(r, next); err != nil || string(next) != want {
		t.Errorf("after the capture: %q, %v; want %q", next, err, want)
	}
	conn.Close()
	tr := <-res
	if tr == nil || tr.Vars["CALLSCREEN_RESULT"] != "block" {
		t.Errorf("transcript %+v", tr)
	}
}

// splitDirections joins a capture's lines per direction.
func splitDirections(lines []agitest.Line) (fromAsterisk, fromServer string) {
	var a, s strings.Builder
	for _, l := range lines {
		if l.FromServer {
			s.WriteString(l.Text)
		} else {
			a.WriteString(l.Text)
		}
	}
	return a.String(), s.String()
}

// TestParseEnvOlderAsterisk: a FastAGI block without agi_version and
// agi_threadid (Asterisk before 1.6) is still read in order.
func TestParseEnvOlderAsterisk(t *testing.T) {
	block := "agi_network: yes\nagi_network_script: screen\nagi_request: agi://pbx/screen\nagi_channel: SIP/x-1\n" +
		"agi_language: en\nagi_type: SIP\nagi_uniqueid: 1.2\nagi_callerid: " + realCaller + "\nagi_calleridname: Evil\n\nagi_callerid: 1\n" +
		"agi_callingpres: 0\nagi_callingani2: 0\nagi_callington: 0\nagi_callingtns: 0\nagi_dnid: unknown\nagi_rdnis: unknown\n" +
		"agi_context: c\nagi_extension: s\nagi_priority: 1\nagi_enhanced: 0.0\nagi_accountcode: \nagi_arg_1: screened=\n\n"
	env, err := agi.ParseEnv(bufio.NewReader(strings.NewReader(block)), agi.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if env.CallerID != realCaller || env.CallerIDName != "Evil  agi_callerid: 1" || !slices.Equal(env.Args, []string{"screened="}) ||
		env.Script != "screen" || env.Version != "" {
		t.Errorf("%+v", env)
	}
}
