package dialplan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/agi"
	"github.com/callscreen/callscreen/agi/agitest"
	"github.com/callscreen/callscreen/ari"
	"github.com/callscreen/callscreen/ari/aritest"
	"github.com/callscreen/callscreen/bridge"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/screen"
)

// step is one priority of an extension.
type step struct {
	label, app, data string
}

// parse reads the contexts of a dialplan file: exten => ... and same => ...
// lines, comments stripped.
func parse(t *testing.T, path string) map[string]map[string][]step {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string][]step{}
	ctx, exten := "", ""
	line := regexp.MustCompile(`^(exten|same)\s*=>\s*(.*)$`)
	for n, raw := range strings.Split(string(b), "\n") {
		l := raw
		if i := strings.Index(l, ";"); i >= 0 {
			l = l[:i]
		}
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]") {
			ctx = l[1 : len(l)-1]
			out[ctx] = map[string][]step{}
			continue
		}
		m := line.FindStringSubmatch(l)
		if m == nil || ctx == "" {
			t.Fatalf("%s:%d: cannot read %q", path, n+1, raw)
		}
		rest := m[2]
		if m[1] == "exten" {
			parts := strings.SplitN(rest, ",", 3)
			if len(parts) != 3 || parts[1] != "1" {
				t.Fatalf("%s:%d: want exten => NAME,1,App(...): %q", path, n+1, raw)
			}
			exten, rest = parts[0], parts[2]
		} else {
			prio, app, ok := strings.Cut(rest, ",")
			if !ok || !strings.HasPrefix(prio, "n") {
				t.Fatalf("%s:%d: want same => n[(label)],App(...): %q", path, n+1, raw)
			}
			rest = app
			if strings.HasPrefix(prio, "n(") {
				rest = prio[2:len(prio)-1] + "\x00" + app
			}
		}
		label := ""
		if l, app, ok := strings.Cut(rest, "\x00"); ok {
			label, rest = l, app
		}
		open := strings.Index(rest, "(")
		if open < 0 || !strings.HasSuffix(rest, ")") {
			t.Fatalf("%s:%d: want App(data): %q", path, n+1, raw)
		}
		out[ctx][exten] = append(out[ctx][exten], step{label: label, app: rest[:open], data: rest[open+1 : len(rest)-1]})
	}
	return out
}

// channel is the state of one simulated call running the dialplan.
type channel struct {
	vars map[string]string
	// agi runs AGI(url): it returns the variables the AGI set and AGISTATUS.
	agi func(url string) map[string]string
	// stasis runs Stasis(app,args...): it returns the variables the
	// application set and STASISSTATUS.
	stasis     func(app string, args []string) map[string]string
	apps       []string // every application run, with its substituted data
	agiArgs    []string // the AGI() arguments after the URL
	stasisArgs []string // the Stasis() arguments after the application
	end        string   // how the routine ended: Return, Hangup(21), VoiceMail(...), Goto(...)
}

// subst expands ${VAR}, ${FUNC(args)} and $[expr] as the dialplan does,
// innermost first.
func (c *channel) subst(t *testing.T, s string) string {
	for {
		i := strings.LastIndex(s, "$[")
		j := strings.LastIndex(s, "${")
		start := max(i, j)
		if start < 0 {
			return s
		}
		closer := byte('}')
		if start == i {
			closer = ']'
		}
		end := strings.IndexByte(s[start:], closer)
		if end < 0 {
			t.Fatalf("unbalanced %q", s)
		}
		inner := s[start+2 : start+end]
		var val string
		if closer == ']' {
			val = c.expr(t, inner)
		} else {
			val = c.value(t, inner)
		}
		s = s[:start] + val + s[start+end+1:]
	}
}

// value reads a variable or one of the functions the include uses.
func (c *channel) value(t *testing.T, name string) string {
	switch {
	case strings.HasPrefix(name, "IF("):
		// As func_logic.c: split at the first '?', then the first ':'.
		cond, rest, _ := strings.Cut(name[3:len(name)-1], "?")
		a, b, _ := strings.Cut(rest, ":")
		if strings.TrimSpace(cond) == "1" {
			return a
		}
		return b
	case strings.HasPrefix(name, "CALLERID("):
		return c.vars[name]
	case strings.Contains(name, "("):
		t.Fatalf("function %q not known to the test interpreter", name)
	}
	return c.vars[name]
}

