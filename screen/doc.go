// Package screen is the call flow, written once for every transport: look
// up the caller, ask the policy, challenge when asked, hand routing
// variables back to the dialplan, record the decision.
//
// The flow (Flow.Run) does, in order: resolve the profile (the name the
// dialplan passed, else the DID map, else "default"); exempt emergency
// numbers before anything can fail; CALLSCREEN_ID, as handed over with the
// call or read from the channel (already screened: allow with
// loop.already_screened); the calling presentation (from
// the transport's call data when it has it, else CALLERID(num-pres)); run
// the reputation source within its budget (on the first call from a PBX,
// with the check of every profile's challenge sounds there beside it:
// firstcontact.go); apply the policy; play the DTMF
// challenge when the policy asks for one; set the routing variables
// (DESIGN §4); record the Result.
//
// It talks to the call only through the Channel interface. It must never
// import a transport (agi, ari) or know their wire formats, must never
// send caller-supplied text (names, numbers) to the channel, and must never
// hold a call longer than its deadlines: every failure of a dependency has
// a written default, fail-open for reputation and fail-safe (allow) for
// emergency numbers, and a panic anywhere in the flow still ends with the
// routing variables set to allow (internal.error).
package screen
