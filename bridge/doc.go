// Package bridge adapts the transports to the call flow: a FastAGI session
// (agi.go) or an ARI Stasis channel (ari.go) becomes a screen.Channel, and
// what the transport knows about the call at the start becomes a
// decision.CallInfo. The rules that read a call's tenant and profile live
// here for both transports: AGIInfo reads the AGI() URL and arguments,
// ARIScope the Stasis arguments (the ari.App asks it once per call).
//
// It is the only package that imports both a transport and package screen.
// It must never decide anything about a call: it translates operations and
// errors (a transport's hangup becomes an error wrapping screen.ErrHangup),
// nothing more.
package bridge