// expr evaluates "a" = "b" and "a" != "b".
func (c *channel) expr(t *testing.T, e string) string {
	for _, op := range []string{"!=", "="} {
		if l, r, ok := strings.Cut(e, op); ok {
			eq := strings.Trim(strings.TrimSpace(l), `"`) == strings.Trim(strings.TrimSpace(r), `"`)
			if (op == "=") == eq {
				return "1"
			}
			return "0"
		}
	}
	t.Fatalf("expression %q not known to the test interpreter", e)
	return ""
}

// gosub runs context,exten with ARG1, ARG2... until Return, Hangup or
// Goto.
func (c *channel) gosub(t *testing.T, plan map[string]map[string][]step, ctx, exten string, args ...string) {
	t.Helper()
	steps := plan[ctx][exten]
	if len(steps) == 0 {
		t.Fatalf("no %s,%s in the dialplan", ctx, exten)
	}
	for i, a := range args {
		name := fmt.Sprintf("ARG%d", i+1)
		saved, had := c.vars[name]
		c.vars[name] = a
		defer func() {
			if had {
				c.vars[name] = saved
			} else {
				delete(c.vars, name)
			}
		}()
	}
	goTo := func(label string) int {
		for i, s := range steps {
			if s.label == label {
				return i
			}
		}
		t.Fatalf("no label %q in %s,%s", label, ctx, exten)
		return -1
	}
	for pc, n := 0, 0; pc < len(steps); n++ {
		if n > 100 {
			t.Fatal("dialplan loops")
		}
		s := steps[pc]
		pc++
		data := c.subst(t, s.data)
		c.apps = append(c.apps, s.app+"("+data+")")
		switch s.app {
		case "NoOp", "Playback", "Dial":
		case "Set":
			c.set(data)
		case "ExecIf":
			cond, app, _ := strings.Cut(data, "?")
			if cond == "1" {
				if !strings.HasPrefix(app, "Set(") {
					t.Fatalf("ExecIf of %q not known to the test interpreter", app)
				}
				c.set(app[4 : len(app)-1])
			}
		case "GotoIf":
			cond, labels, _ := strings.Cut(data, "?")
			yes, no, _ := strings.Cut(labels, ":")
			switch {
			case cond == "1":
				pc = goTo(yes)
			case no != "":
				pc = goTo(no)
			}
		case "AGI":
			url, args, _ := strings.Cut(data, ",")
			c.agiArgs = strings.Split(args, ",")
			for k, v := range c.agi(url) {
				c.vars[k] = v
			}
		case "Stasis":
			app, args, _ := strings.Cut(data, ",")
			c.stasisArgs = strings.Split(args, ",")
			for k, v := range c.stasis(app, c.stasisArgs) {
				c.vars[k] = v
			}
		case "Gosub":
			target, arg, _ := strings.Cut(data, "(")
			parts := strings.Split(target, ",")
			c.gosub(t, plan, parts[0], parts[1], strings.Split(strings.TrimSuffix(arg, ")"), ",")...)
			if c.end != "Return" {
				return
			}
			c.end = ""
		case "Return":
			c.end = "Return"
			return
		case "Hangup", "VoiceMail", "Goto":
			c.end = s.app + "(" + data + ")"
			return
		default:
			t.Fatalf("application %s not known to the test interpreter", s.app)
		}
	}
	c.end = "fell off the end"
}

func (c *channel) set(data string) {
	name, val, _ := strings.Cut(data, "=")
	if strings.HasPrefix(name, "LOCAL(") {
		name = name[6 : len(name)-1]
	}
	c.vars[name] = val // "__NAME" is kept as written, to check inheritance
}

func newChannel(vars map[string]string, agiFn func(string) map[string]string) *channel {
	c := &channel{vars: map[string]string{"CALLERID(num)": "+12125551234", "CALLERID(all)": `"J" <+12125551234>`, "EXTEN": "15551230000"}, agi: agiFn}
	for k, v := range vars {
		c.vars[k] = v
	}
	return c
}

