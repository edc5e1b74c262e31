package dialplan

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
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

var update = flag.Bool("update", false, "rewrite the golden transcripts in testdata/")

// trace renders what a routine did, for the golden files: the arguments it
// handed over, every application it ran with its data substituted, the
// hangup handlers it pushed and how it ended.
func (c *channel) trace() string {
	var b strings.Builder
	if c.agiArgs != nil {
		fmt.Fprintf(&b, "AGI arguments: %q\n", c.agiArgs)
	}
	if c.stasisArgs != nil {
		fmt.Fprintf(&b, "Stasis arguments: %q\n", c.stasisArgs)
	}
	if len(c.stirReads) > 0 {
		fmt.Fprintf(&b, "STIR_SHAKEN reads: %q\n", c.stirReads)
	}
	if len(c.handlers) > 0 {
		fmt.Fprintf(&b, "hangup handlers: %q\n", c.handlers)
	}
	b.WriteString("applications:\n")
	for _, a := range c.apps {
		fmt.Fprintf(&b, "  %q\n", a)
	}
	fmt.Fprintf(&b, "end: %s\n", c.end)
	for _, k := range []string{"__CALLSCREEN_ID", "CALLERID(num)", "CALLERID(name)"} {
		if v, ok := c.vars[k]; ok {
			fmt.Fprintf(&b, "%s: %q\n", k, v)
		}
	}
	return b.String()
}

// golden compares got with testdata/DIR/NAME.golden, or writes it with -update.
func golden(t *testing.T, dir, name, got string) {
	t.Helper()
	file := strings.NewReplacer(" ", "-", "/", "-", ",", "", "'", "").Replace(name)
	path := filepath.Join("testdata", dir, file+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./dialplan -update)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (go test ./dialplan -update rewrites it):\n--- want\n%s--- got\n%s", path, want, got)
	}
}

// hostileName is a caller name with line breaks, as a CNAM dip can
// return it: unfiltered it would end AGI's environment block early
// (shared/fixtures/asterisk-22.10.1/agi/caller-name-with-newlines.txt).
const hostileName = "Evil\nagi_callerid: +12125550777\n\n200 result=1 (01FAKEID)"

// routineCase is one scripted run of a routine.
type routineCase struct {
	name    string
	vars    map[string]string
	modules []string
	stir    stir
	// out is what AGI() or Stasis() sets.
	out map[string]string
	end string
	// played says whether callscreen/blocked was played.
	played bool
	// args are the AGI() arguments after the URL (the Stasis ones after
	// profile and tenant).
	args []string
}

