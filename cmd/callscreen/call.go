package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/callscreen/callscreen/agi/agitest"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/policy"
)

func init() {
	register(command{name: "call", summary: "play Asterisk: send a simulated call to a running server", run: runCall})
}

// runCall places one simulated inbound call against a running FastAGI
// server, as Asterisk's AGI() would, and prints the routing variables the
// server set, NAME=value per line, then AGISTATUS.
func runCall(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("callscreen call", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("agi", agiDialAddr(os.Getenv("CALLSCREEN_AGI_LISTEN")), "FastAGI server `host:port`; the default is $CALLSCREEN_AGI_LISTEN as serve reads it, else 127.0.0.1:4573")
	from := fs.String("from", "", "caller `number` (agi_callerid); empty is \"unknown\"")
	to := fs.String("to", "15551230000", "dialed `number` (agi_dnid and agi_extension)")
	name := fs.String("name", "", "caller ID `name`")
	anonymous := fs.Bool("anonymous", false, "withhold the number (agi_callingpres 35, prohib)")
	profile := fs.String("profile", "", "profile `name` passed in the AGI URL (?profile=NAME)")
	tenant := fs.String("tenant", "", "tenant `name` passed in the AGI URL (?tenant=NAME)")
	keys := fs.String("keys", "auto", "what the caller types at each prompt: auto (the digits it hears), none (silence), or `DIGITS`, one entry per attempt separated by commas, optionally ending in auto (\"999,auto\": wrong, then right)")
	hangupAfter := fs.Int("hangup-after", 0, "hang up after `N` commands have been answered (0: never)")
	screened := fs.String("screened", "", "preset CALLSCREEN_ID to this `id` (a call screened before: transfer or forward)")
	attestation := fs.String("attestation", "", "the STIR/SHAKEN attestation the PBX verified, passed as the include does (attest=): `A`, B, C, or none (no Identity header, or a verification that failed before the signature was checked)")
	verifyResult := fs.String("verify-result", "", "Asterisk's STIR/SHAKEN verify_result passed with it (verify=`CODE`); default success with --attestation A, B or C")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up on the call after this `duration`")
	verbose := fs.Bool("v", false, "print the whole AGI conversation to stderr")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "callscreen call: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	stir, err := stirArgs(*attestation, *verifyResult)
	if err != nil {
		fmt.Fprintf(stderr, "callscreen call: %v\n", err)
		return 2
	}
	c := agitest.Call{
		CallerID: *from, CallerIDName: *name, DNID: *to, Extension: *to,
		Vars: map[string]string{},
		// As dialplan/callscreen.conf does:
		// AGI(url,screened=${CALLSCREEN_ID}[,attest=X[,verify=CODE]]).
		Args: append([]string{"screened=" + *screened}, stir...),
	}
	if c.Extension == "" {
		c.Extension = "s"
	}
	q := url.Values{}
	if *profile != "" {
		q.Set("profile", *profile)
	}
	if *tenant != "" {
		q.Set("tenant", *tenant)
	}
	c.Request = "agi://" + *addr + "/screen"
	if len(q) > 0 {
		c.Request += "?" + q.Encode()
	}
	if *anonymous {
		c.CallingPres = 35
		c.Vars["CALLERID(num-pres)"] = "prohib"
	}
	if *screened != "" {
		c.Vars[decision.VarID] = *screened
	}
	switch *keys {
	case "auto":
		c.Caller.Auto = true
	case "none", "":
	default:
		entries := strings.Split(*keys, ",")
		if entries[len(entries)-1] == "auto" {
			c.Caller.Auto = true
			entries = entries[:len(entries)-1]
		}
		for _, k := range entries {
			if strings.Trim(k, "0123456789*#") != "" {
				fmt.Fprintf(stderr, "callscreen call: --keys %q: want auto, none, or digit entries separated by commas, optionally ending in auto\n", *keys)
				return 2
			}
			c.Caller.Keys = append(c.Caller.Keys, k)
		}
	}
	c.Caller.HangupAfter = *hangupAfter

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	tr, err := agitest.Dial(ctx, *addr, c)
	if *verbose && tr != nil {
		for _, l := range tr.Lines {
			fmt.Fprintln(stderr, l.String())
		}
	}
	if tr != nil {
		for _, name := range decision.RoutingVars {
			if v, ok := tr.Vars[name]; ok && v != "" {
				fmt.Fprintf(stdout, "%s=%s\n", name, v)
			}
		}
	}
	status, code, why := callOutcome(tr, err)
	fmt.Fprintf(stdout, "AGISTATUS=%s\n", status)
	if why != "" {
		fmt.Fprintf(stderr, "callscreen call: %s\n", why)
	}
	return code
}

// stirArgs returns the AGI arguments dialplan/callscreen.conf passes for a
// STIR/SHAKEN result: none without --attestation; attest=A|B|C and
// verify=CODE (success unless --verify-result says otherwise) for a
// verified attestation; attest=none alone when Asterisk has no attestation
// (the include does not read verify_result then: for an invalid or missing
// x5u it has no text, res/res_stir_shaken.c). Values Asterisk 22 would not
// produce are refused, naming the flag.
func stirArgs(attestation, verifyResult string) ([]string, error) {
	if attestation == "" {
		if verifyResult != "" {
			return nil, errors.New("--verify-result needs --attestation")
		}
		return nil, nil
	}
	if strings.EqualFold(attestation, "none") {
		if verifyResult != "" {
			return nil, fmt.Errorf("--verify-result %q with --attestation none: the include passes no verify= without an attestation", verifyResult)
		}
		return []string{"attest=none"}, nil
	}
	v := verifyResult
	if v == "" {
		v = "success"
	}
	st, ok := policy.ParseSTIR(attestation, v)
	switch {
	case !ok:
		return nil, fmt.Errorf("--attestation %q: want A, B, C or none", attestation)
	case st.Verify == "unknown":
		return nil, fmt.Errorf("--verify-result %q: not a verify_result of Asterisk 22 (%s)", verifyResult, strings.Join(policy.VerifyResults, ", "))
	}
	return []string{"attest=" + st.Attestation, "verify=" + st.Verify}, nil
}

// callOutcome says what `callscreen call` reports for a finished call: the
// AGISTATUS line, the exit code and, for a failure, why.
//
// The call failed (FAILURE, exit 1) when it could not be placed or played
// to its end (err), when the session ended as Asterisk would report
// FAILURE (a "failure" line, a command that failed), and when the server
// ended the session without setting CALLSCREEN_RESULT: a server that
// refuses a call (outside agi.allow, over agi.max_sessions, shutting down)
// closes the connection before it sends a command. Asterisk itself reports
// that last case as FAILURE when its write of the environment meets the
// reset connection (launch_netscript in res/res_agi.c) and as SUCCESS when
// the close comes after its write ("AGI Script ... completed" in
// run_agi); either way the dialplan finds no CALLSCREEN_RESULT and routes
// the call unscreened, which is a failure of the screening this command
// exists to check. A caller that hung up (HANGUP, as --hangup-after asks)
// is a call played to its end: exit 0.
func callOutcome(tr *agitest.Transcript, err error) (status string, code int, why string) {
	const refused = "the server closed the connection without a command (refused: outside agi.allow, over agi.max_sessions, or shutting down): the call was not screened"
	commanded := false
	if tr != nil {
		for _, l := range tr.Lines {
			if l.FromServer {
				commanded = true
				break
			}
		}
	}
	switch {
	case err != nil && tr != nil && len(tr.Lines) > 0 && !commanded:
		// Reset while Asterisk was writing the environment or reading.
		return "FAILURE", 1, refused + " (" + err.Error() + ")"
	case err != nil:
		return "FAILURE", 1, err.Error()
	case tr == nil || tr.Status == "" || tr.Status == "FAILURE":
		return "FAILURE", 1, "the session failed (Asterisk would set AGISTATUS=FAILURE)"
	case tr.Status == "HANGUP":
		return tr.Status, 0, ""
	case !commanded:
		return "FAILURE", 1, refused
	case tr.Vars[decision.VarResult] == "":
		return "FAILURE", 1, "the server ended the session without setting " + decision.VarResult + ": the call was not screened"
	}
	return tr.Status, 0, ""
}

// agiDialAddr is the address `callscreen call` dials for a server
// listening on listen (agi.listen, as $CALLSCREEN_AGI_LISTEN sets it for
// serve): a wildcard or empty host is this machine's loopback; an empty
// or unusable listen is the default 127.0.0.1:4573.
func agiDialAddr(listen string) string {
	const def = "127.0.0.1:4573"
	host, port, err := net.SplitHostPort(strings.TrimSpace(listen))
	if err != nil || port == "" || port == "0" {
		return def
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