// TestRoutine runs the [callscreen] routine against every AGI outcome.
func TestRoutine(t *testing.T) {
	plan := parse(t, "callscreen.conf")
	ok := func(result string) map[string]string {
		return map[string]string{"AGISTATUS": "SUCCESS", "CALLSCREEN_RESULT": result, "CALLSCREEN_ID": "01ABC", "CALLSCREEN_REASONS": "list.block"}
	}
	tests := []struct {
		name   string
		vars   map[string]string
		agi    map[string]string
		end    string
		played bool
	}{
		{"allow", nil, ok("allow"), "Return", false},
		{"block", nil, ok("block"), "Hangup(21)", true},
		{"voicemail to a mailbox", map[string]string{"CALLSCREEN_VOICEMAIL": "100@default"}, ok("voicemail"), "VoiceMail(100@default,u)", false},
		{"voicemail through FreePBX", map[string]string{"CALLSCREEN_VOICEMAIL_GOTO": "ext-local,vmu100,1"}, ok("voicemail"), "Goto(ext-local,vmu100,1)", false},
		{"voicemail without a mailbox blocks", nil, ok("voicemail"), "Hangup(21)", true},
		{"callscreen unreachable", nil, map[string]string{"AGISTATUS": "FAILURE"}, "Return", false},
		{"unreachable after a stale result", nil, map[string]string{"AGISTATUS": "FAILURE", "CALLSCREEN_RESULT": "block"}, "Return", false},
		{"caller hung up during screening", nil, map[string]string{"AGISTATUS": "HANGUP", "CALLSCREEN_RESULT": "block"}, "Return", false},
		{"success without a result", nil, map[string]string{"AGISTATUS": "SUCCESS"}, "Return", false},
		{"unknown result value", nil, ok("reject"), "Return", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var url string
			c := newChannel(tt.vars, func(u string) map[string]string { url = u; return tt.agi })
			c.gosub(t, plan, "callscreen", "s", "sales")
			if c.end != tt.end {
				t.Fatalf("ended %q; want %q\n%s", c.end, tt.end, strings.Join(c.apps, "\n"))
			}
			if url != "agi://127.0.0.1/screen?profile=sales" {
				t.Fatalf("AGI URL %q", url)
			}
			if strings.Join(c.agiArgs, ",") != "screened="+tt.vars["CALLSCREEN_ID"] {
				t.Fatalf("AGI arguments %q", c.agiArgs)
			}
			if got := slices.Contains(c.apps, "Playback(callscreen/blocked)"); got != tt.played {
				t.Fatalf("played blocked = %v\n%s", got, strings.Join(c.apps, "\n"))
			}
			if tt.agi["AGISTATUS"] == "SUCCESS" && tt.agi["CALLSCREEN_ID"] != "" && c.vars["__CALLSCREEN_ID"] != tt.agi["CALLSCREEN_ID"] {
				t.Fatalf("CALLSCREEN_ID not made inheritable: %v", c.vars)
			}
		})
	}
}

func TestHostAndEmptyProfile(t *testing.T) {
	plan := parse(t, "callscreen.conf")
	var url string
	c := newChannel(map[string]string{"CALLSCREEN_HOST": "10.0.0.5:4600"}, func(u string) map[string]string {
		url = u
		return map[string]string{"AGISTATUS": "SUCCESS", "CALLSCREEN_RESULT": "allow"}
	})
	c.gosub(t, plan, "callscreen", "s", "")
	if url != "agi://10.0.0.5:4600/screen?profile=" || c.end != "Return" {
		t.Fatalf("url %q end %q", url, c.end)
	}
	if _, leaked := c.vars["__CALLSCREEN_ID"]; leaked {
		t.Fatal("an empty CALLSCREEN_ID was made inheritable")
	}
}