// routineCases are run against both routines: outcomes use AGISTATUS,
// which the ARI run renames STASISSTATUS.
func routineCases() []routineCase {
	ok := func(result string) map[string]string {
		return map[string]string{"AGISTATUS": "SUCCESS", "CALLSCREEN_RESULT": result, "CALLSCREEN_ID": "01ABC", "CALLSCREEN_REASONS": "list.block"}
	}
	with := func(m map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	stirMod := []string{"res_stir_shaken.so"}
	return []routineCase{
		{name: "allow", out: ok("allow"), end: "Return", args: []string{"screened="}},
		{name: "block", out: ok("block"), end: "Hangup(21)", played: true, args: []string{"screened="}},
		{name: "voicemail to a mailbox", vars: map[string]string{"CALLSCREEN_VOICEMAIL": "100@default"}, out: ok("voicemail"), end: "VoiceMail(100@default,u)", args: []string{"screened="}},
		{name: "voicemail through FreePBX", vars: map[string]string{"CALLSCREEN_VOICEMAIL_GOTO": "ext-local,vmu100,1"}, out: ok("voicemail"), end: "Goto(ext-local,vmu100,1)", args: []string{"screened="}},
		{name: "voicemail without a mailbox blocks", out: ok("voicemail"), end: "Hangup(21)", played: true, args: []string{"screened="}},
		{name: "callscreen unreachable", out: map[string]string{"AGISTATUS": "FAILURE"}, end: "Return", args: []string{"screened="}},
		{name: "unreachable after a stale result", vars: map[string]string{"CALLSCREEN_RESULT": "block"}, out: map[string]string{"AGISTATUS": "FAILURE"}, end: "Return", args: []string{"screened="}},
		{name: "a result set before a FAILURE is honoured", out: with(ok("block"), "AGISTATUS", "FAILURE"), end: "Hangup(21)", played: true, args: []string{"screened="}},
		{name: "an allow set before a FAILURE carries the id", out: with(ok("allow"), "AGISTATUS", "FAILURE"), end: "Return", args: []string{"screened="}},
		{name: "caller hung up during screening", out: with(ok("allow"), "AGISTATUS", "HANGUP"), end: "hung up", args: []string{"screened="}},
		{name: "success without a result", out: map[string]string{"AGISTATUS": "SUCCESS"}, end: "Return", args: []string{"screened="}},
		{name: "unknown result value", out: ok("reject"), end: "Return", args: []string{"screened="}},
		{name: "screened before", vars: map[string]string{"CALLSCREEN_ID": "01EARLIER"}, out: with(ok("allow"), "CALLSCREEN_ID", "01EARLIER"), end: "Return", args: []string{"screened=01EARLIER"}},
		{name: "caller name with line breaks", vars: map[string]string{"CALLERID(name)": hostileName, "CALLERID(num)": "+1212555\r0666"}, out: ok("allow"), end: "Return", args: []string{"screened="}},
		{name: "no caller id", vars: map[string]string{"CALLERID(name)": "", "CALLERID(num)": ""}, out: ok("allow"), end: "Return", args: []string{"screened="}},
		{name: "hangup handler after a block", vars: map[string]string{"CALLSCREEN_HANGUP_HANDLER": "callscreen-hangup-example,s,1"}, out: ok("block"), end: "Hangup(21)", played: true, args: []string{"screened="}},
		{name: "hangup handler after the caller left", vars: map[string]string{"CALLSCREEN_HANGUP_HANDLER": "callscreen-hangup-example,s,1"},
			out: with(ok("allow"), "AGISTATUS", "HANGUP", "CALLSCREEN_CHALLENGE", "abandoned"), end: "hung up", args: []string{"screened="}},
		{name: "stir without res_stir_shaken", stir: stir{count: 1, attestation: "A", verify: "success"}, out: ok("allow"), end: "Return", args: []string{"screened="}},
		{name: "stir without results", modules: stirMod, out: ok("allow"), end: "Return", args: []string{"screened="}},
		{name: "stir A verified", modules: stirMod, stir: stir{count: 1, attestation: "A", verify: "success"}, out: ok("allow"), end: "Return", args: []string{"screened=", "attest=A", "verify=success"}},
		{name: "stir C verified", modules: stirMod, stir: stir{count: 1, attestation: "C", verify: "success"}, out: ok("allow"), end: "Return", args: []string{"screened=", "attest=C", "verify=success"}},
		{name: "stir B with a failed check", modules: stirMod, stir: stir{count: 1, attestation: "B", verify: "cid_orig_tn_mismatch"}, out: ok("allow"), end: "Return", args: []string{"screened=", "attest=B", "verify=cid_orig_tn_mismatch"}},
		{name: "stir without an identity header", modules: stirMod, stir: stir{count: 1, verify: "missing_identity_hdr"}, out: ok("allow"), end: "Return", args: []string{"screened=", "attest=none"}},
		{name: "stir with a bad x5u", modules: stirMod, stir: stir{count: 1, verify: "invalid_or_no_x5u"}, out: ok("allow"), end: "Return", args: []string{"screened=", "attest=none"}},
		{name: "stir attestation cut to its letter", modules: stirMod, stir: stir{count: 2, attestation: "A,evil=1", verify: "success"}, out: ok("allow"), end: "Return", args: []string{"screened=", "attest=A", "verify=success"}},
	}
}

// run runs one case on the routine of file (AGI or Stasis).
func (tt routineCase) run(t *testing.T, p plan, ari bool) *channel {
	t.Helper()
	vars := tt.vars
	if h := vars["CALLSCREEN_HANGUP_HANDLER"]; ari && h != "" {
		vars = maps.Clone(vars)
		vars["CALLSCREEN_HANGUP_HANDLER"] = strings.Replace(h, "callscreen-", "callscreen-ari-", 1)
	}
	c := newChannel(vars, nil)
	for _, m := range tt.modules {
		c.modules[m] = true
	}
	c.stir = tt.stir
	out := tt.out
	if ari {
		out = map[string]string{}
		for k, v := range tt.out {
			switch {
			case k == "AGISTATUS" && v == "HANGUP":
				out["hangup"] = "1"
			case k == "AGISTATUS" && v == "FAILURE":
				out["STASISSTATUS"] = "FAILED"
			case k == "AGISTATUS":
				out["STASISSTATUS"] = v
			default:
				out[k] = v
			}
		}
		c.stasis = func(string, []string) map[string]string { return out }
		c.gosub(t, p, "callscreen-ari", "s", "sales", "acme")
	} else {
		c.agi = func(string) map[string]string { return out }
		c.gosub(t, p, "callscreen", "s", "sales")
	}
	if c.end == "hung up" || strings.HasPrefix(c.end, "Hangup(") {
		c.hangUp(t, p)
	}
	return c
}

// TestRoutine runs the [callscreen] routine against every AGI outcome and
// compares what it did with its golden transcript.
func TestRoutine(t *testing.T) {
	p := parse(t, "callscreen.conf")
	for _, tt := range routineCases() {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.run(t, p, false)
			url := c.apps[slices.IndexFunc(c.apps, func(a string) bool { return strings.HasPrefix(a, "AGI(") })]
			if c.end != tt.end {
				t.Fatalf("ended %q; want %q\n%s", c.end, tt.end, strings.Join(c.apps, "\n"))
			}
			if !strings.HasPrefix(url, "AGI(agi://127.0.0.1/screen?profile=sales,") {
				t.Fatalf("AGI %q", url)
			}
			if !slices.Equal(c.agiArgs, tt.args) {
				t.Fatalf("AGI arguments %q; want %q", c.agiArgs, tt.args)
			}
			tt.check(t, c)
			golden(t, "callscreen", tt.name, c.trace())
		})
	}
}

