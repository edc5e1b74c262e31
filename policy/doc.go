// Package policy decides what happens to a call: allow, challenge or block,
// with a tier (SPAM, BUSINESS, UNKNOWN) and the reason codes behind it.
//
// Everything here is pure: Decide is a function of the call, the reputation
// verdict and the profile. The package must never do I/O, read the clock,
// log, or keep state; the call flow in package screen does those things and
// passes the results in. All reason codes are defined and documented here,
// and only here.
package policy
