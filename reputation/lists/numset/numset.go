package numset

import (
	"iter"
	"math/bits"
	"slices"
)

// Key layout: bits 0–49 the digits as an integer (15 digits < 2^50), bits
// 50–53 the digit count (1–15), bit 54 set for E.164 ("+" form).
const (
	valueBits = 50
	lenShift  = 50
	plusBit   = 1 << 54
	maxDigits = 15
)

// Encode turns "+" followed by 1–15 digits, or 1–15 bare digits, into a
// key. It reports false for anything else.
func Encode(s string) (uint64, bool) {
	plus := false
	if len(s) > 0 && s[0] == '+' {
		plus, s = true, s[1:]
	}
	if len(s) == 0 || len(s) > maxDigits {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	k := v | uint64(len(s))<<lenShift
	if plus {
		k |= plusBit
	}
	return k, true
}

// Decode returns the number a key was encoded from.
func Decode(k uint64) string {
	n := int(k>>lenShift) & 0xf
	v := k & (1<<valueBits - 1)
	var buf [maxDigits + 1]byte
	i := len(buf)
	for j := 0; j < n; j++ {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	if k&plusBit != 0 {
		i--
		buf[i] = '+'
	}
	return string(buf[i:])
}

// keyBits is the width of a key; hashing is a bijection on keyBits-bit
// values: multiplication by an odd constant modulo 2^keyBits.
const (
	keyBits = 55
	keyMask = 1<<keyBits - 1
	mul     = 0x9E3779B97F4A7C15 & keyMask
)

// inv undoes mul modulo 2^keyBits.
var inv = func() uint64 {
	// Newton's iteration for the inverse modulo 2^64, which is also the
	// inverse modulo 2^keyBits.
	x := uint64(mul)
	for range 6 {
		x *= 2 - mul*x
	}
	return x & keyMask
}()

func hash(k uint64) uint64   { return (k * mul) & keyMask }
func unhash(h uint64) uint64 { return (h * inv) & keyMask }

// bucketShift sets the bucket count: about 2^bucketShift/1.5 keys a
// bucket, so that the index (4 bytes a bucket, under 2% of the slots)
// stays in cache.
const bucketShift = 8

// Set is an immutable set of keys, each with a uint32 value.
//
// A key's hash h (keyBits bits) splits into a bucket (its top b bits) and a
// remainder (the rest). Each slot holds remainder<<vbits | value, so the
// value comes with the key in one memory read; slots are sorted by hash,
// and idx[bucket]..idx[bucket+1] are the slots of a bucket. When a value
// does not fit the vbits = 64-(keyBits-b) spare bits, values go to vals.
type Set struct {
	slots []uint64
	vals  []uint32 // only when values do not fit in the slots
	idx   []uint32
	b     uint // bucket bits
	vbits uint // value bits in a slot
}

// Build makes a Set of keys (from Encode) with their values (vals may be
// nil: all zero). When a key appears more than once, the last occurrence
// wins. Build takes ownership of both slices and reorders them.
func Build(keys []uint64, vals []uint32) *Set {
	if vals != nil && len(vals) != len(keys) {
		panic("numset: keys and values differ in length")
	}
	for i, k := range keys {
		keys[i] = hash(k & keyMask)
	}
	var maxVal uint32
	if vals == nil {
		radixSort(keys)
		keys = dedup(keys)
	} else {
		keys, vals = sortPairs(keys, vals)
		for _, v := range vals {
			maxVal = max(maxVal, v)
		}
	}
	n := len(keys)
	s := &Set{b: 1}
	if n > 1<<(bucketShift+1) {
		s.b = uint(bits.Len(uint(n)) - bucketShift)
	}
	s.vbits = 64 - (keyBits - s.b)
	remBits := keyBits - s.b
	s.idx = make([]uint32, 1<<s.b+1)
	packed := bits.Len32(maxVal) <= int(s.vbits)
	if !packed {
		s.vals = vals
	}
	j := 0
	for bucket := uint64(0); bucket < 1<<s.b; bucket++ {
		s.idx[bucket] = uint32(j)
		for j < n && keys[j]>>remBits == bucket {
			j++
		}
	}
	s.idx[1<<s.b] = uint32(n)
	s.slots = keys // packed in place: slot i replaces hash i
	for i, h := range keys {
		slot := (h & (1<<remBits - 1)) << s.vbits
		if packed && vals != nil {
			slot |= uint64(vals[i])
		}
		s.slots[i] = slot
	}
	return s
}

// Len is the number of keys.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.slots)
}

// Get returns the value of k and whether k is in the set.
//
// The bucket index is small enough to stay in cache; within a bucket the
// remainders are spread evenly, so the slot a key would sit in is guessed
// from its remainder and the search starts there: most lookups read one
// cache line of slots, one memory access in all.
func (s *Set) Get(k uint64) (uint32, bool) {
	if s == nil || len(s.slots) == 0 || k > keyMask {
		return 0, false
	}
	h := hash(k)
	remBits := keyBits - s.b
	bucket := h >> remBits
	rem := h & (1<<remBits - 1)
	lo, hi := int(s.idx[bucket]), int(s.idx[bucket+1])
	if lo == hi {
		return 0, false
	}
	// The guess: rem's place in [0, 2^remBits) scaled to the bucket. Only
	// the top 20 bits of rem take part, so the product fits in 64 bits.
	shift := uint(0)
	if remBits > 20 {
		shift = remBits - 20
	}
	i := lo + int((uint64(hi-lo)*(rem>>shift))>>(remBits-shift))
	slots := s.slots[lo:hi]
	i -= lo
	if r := slots[i] >> s.vbits; r < rem {
		for i++; i < len(slots) && slots[i]>>s.vbits < rem; i++ {
		}
	} else {
		for i > 0 && slots[i-1]>>s.vbits >= rem {
			i--
		}
	}
	if i == len(slots) || slots[i]>>s.vbits != rem {
		return 0, false
	}
	if s.vals != nil {
		return s.vals[lo+i], true
	}
	return uint32(slots[i] & (1<<s.vbits - 1)), true
}

// Has reports whether k is in the set.
func (s *Set) Has(k uint64) bool {
	_, ok := s.Get(k)
	return ok
}

// All yields every key and value, in no particular order.
func (s *Set) All() iter.Seq2[uint64, uint32] {
	return func(yield func(uint64, uint32) bool) {
		if s == nil {
			return
		}
		remBits := keyBits - s.b
		for bucket := uint64(0); bucket < 1<<s.b; bucket++ {
			for i := s.idx[bucket]; i < s.idx[bucket+1]; i++ {
				slot := s.slots[i]
				h := bucket<<remBits | slot>>s.vbits
				v := uint32(slot & (1<<s.vbits - 1))
				if s.vals != nil {
					v = s.vals[i]
				}
				if !yield(unhash(h), v) {
					return
				}
			}
		}
	}
}

// Bytes is the memory the set holds.
func (s *Set) Bytes() int {
	if s == nil {
		return 0
	}
	return cap(s.slots)*8 + cap(s.vals)*4 + cap(s.idx)*4
}

func dedup(h []uint64) []uint64 {
	if len(h) < 2 {
		return h
	}
	j := 1
	for i := 1; i < len(h); i++ {
		if h[i] != h[j-1] {
			h[j] = h[i]
			j++
		}
	}
	if j < len(h)-len(h)/8 {
		// Many repeats: give the unused tail back.
		return append([]uint64(nil), h[:j]...)
	}
	return h[:j:j]
}

// radixBits is the digit of the radix sorts: four passes cover keyBits.
const radixBits = 14

// radixSort sorts hashes ascending: LSD radix.
func radixSort(a []uint64) {
	if len(a) < 256 {
		slices.Sort(a)
		return
	}
	buf := make([]uint64, len(a))
	src, dst := a, buf
	var count [1 << radixBits]int
	for shift := uint(0); shift < keyBits; shift += radixBits {
		clear(count[:])
		for _, x := range src {
			count[(x>>shift)&(1<<radixBits-1)]++
		}
		sum := 0
		for i, c := range count {
			count[i] = sum
			sum += c
		}
		for _, x := range src {
			d := (x >> shift) & (1<<radixBits - 1)
			dst[count[d]] = x
			count[d]++
		}
		src, dst = dst, src
	}
	// An even number of passes leaves the sorted data in a.
}

// sortPairs sorts hashes ascending carrying vals along, stably, then keeps
// the last value of each repeated hash.
func sortPairs(h []uint64, v []uint32) ([]uint64, []uint32) {
	n := len(h)
	if n >= 256 {
		hb, vb := make([]uint64, n), make([]uint32, n)
		sh, sv, dh, dv := h, v, hb, vb
		var count [1 << radixBits]int
		for shift := uint(0); shift < keyBits; shift += radixBits {
			clear(count[:])
			for _, x := range sh {
				count[(x>>shift)&(1<<radixBits-1)]++
			}
			sum := 0
			for i, c := range count {
				count[i] = sum
				sum += c
			}
			for i, x := range sh {
				d := (x >> shift) & (1<<radixBits - 1)
				dh[count[d]] = x
				dv[count[d]] = sv[i]
				count[d]++
			}
			sh, sv, dh, dv = dh, dv, sh, sv
		}
	} else {
		for i := 1; i < n; i++ {
			for j := i; j > 0 && h[j] < h[j-1]; j-- {
				h[j], h[j-1] = h[j-1], h[j]
				v[j], v[j-1] = v[j-1], v[j]
			}
		}
	}
	if n < 2 {
		return h, v
	}
	j := 0
	for i := 1; i < n; i++ {
		if h[i] == h[j] {
			v[j] = v[i] // last wins (the sort is stable)
			continue
		}
		j++
		h[j], v[j] = h[i], v[i]
	}
	if j+1 < n-n/8 {
		// Many repeats: give the unused tail back.
		return append([]uint64(nil), h[:j+1]...), append([]uint32(nil), v[:j+1]...)
	}
	return h[: j+1 : j+1], v[: j+1 : j+1]
}
