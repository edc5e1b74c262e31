// Package reputation says what is known about a caller: must-pass and
// must-block lists, the daily spam-report feed, caller behaviour, a cache,
// and external providers, each a Source, run as a Chain cheapest first.
//
// It knows sources, not calls: it must never touch a channel or decide an
// action (that is package policy's job). Every source failure is reported,
// never fatal: the chain fails open with provider.unavailable.
package reputation
