package agitest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Call describes one simulated inbound call: what Asterisk knows about it
// and how the caller behaves. Zero fields take the defaults noted.
type Call struct {
	// Request is the AGI() URL (agi_request). Default:
	// "agi://<addr>/screen" for Dial, "agi://127.0.0.1:4573/screen"
	// otherwise.
	Request string
	// Args are the AGI() arguments after the URL (agi_arg_1 …).
	Args []string
	// CallerID and CallerIDName are sent as "unknown" when "".
	CallerID, CallerIDName string
	// CallingPres is agi_callingpres (0 allowed_not_screened, 35 prohib, …).
	CallingPres int
	// DNID and RDNIS are sent as "unknown" when "".
	DNID, RDNIS string
	// Extension (default "15551230000"), Context (default "from-trunk"),
	// Priority (default "1").
	Extension, Context, Priority string
	// Channel (default "PJSIP/trunk-00000001"); agi_type is its technology.
	Channel string
	// UniqueID (default "1712345678.1"), Language (default "en"),
	// AccountCode (default ""), ThreadID (default "140000000000000").
	UniqueID, Language, AccountCode, ThreadID string
	// Vars are channel variables set before AGI() ran (CALLSCREEN_ID, or
	// AGISIGHUP=no / AGIEXITONHANGUP=yes to change how hangup is
	// signalled), and values for dialplan functions read by GET VARIABLE
	// and GET FULL VARIABLE ("CALLERID(num-pres)": "prohib"). Functions
	// not given here are computed from the call where the simulator knows
	// them (CALLERID(num|name|all|num-pres|name-pres|pres|dnid|rdnis),
	// CHANNEL, UNIQUEID, CONTEXT, EXTEN, PRIORITY, CHANNEL(language)).
	// Dial and Play do not modify the map.
	Vars map[string]string
	// Sounds maps the sound files that exist to their length in samples.
	// nil: every file exists ("beep" is 3404 samples, others 8000).
	// STREAM FILE of a missing file answers result=-1 and ends the AGI
	// with FAILURE; GET DATA answers result=-1; SAY DIGITS says only the
	// digits whose digits/N exists and answers 0 at once when none does.
	// On disk (${STAT()}), a sound is DataDir/sounds/en/NAME.{wav,ulaw,gsm}.
	Sounds map[string]int64
	// Latency delays the reply to every command that plays or reads
	// digits, as a caller listening would. If the server writes anything
	// meanwhile, the command ends without a reply, as in Asterisk
	// (WAIT FOR DIGIT answers result=1). Default 0.
	Latency time.Duration
	// Caller scripts the caller.
	Caller Caller
	// NoMSet is an Asterisk without the MSet application: EXEC MSet
	// answers result=-2 like any unknown application.
	NoMSet bool
	// Stdio makes the simulator read commands as run_agi does (res_agi.c:
	// fgets on a stdio stream over the socket, called only when
	// ast_waitfor_nandfds sees the socket readable): when one read brings
	// several command lines, the first is run and the others wait in the
	// stdio buffer until more bytes reach the socket. A server that writes
	// a command before it read the previous reply (as a server desynced by
	// a caller name with line breaks does) then gets no reply to it. Off,
	// every received line counts as socket activity (simpler for tests
	// that interrupt media by writing during it).
	//
	// CallerID and CallerIDName are always written raw, as setup_env does:
	// a name with line breaks reaches the server as extra lines, and GET
	// VARIABLE CALLERID(name) answers with them too. Stdio plus such a name
	// is the hostile caller of caller-name-with-newlines.txt.
	Stdio bool
}

// Caller scripts what the caller does.
type Caller struct {
	// Keys is what the caller types, one entry per GET DATA or WAIT FOR
	// DIGIT, in order. GET DATA takes a whole entry: digits up to its
	// maxdigits are returned; a "#" ends the entry early; an entry
	// shorter than maxdigits without "#" ends in a timeout; "" is
	// silence (`200 result= (timeout)`). WAIT FOR DIGIT takes the
	// entry's first key ("" is silence: result=0). Once Keys run out the
	// caller is silent.
	Keys []string
	// Auto makes the caller type back, at a GET DATA once Keys have run
	// out, the digits last heard, through SAY DIGITS or through a run of
	// STREAM FILEs of files named digits/N (a human passing a challenge).
	Auto bool
	// Barge is what the caller presses during each STREAM FILE or SAY
	// DIGITS, in order: a key in the command's escape digits interrupts
	// it and is returned; "" (or a key not in them) lets it play out.
	Barge []string
	// HangupAfter makes the caller hang up after this many commands have
	// been answered (0: never). The caller leaves while the next command
	// runs: a command that plays or reads digits answers result=-1 and
	// Asterisk's HANGUP line follows before the next reply; any other
	// command gets HANGUP then its dead-channel reply (511 unless it is
	// allowed on a dead channel).
	HangupAfter int
	// HangupIdle makes the caller of HangupAfter leave right after that
	// reply instead, while the server is idle: HANGUP arrives unprompted.
	HangupIdle bool
	// NoticeDelay is how long after a result=-1 Asterisk's HANGUP line
	// arrives when the server sends nothing more (default 100 ms;
	// negative: only before the next reply).
	NoticeDelay time.Duration
}