// TestExampleContext: the example inbound context screens, then rings.
func TestExampleContext(t *testing.T) {
	plan := parse(t, "callscreen.conf")
	c := newChannel(nil, func(string) map[string]string {
		return map[string]string{"AGISTATUS": "SUCCESS", "CALLSCREEN_RESULT": "allow"}
	})
	c.gosub(t, plan, "callscreen-example-inbound", "_X.", "")
	if !slices.Contains(c.apps, "Dial(PJSIP/100,30)") || c.end != "Hangup()" {
		t.Fatalf("example context: end %q\n%s", c.end, strings.Join(c.apps, "\n"))
	}
	blocked := newChannel(nil, func(string) map[string]string {
		return map[string]string{"AGISTATUS": "SUCCESS", "CALLSCREEN_RESULT": "block"}
	})
	blocked.gosub(t, plan, "callscreen-example-inbound", "_X.", "")
	if slices.Contains(blocked.apps, "Dial(PJSIP/100,30)") || blocked.end != "Hangup(21)" {
		t.Fatalf("blocked call rang: %q\n%s", blocked.end, strings.Join(blocked.apps, "\n"))
	}
}

// TestFreePBXContext: the trunk context for FreePBX screens, then enters
// from-pstn with the dialed number.
func TestFreePBXContext(t *testing.T) {
	plan := parse(t, "callscreen.conf")
	for result, end := range map[string]string{"allow": "Goto(from-pstn,15551230000,1)", "block": "Hangup(21)"} {
		c := newChannel(nil, func(string) map[string]string {
			return map[string]string{"AGISTATUS": "SUCCESS", "CALLSCREEN_RESULT": result}
		})
		c.gosub(t, plan, "from-pstn-callscreen", "_.", "")
		if c.end != end {
			t.Fatalf("%s: ended %q; want %q\n%s", result, c.end, end, strings.Join(c.apps, "\n"))
		}
	}
}

// TestContract checks the file against the variables the flow sets: every
// routing variable is documented in the header, the result values it
// branches on are the policy's, and every result other than allow is
// handled.
func TestContract(t *testing.T) {
	b, err := os.ReadFile("callscreen.conf")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, v := range decision.RoutingVars {
		if !strings.Contains(text, ";   "+v+" ") {
			t.Errorf("routing variable %s is not documented in callscreen.conf", v)
		}
	}
	own := map[string]bool{"CALLSCREEN_HOST": true, "CALLSCREEN_VOICEMAIL": true, "CALLSCREEN_VOICEMAIL_GOTO": true}
	for _, m := range regexp.MustCompile(`\$\{(?:__)?(CALLSCREEN_[A-Z_]+)\}`).FindAllStringSubmatch(text, -1) {
		if !own[m[1]] && !slices.Contains(decision.RoutingVars, m[1]) {
			t.Errorf("callscreen.conf reads %s, which the flow never sets", m[1])
		}
	}
	compared := map[string]bool{}
	for _, m := range regexp.MustCompile(`"\$\{CALLSCREEN_RESULT\}" = "([a-z]+)"`).FindAllStringSubmatch(text, -1) {
		if !policy.Result(m[1]).Valid() {
			t.Errorf("callscreen.conf compares CALLSCREEN_RESULT with %q, not a result", m[1])
		}
		compared[m[1]] = true
	}
	for _, r := range []policy.Result{policy.ResultBlock, policy.ResultVoicemail} {
		if !compared[string(r)] {
			t.Errorf("callscreen.conf does not handle CALLSCREEN_RESULT=%s", r)
		}
	}
	if !strings.Contains(text, `GotoIf($["${AGISTATUS}" != "SUCCESS"]?failopen)`) {
		t.Error("callscreen.conf does not treat AGISTATUS other than SUCCESS as allow")
	}
}

