// Package numset is a compact, immutable set of telephone numbers with a
// 32-bit value per number, sized for tens of millions of numbers.
//
// A number (E.164 "+12125551234" or short-code digits "911") is encoded in
// a uint64 (Encode). The set keeps the encoded numbers multiplied by an odd
// constant (a bijection that spreads them evenly), sorted, with a small
// bucket index over the top bits that stays in cache; within a bucket a
// key's place is guessed from its hash, so a lookup mostly reads one cache
// line of keys. A value of up to 9 + log2(n) - 8 bits rides in the spare
// bits of its key's slot (wider values go to a side array). Memory is
// about 8.1 bytes per number, 12.1 with a side array.
//
// A Set is built once (Build) and never changed, so any number of
// goroutines may read it without locks; a change builds a new Set. The
// package must never do I/O or keep global mutable state.
package numset