// ConnectTimeout bounds Dial's connection, as Asterisk's MAX_AGI_CONNECT
// (2s, res_agi.c) does. A loopback connection is made at once, unless the
// process is starved of CPU for seconds: test packages that must pass on a
// busy machine raise it (in an init function), since how long Asterisk
// waits is not what they test.
var ConnectTimeout = 2 * time.Second

// Dial connects to the FastAGI server at addr ("127.0.0.1:4573") and plays
// the call to its end: until the server closes the connection, ctx is
// done, or Asterisk would end the session (AGIEXITONHANGUP, a "failure"
// line). The transcript is returned even with an error. A connection that
// cannot be made within ConnectTimeout is an error with Status FAILURE,
// as Asterisk would set AGISTATUS.
func Dial(ctx context.Context, addr string, c Call) (*Transcript, error) {
	if c.Request == "" {
		c.Request = "agi://" + addr + "/screen"
	}
	dctx, cancel := context.WithTimeout(ctx, ConnectTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return &Transcript{Status: "FAILURE", Vars: map[string]string{"AGISTATUS": "FAILURE"}},
			fmt.Errorf("agitest dial %s: %w", addr, err)
	}
	return Play(ctx, conn, c)
}

// Play plays the call on an open connection (Asterisk's side of it) and
// closes it at the end; see Dial. On a connection without kernel buffering
// (net.Pipe) lines are written from a separate goroutine, so an unprompted
// HANGUP cannot deadlock against a server that is writing.
func Play(ctx context.Context, conn net.Conn, c Call) (*Transcript, error) {
	s := newSim(conn, c)
	return s.run(ctx)
}

// Pipe runs serve on one end of an in-memory connection and plays the call
// on the other, then waits for serve to return. serve is typically
// (*agi.Server).ServeConn.
func Pipe(ctx context.Context, serve func(ctx context.Context, conn net.Conn), c Call) (*Transcript, error) {
	server, client := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer server.Close()
		serve(ctx, server)
	}()
	t, err := Play(ctx, client, c)
	<-done
	return t, err
}

// EnvBlock returns the environment block Asterisk 22 sends for c, in its
// order, ended by the empty line.
func EnvBlock(c Call) []byte {
	c = c.withDefaults()
	var b strings.Builder
	w := func(k, v string) {
		b.WriteString(k)
		b.WriteString(": ")
		b.WriteString(v)
		b.WriteByte('\n')
	}
	w("agi_network", "yes")
	if script := scriptOf(c.Request); script != "" {
		w("agi_network_script", script)
	}
	w("agi_request", c.Request)
	w("agi_channel", c.Channel)
	w("agi_language", c.Language)
	tech, _, _ := strings.Cut(c.Channel, "/")
	w("agi_type", tech)
	w("agi_uniqueid", c.UniqueID)
	w("agi_version", "22.10.1")
	w("agi_callerid", orUnknown(c.CallerID))
	w("agi_calleridname", orUnknown(c.CallerIDName))
	w("agi_callingpres", strconv.Itoa(c.CallingPres))
	w("agi_callingani2", "0")
	w("agi_callington", "0")
	w("agi_callingtns", "0")
	w("agi_dnid", orUnknown(c.DNID))
	w("agi_rdnis", orUnknown(c.RDNIS))
	w("agi_context", c.Context)
	w("agi_extension", c.Extension)
	w("agi_priority", c.Priority)
	w("agi_enhanced", "0.0")
	w("agi_accountcode", c.AccountCode)
	w("agi_threadid", c.ThreadID)
	for i, a := range c.Args {
		w("agi_arg_"+strconv.Itoa(i+1), a)
	}
	b.WriteByte('\n')
	return []byte(b.String())
}

func (c Call) withDefaults() Call {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&c.Request, "agi://127.0.0.1:4573/screen")
	def(&c.Extension, "15551230000")
	def(&c.Context, "from-trunk")
	def(&c.Priority, "1")
	def(&c.Channel, "PJSIP/trunk-00000001")
	def(&c.UniqueID, "1712345678.1")
	def(&c.Language, "en")
	def(&c.ThreadID, "140000000000000")
	if c.Caller.NoticeDelay == 0 {
		c.Caller.NoticeDelay = 100 * time.Millisecond
	}
	return c
}

// scriptOf is agi_network_script: the text after the first "/" that
// follows the host of an agi:// URL, query included.
func scriptOf(request string) string {
	_, rest, ok := strings.Cut(request, "://")
	if !ok {
		return ""
	}
	_, script, _ := strings.Cut(rest, "/")
	return script
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
