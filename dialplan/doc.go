// Package dialplan holds the Asterisk dialplan includes (callscreen.conf
// for FastAGI, callscreen-ari.conf for ARI) and their tests: a small
// interpreter for the dialplan subset the includes use runs the
// [callscreen] and [callscreen-ari] routines against scripted AGI and
// Stasis outcomes and against the real screening flow over FastAGI and
// ARI.
//
// It has no code the binary uses. The includes must never let a failure
// of callscreen stop a call (AGISTATUS or STASISSTATUS other than SUCCESS
// rings the call), never branch on a routing variable other than
// CALLSCREEN_RESULT, and never screen a call twice (CALLSCREEN_ID is
// inherited and handed over).
package dialplan
