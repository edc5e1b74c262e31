// Package numset is a compact, immutable set of telephone numbers with a
// 32-bit value per number, sized for tens of millions of numbers.
//
// A number (E.164 "+12125551234" or short-code digits "911") is encoded in
// a uint64 (Encode). The set keeps the encoded numbers multiplied by an odd
// constant (a bijection that spreads them evenly), sorted, with a bucket
// index over the top bits: a lookup hashes, reads two index words, and
// scans two or three neighbouring keys. Memory is 8 bytes per number, 4
// more when values are kept, and about 1.7 for the index.
//
// A Set is built once (Build) and never changed, so any number of
// goroutines may read it without locks; a change builds a new Set. The
// package must never do I/O or keep global mutable state.
package numset