// check verifies what every run must show, whichever routine ran.
func (tt routineCase) check(t *testing.T, c *channel) {
	t.Helper()
	if got := slices.Contains(c.apps, "Playback(callscreen/blocked)"); got != tt.played {
		t.Fatalf("played blocked = %v\n%s", got, strings.Join(c.apps, "\n"))
	}
	if id := tt.out["CALLSCREEN_ID"]; id != "" && c.vars["__CALLSCREEN_ID"] != id && c.end != "hung up" {
		t.Fatalf("CALLSCREEN_ID not made inheritable: %v", c.vars)
	}
	for _, k := range []string{"CALLERID(name)", "CALLERID(num)"} {
		if strings.ContainsAny(c.vars[k], "\r\n") {
			t.Errorf("%s still holds a line break: %q", k, c.vars[k])
		}
		if tt.vars != nil {
			if v, set := tt.vars[k]; set && strings.ReplaceAll(strings.ReplaceAll(v, "\n", " "), "\r", " ") != c.vars[k] {
				t.Errorf("%s = %q; want %q with line breaks as spaces", k, c.vars[k], v)
			}
		}
	}
	if h := tt.vars["CALLSCREEN_HANGUP_HANDLER"]; h != "" {
		if len(c.handlers) != 1 || !strings.HasSuffix(c.handlers[0], strings.TrimPrefix(h, "callscreen")) {
			t.Errorf("hangup handlers %q; want %q", c.handlers, h)
		}
		want := fmt.Sprintf(`NoOp(callscreen: call ended, result "%s" challenge "%s" id "%s" reasons "%s")`,
			tt.out["CALLSCREEN_RESULT"], tt.out["CALLSCREEN_CHALLENGE"], tt.out["CALLSCREEN_ID"], tt.out["CALLSCREEN_REASONS"])
		if !slices.Contains(c.apps, want) {
			t.Errorf("the hangup handler did not see the routing variables: want %s in\n%s", want, strings.Join(c.apps, "\n"))
		}
	} else if len(c.handlers) > 0 {
		t.Errorf("hangup handlers %q pushed without CALLSCREEN_HANGUP_HANDLER", c.handlers)
	}
}

func TestHostAndEmptyProfile(t *testing.T) {
	p := parse(t, "callscreen.conf")
	var url string
	c := newChannel(map[string]string{"CALLSCREEN_HOST": "10.0.0.5:4600"}, func(u string) map[string]string {
		url = u
		return map[string]string{"AGISTATUS": "SUCCESS", "CALLSCREEN_RESULT": "allow"}
	})
	c.gosub(t, p, "callscreen", "s", "")
	if url != "agi://10.0.0.5:4600/screen?profile=" || c.end != "Return" {
		t.Fatalf("url %q end %q", url, c.end)
	}
	if _, leaked := c.vars["__CALLSCREEN_ID"]; leaked {
		t.Fatal("an empty CALLSCREEN_ID was made inheritable")
	}
}

