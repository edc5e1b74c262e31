// Package decision holds the vocabulary every part of callscreen shares
// about one screened call: what the transport knew (CallInfo), what was
// decided and what happened (Result), who receives it (Recorder), the
// routing variables handed back to the dialplan, and the memory of callers
// who passed a challenge (Verifier).
//
// It exists so that the decision log, the admin API, behaviour detection
// and the transports can speak of a decision without importing the flow
// (package screen). It must never import screen, a transport, or anything
// that does I/O beyond its in-memory Verifier.
package decision
