// Package number turns the caller ID text a PBX hands over into a typed,
// normalised telephone number.
//
// Normalisation uses libphonenumber's numbering-plan metadata
// (github.com/nyaruka/phonenumbers). The common North American shapes
// ("+1" and ten digits; ten digits, or "1" and ten, in a NANP region) skip
// the library's parser and regular expressions: the library's own NANP
// patterns are compiled, on first use, into a digit automaton per default
// region (nanpplan.go, digitdfa.go) that gives the library's answer in ten
// table steps. Tests compare Parse with the library alone on every area
// code and on fuzzed text; should the automata ever fail to build from the
// metadata, Parse simply uses the library.
//
// It is pure and must stay so: it must never do I/O, read the clock or
// keep state beyond the library's read-only metadata and what is compiled
// from it once, and never panic on hostile input: text it cannot read is a
// Number of Kind Invalid.
package number