// TestExampleContext: the example inbound context screens, then rings.
func TestExampleContext(t *testing.T) {
	p := parse(t, "callscreen.conf")
	c := newChannel(nil, func(string) map[string]string {
		return map[string]string{"AGISTATUS": "SUCCESS", "CALLSCREEN_RESULT": "allow"}
	})
	c.gosub(t, p, "callscreen-example-inbound", "_X.", "")
	if !slices.Contains(c.apps, "Dial(PJSIP/100,30)") || c.end != "Hangup()" {
		t.Fatalf("example context: end %q\n%s", c.end, strings.Join(c.apps, "\n"))
	}
	blocked := newChannel(nil, func(string) map[string]string {
		return map[string]string{"AGISTATUS": "SUCCESS", "CALLSCREEN_RESULT": "block"}
	})
	blocked.gosub(t, p, "callscreen-example-inbound", "_X.", "")
	if slices.Contains(blocked.apps, "Dial(PJSIP/100,30)") || blocked.end != "Hangup(21)" {
		t.Fatalf("blocked call rang: %q\n%s", blocked.end, strings.Join(blocked.apps, "\n"))
	}
}

// TestFreePBXContext: the trunk context for FreePBX screens, then enters
// from-pstn with the dialed number, for a number and for a trunk that
// sends none (s).
func TestFreePBXContext(t *testing.T) {
	p := parse(t, "callscreen.conf")
	for _, exten := range []string{"_[+0-9a-zA-Z*#].", "s"} {
		dialed := "15551230000"
		if exten == "s" {
			dialed = "s"
		}
		for result, end := range map[string]string{"allow": "Goto(from-pstn," + dialed + ",1)", "block": "Hangup(21)"} {
			c := newChannel(map[string]string{"EXTEN": dialed}, func(string) map[string]string {
				return map[string]string{"AGISTATUS": "SUCCESS", "CALLSCREEN_RESULT": result}
			})
			c.gosub(t, p, "from-pstn-callscreen", exten, "")
			if c.end != end {
				t.Fatalf("%s %s: ended %q; want %q\n%s", exten, result, c.end, end, strings.Join(c.apps, "\n"))
			}
		}
	}
}

