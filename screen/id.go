package screen

import (
	"crypto/rand"
	"encoding/binary"
	"time"
)

// crockford is Crockford's base-32 alphabet: no I, L, O or U, so an id read
// out over the phone is not misheard, and its order is the byte order.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// IDLen is the length of a decision id.
const IDLen = 18

// NewID returns a decision id for a call arriving at t: 18 characters of
// Crockford base 32, the first 10 the milliseconds since the Unix epoch and
// the last 8 forty random bits from crypto/rand. Ids sort by time (to the
// millisecond) as plain strings, and two calls in the same millisecond
// collide with probability 2^-40.
func NewID(t time.Time) string {
	var rnd [8]byte
	_, _ = rand.Read(rnd[3:]) // crypto/rand.Read never fails (Go 1.24+)
	ms := uint64(t.UnixMilli())
	r := binary.BigEndian.Uint64(rnd[:])
	var b [IDLen]byte
	for i := 9; i >= 0; i-- {
		b[i] = crockford[ms&31]
		ms >>= 5
	}
	for i := IDLen - 1; i >= 10; i-- {
		b[i] = crockford[r&31]
		r >>= 5
	}
	return string(b[:])
}

// randomDigits returns n decimal digits from crypto/rand, without modulo
// bias.
func randomDigits(n int) string {
	out := make([]byte, 0, n)
	var buf [16]byte
	for len(out) < n {
		_, _ = rand.Read(buf[:])
		for _, c := range buf {
			if c < 250 && len(out) < n {
				out = append(out, '0'+c%10)
			}
		}
	}
	return string(out)
}