// blockFlow is the screening flow the real-flow tests run: +12125550666
// is on its block list, every other caller is unknown.
func blockFlow() *screen.Flow {
	return &screen.Flow{
		Source: reputation.SourceFunc(func(_ context.Context, q reputation.Query) (reputation.Verdict, error) {
			var v reputation.Verdict
			if q.Caller.E164 == "+12125550666" {
				v.Tier, v.Reasons, v.Final = policy.TierSpam, []policy.Reason{policy.ListBlock}, true
			}
			return v, nil
		}),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// TestRoutineWithRealFlow runs the routine with AGI() going to a real
// FastAGI server running the screening flow, through the simulated
// Asterisk.
func TestRoutineWithRealFlow(t *testing.T) {
	plan := parse(t, "callscreen.conf")
	flow := blockFlow()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &agi.Server{Handler: bridge.AGIHandler(func() *screen.Flow { return flow }), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	go func() { _ = srv.Serve(context.Background(), l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	addr := l.Addr().String()

	tests := []struct {
		name, caller string
		pres         int
		keys         agitest.Caller
		screened     string
		end          string
	}{
		{"unknown caller rings", "+12125551234", 0, agitest.Caller{}, "", "Return"},
		{"must-block is rejected", "+12125550666", 0, agitest.Caller{}, "", "Hangup(21)"},
		{"anonymous human passes", "+12125551234", 35, agitest.Caller{Auto: true}, "", "Return"},
		{"anonymous robot is rejected", "+12125551234", 35, agitest.Caller{}, "", "Hangup(21)"},
		{"a forwarded call is not screened twice", "+12125550666", 0, agitest.Caller{}, "01EARLIERSCREENING", "Return"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]string{"CALLSCREEN_HOST": addr}
			if tt.screened != "" {
				vars["CALLSCREEN_ID"] = tt.screened
			}
			var c *channel
			c = newChannel(vars, func(u string) map[string]string {
				pu, err := url.Parse(u)
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				tr, err := agitest.Dial(ctx, pu.Host, agitest.Call{Request: u, Args: c.agiArgs, CallerID: tt.caller, CallingPres: tt.pres, Caller: tt.keys,
					Vars: map[string]string{"CALLSCREEN_ID": tt.screened}})
				if err != nil {
					t.Fatal(err)
				}
				for _, cmd := range tr.Commands {
					if strings.HasPrefix(cmd, "GET VARIABLE CALLSCREEN_ID") {
						t.Errorf("the flow read CALLSCREEN_ID although the include handed it over")
					}
				}
				vars := map[string]string{"AGISTATUS": tr.Status}
				for _, v := range decision.RoutingVars {
					if val, ok := tr.Vars[v]; ok {
						vars[v] = val
					}
				}
				return vars
			})
			c.gosub(t, plan, "callscreen", "s", "default")
			if c.end != tt.end {
				t.Fatalf("ended %q; want %q\n%s", c.end, tt.end, fmt.Sprint(strings.Join(c.apps, "\n")))
			}
		})
	}
}

// TestARIRoutine runs the [callscreen-ari] routine against every Stasis
// outcome, and checks what it hands the application.
func TestARIRoutine(t *testing.T) {
	plan := parse(t, "callscreen-ari.conf")
	ok := func(result string) map[string]string {
		return map[string]string{"STASISSTATUS": "SUCCESS", "CALLSCREEN_RESULT": result, "CALLSCREEN_ID": "01ABC", "CALLSCREEN_REASONS": "list.block"}
	}
	tests := []struct {
		name   string
		vars   map[string]string
		stasis map[string]string
		app    string
		end    string
	}{
		{"allow", nil, ok("allow"), "callscreen", "Return"},
		{"block", nil, ok("block"), "callscreen", "Hangup(21)"},
		{"voicemail to a mailbox", map[string]string{"CALLSCREEN_VOICEMAIL": "100@default"}, ok("voicemail"), "callscreen", "VoiceMail(100@default,u)"},
		{"voicemail without a mailbox blocks", nil, ok("voicemail"), "callscreen", "Hangup(21)"},
		{"application not connected", nil, map[string]string{"STASISSTATUS": "FAILED"}, "callscreen", "Return"},
		{"not connected after a stale result", nil, map[string]string{"STASISSTATUS": "FAILED", "CALLSCREEN_RESULT": "block"}, "callscreen", "Return"},
		{"another application name", map[string]string{"CALLSCREEN_ARI_APP": "screen2"}, ok("allow"), "screen2", "Return"},
		{"screened before", map[string]string{"CALLSCREEN_ID": "01EARLIER"}, ok("allow"), "callscreen", "Return"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var app string
			c := newChannel(tt.vars, nil)
			c.stasis = func(a string, _ []string) map[string]string { app = a; return tt.stasis }
			c.gosub(t, plan, "callscreen-ari", "s", "sales", "acme")
			if c.end != tt.end {
				t.Fatalf("ended %q; want %q\n%s", c.end, tt.end, strings.Join(c.apps, "\n"))
			}
			if app != tt.app {
				t.Fatalf("Stasis application %q; want %q", app, tt.app)
			}
			want := []string{"profile=sales", "tenant=acme", "screened=" + tt.vars["CALLSCREEN_ID"]}
			if !slices.Equal(c.stasisArgs, want) {
				t.Fatalf("Stasis arguments %q; want %q", c.stasisArgs, want)
			}
			if tt.stasis["STASISSTATUS"] == "SUCCESS" && c.vars["__CALLSCREEN_ID"] != tt.stasis["CALLSCREEN_ID"] {
				t.Fatalf("CALLSCREEN_ID not made inheritable: %v", c.vars)
			}
		})
	}
}

// TestARIRoutineWithRealFlow runs the [callscreen-ari] routine with
// Stasis() entering a real ari.App running the screening flow, on a fake
// Asterisk.
func TestARIRoutineWithRealFlow(t *testing.T) {
	plan := parse(t, "callscreen-ari.conf")
	flow := blockFlow()
	srv := aritest.NewServer(aritest.Config{Username: "callscreen", Password: "pw", SoundDuration: 10 * time.Millisecond, DigitDuration: time.Millisecond})
	t.Cleanup(srv.Close)
	client, err := ari.NewClient(ari.ClientConfig{URL: srv.URL, Username: "callscreen", Password: "pw", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	app := &ari.App{Client: client, Name: "callscreen", Handler: bridge.ARIHandler(func() *screen.Flow { return flow }),
		Recover: bridge.ARIRecover(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = app.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := srv.WaitConnected(wctx, "callscreen"); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, caller string
		vars         map[string]string
		end          string
	}{
		{"unknown caller rings", "+12125551234", nil, "Return"},
		{"must-block is rejected", "+12125550666", nil, "Hangup(21)"},
		{"a forwarded call is not screened twice", "+12125550666", map[string]string{"CALLSCREEN_ID": "01EARLIERSCREENING"}, "Return"},
		{"application not connected rings", "+12125550666", map[string]string{"CALLSCREEN_ARI_APP": "elsewhere"}, "Return"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newChannel(tt.vars, nil)
			var ch *aritest.Channel
			c.stasis = func(app string, args []string) map[string]string {
				vars := map[string]string{}
				if id := tt.vars["CALLSCREEN_ID"]; id != "" {
					vars["CALLSCREEN_ID"] = id
				}
				var err error
				ch, err = srv.StartCall(app, aritest.CallSpec{CallerNumber: tt.caller, Args: args, Vars: vars})
				if errors.Is(err, aritest.ErrNotConnected) {
					return map[string]string{"STASISSTATUS": "FAILED"}
				}
				if err != nil {
					t.Fatal(err)
				}
				select {
				case <-ch.Done():
				case <-time.After(10 * time.Second):
					t.Fatal("the channel never left the application")
				}
				out := map[string]string{"STASISSTATUS": "SUCCESS"}
				for k, v := range ch.Vars() {
					if slices.Contains(decision.RoutingVars, k) {
						out[k] = v
					}
				}
				return out
			}
			c.gosub(t, plan, "callscreen-ari", "s", "default", "")
			if c.end != tt.end {
				t.Fatalf("ended %q; want %q\n%s", c.end, tt.end, strings.Join(c.apps, "\n"))
			}
			if ch == nil {
				return
			}
			for _, r := range srv.Requests() {
				if r.Method == http.MethodGet && strings.HasPrefix(r.Path, "/channels/"+ch.ID()+"/variable") && r.Query.Get("variable") == decision.VarID {
					t.Errorf("the flow read %s although the include handed it over", decision.VarID)
				}
			}
		})
	}
}
