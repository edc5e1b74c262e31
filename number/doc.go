// Package number turns the caller ID text a PBX hands over into a typed,
// normalised telephone number.
//
// Normalisation uses libphonenumber's numbering-plan metadata
// (github.com/nyaruka/phonenumbers), with a fast path for the common North
// American shapes that a test checks against it.
//
// It is pure and must stay so: it must never do I/O, read the clock or
// keep state beyond the library's read-only metadata, and never panic on
// hostile input: text it cannot read is a Number of Kind Invalid.
package number
