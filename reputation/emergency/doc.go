// Package emergency is the emergency and critical numbers list: callers
// (or dialed numbers) that are never blocked and never challenged.
//
// It is a reputation.Source meant to run first in the chain: a match
// returns emergency.exempt, Final, and policy.Decide allows any verdict
// carrying emergency.exempt before looking at anything else. Entries are
// 911, 112 and 933 plus the configured ones, in list-file syntax (exact
// numbers, short codes, prefixes, ranges).
//
// The package must never fail or wait: Lookup is pure, ignores a
// cancelled context (an emergency call is exempt even when the call's
// deadline has passed), and cannot return an error. The call flow must
// still allow these numbers when something else panics or fails; it can
// ask Match directly for that.
package emergency
