// Package screen is the call flow, written once for every transport: look
// up the caller, ask the policy, challenge when asked, hand routing
// variables back to the dialplan, record the decision.
//
// It talks to the call only through the Channel interface. It must never
// import a transport (agi, ari) or know their wire formats, and it must
// never hold a call longer than its deadlines: every failure of a
// dependency has a written default, fail-open for reputation and
// fail-safe (allow) for emergency numbers.
package screen