// TestContract checks the files against the variables the flow sets: every
// routing variable is documented in the header, the result values they
// branch on are the policy's, every result other than allow is handled,
// and the result, not AGISTATUS, decides.
func TestContract(t *testing.T) {
	for _, f := range []string{"callscreen.conf", "callscreen-ari.conf"} {
		t.Run(f, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			text := string(b)
			for _, v := range decision.RoutingVars {
				if !strings.Contains(text, ";   "+v+" ") {
					t.Errorf("routing variable %s is not documented in %s", v, f)
				}
			}
			own := map[string]bool{"CALLSCREEN_HOST": true, "CALLSCREEN_VOICEMAIL": true, "CALLSCREEN_VOICEMAIL_GOTO": true,
				"CALLSCREEN_ARI_APP": true, "CALLSCREEN_HANGUP_HANDLER": true}
			for _, m := range regexp.MustCompile(`\$\{(?:__)?(CALLSCREEN_[A-Z_]+)\}`).FindAllStringSubmatch(text, -1) {
				if !own[m[1]] && !slices.Contains(decision.RoutingVars, m[1]) {
					t.Errorf("%s reads %s, which the flow never sets", f, m[1])
				}
			}
			compared := map[string]bool{}
			for _, m := range regexp.MustCompile(`"\$\{CALLSCREEN_RESULT\}" = "([a-z]*)"`).FindAllStringSubmatch(text, -1) {
				if m[1] != "" && !policy.Result(m[1]).Valid() {
					t.Errorf("%s compares CALLSCREEN_RESULT with %q, not a result", f, m[1])
				}
				compared[m[1]] = true
			}
			for _, r := range []string{"", string(policy.ResultBlock), string(policy.ResultVoicemail)} {
				if !compared[r] {
					t.Errorf("%s does not handle CALLSCREEN_RESULT=%q", f, r)
				}
			}
			if strings.Contains(text, "${AGISTATUS}\" !=") || strings.Contains(text, "${STASISSTATUS}\" !=") {
				t.Errorf("%s branches on AGISTATUS/STASISSTATUS: the result callscreen set must decide", f)
			}
		})
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

	stirMod := map[string]bool{"res_stir_shaken.so": true}
	tests := []struct {
		name, caller string
		pres         int
		keys         agitest.Caller
		screened     string
		end          string
		// callerName, modules and stir describe the channel before the
		// routine; reasons is what callscreen must have decided.
		callerName string
		modules    map[string]bool
		stir       stir
		reasons    string
	}{
		{name: "unknown caller rings", caller: "+12125551234", end: "Return"},
		{name: "must-block is rejected", caller: "+12125550666", end: "Hangup(21)"},
		{name: "anonymous human passes", caller: "+12125551234", pres: 35, keys: agitest.Caller{Auto: true}, end: "Return"},
		{name: "anonymous robot is rejected", caller: "+12125551234", pres: 35, end: "Hangup(21)"},
		{name: "a forwarded call is not screened twice", caller: "+12125550666", screened: "01EARLIERSCREENING", end: "Return"},
		// The name would end the environment block early and pose as
		// an allow-listed number; cleaned, the real number is blocked.
		{name: "must-block with a name full of line breaks", caller: "+12125550666", callerName: hostileName, end: "Hangup(21)", reasons: "list.block"},
		{name: "attestation A rings", caller: "+12125551234", modules: stirMod, stir: stir{count: 1, attestation: "A", verify: "success"}, end: "Return", reasons: "stir.verified"},
		{name: "attestation C robot is challenged and rejected", caller: "+12125551234", modules: stirMod, stir: stir{count: 1, attestation: "C", verify: "success"}, end: "Hangup(21)", reasons: "stir.unverified"},
		{name: "no Identity header, human passes", caller: "+12125551234", modules: stirMod, stir: stir{count: 1, verify: "missing_identity_hdr"}, keys: agitest.Caller{Auto: true}, end: "Return", reasons: "stir.unverified"},
		{name: "PBX without res_stir_shaken", caller: "+12125551234", stir: stir{count: 1, attestation: "C", verify: "success"}, end: "Return"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]string{"CALLSCREEN_HOST": addr, "CALLERID(num)": tt.caller}
			if tt.screened != "" {
				vars["CALLSCREEN_ID"] = tt.screened
			}
			if tt.callerName != "" {
				vars["CALLERID(name)"] = tt.callerName
			}
			var c *channel
			var got map[string]string
			c = newChannel(vars, func(u string) map[string]string {
				pu, err := url.Parse(u)
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				// The simulated Asterisk gets the caller ID as the routine
				// left it, and the arguments it passed.
				tr, err := agitest.Dial(ctx, pu.Host, agitest.Call{Request: u, Args: c.agiArgs, CallerID: c.vars["CALLERID(num)"],
					CallerIDName: c.vars["CALLERID(name)"], CallingPres: tt.pres, Caller: tt.keys,
					Vars: map[string]string{"CALLSCREEN_ID": tt.screened}})
				if err != nil {
					t.Fatal(err)
				}
				got = tr.Vars
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
			c.modules, c.stir = tt.modules, tt.stir
			c.gosub(t, plan, "callscreen", "s", "default")
			if c.end != tt.end {
				t.Fatalf("ended %q; want %q\n%s", c.end, tt.end, fmt.Sprint(strings.Join(c.apps, "\n")))
			}
			if tt.reasons != "" && !slices.Contains(strings.Split(got[decision.VarReasons], ","), tt.reasons) {
				t.Fatalf("reasons %q; want %s", got[decision.VarReasons], tt.reasons)
			}
		})
	}
}

// TestARIRoutine runs the [callscreen-ari] routine against every Stasis
// outcome, checks what it hands the application and compares what it did
// with its golden transcript.
func TestARIRoutine(t *testing.T) {
	p := parse(t, "callscreen-ari.conf")
	for _, tt := range routineCases() {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.run(t, p, true)
			if c.end != tt.end {
				t.Fatalf("ended %q; want %q\n%s", c.end, tt.end, strings.Join(c.apps, "\n"))
			}
			want := append([]string{"profile=sales", "tenant=acme"}, tt.args...)
			if !slices.Equal(c.stasisArgs, want) {
				t.Fatalf("Stasis arguments %q; want %q", c.stasisArgs, want)
			}
			if !slices.Contains(c.apps, "Stasis(callscreen,"+strings.Join(want, ",")+")") {
				t.Fatalf("Stasis() not run for application callscreen:\n%s", strings.Join(c.apps, "\n"))
			}
			tt.check(t, c)
			golden(t, "callscreen-ari", tt.name, c.trace())
		})
	}
	t.Run("another application name", func(t *testing.T) {
		var app string
		c := newChannel(map[string]string{"CALLSCREEN_ARI_APP": "screen2"}, nil)
		c.stasis = func(a string, _ []string) map[string]string {
			app = a
			return map[string]string{"STASISSTATUS": "SUCCESS", "CALLSCREEN_RESULT": "allow"}
		}
		c.gosub(t, p, "callscreen-ari", "s", "sales", "acme")
		if app != "screen2" || c.end != "Return" {
			t.Fatalf("application %q, end %q", app, c.end)
		}
	})
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
