package numset

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

func TestEncode(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"+12125551234", true},
		{"+442079460000", true},
		{"911", true},
		{"0800", true},
		{"00800", true},
		{"+999999999999999", true},
		{"1", true},
		{"", false},
		{"+", false},
		{"+1234567890123456", false},
		{"12a", false},
		{"+-1", false},
		{"++1", false},
	}
	seen := map[uint64]string{}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			k, ok := Encode(tt.in)
			if ok != tt.ok {
				t.Fatalf("Encode(%q) ok = %v, want %v", tt.in, ok, tt.ok)
			}
			if !ok {
				return
			}
			if got := Decode(k); got != tt.in {
				t.Fatalf("Decode(Encode(%q)) = %q", tt.in, got)
			}
			if prev, dup := seen[k]; dup {
				t.Fatalf("%q and %q encode alike", prev, tt.in)
			}
			seen[k] = tt.in
		})
	}
}

func TestInverse(t *testing.T) {
	if (mul*inv)&keyMask != 1 {
		t.Fatalf("inv is not the inverse of mul")
	}
	for _, k := range []uint64{0, 1, 12345, 1<<54 + 77, keyMask} {
		if unhash(hash(k)) != k {
			t.Fatalf("unhash(hash(%d)) != %d", k, k)
		}
	}
}

func randomNANP(r *rand.Rand, n int) []uint64 {
	keys := make([]uint64, n)
	for i := range keys {
		// +1 NPA NXX XXXX with NPA and NXX from 200–999: 11 digits.
		v := 1e10 + uint64(200+r.IntN(800))*1e7 + uint64(200+r.IntN(800))*1e4 + uint64(r.IntN(10000))
		keys[i] = v | 11<<lenShift | plusBit
	}
	return keys
}

func TestBuildAndGet(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 255, 256, 1000, 100_000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(n)))
			keys := randomNANP(r, n)
			want := map[uint64]uint32{}
			vals := make([]uint32, n)
			for i, k := range keys {
				vals[i] = uint32(i + 1)
				want[k] = uint32(i + 1) // last wins
			}
			s := Build(append([]uint64(nil), keys...), vals)
			if s.Len() != len(want) {
				t.Fatalf("Len = %d, want %d", s.Len(), len(want))
			}
			for k, v := range want {
				got, ok := s.Get(k)
				if !ok || got != v {
					t.Fatalf("Get(%s) = %d, %v; want %d", Decode(k), got, ok, v)
				}
			}
			absent := randomNANP(rand.New(rand.NewPCG(2, uint64(n))), 1000)
			for _, k := range absent {
				if _, in := want[k]; in {
					continue
				}
				if s.Has(k) {
					t.Fatalf("Has(%s) = true for an absent key", Decode(k))
				}
			}
			seen := 0
			for k, v := range s.All() {
				if want[k] != v {
					t.Fatalf("All yields %s=%d, want %d", Decode(k), v, want[k])
				}
				seen++
			}
			if seen != len(want) {
				t.Fatalf("All yields %d keys, want %d", seen, len(want))
			}
		})
	}
}

func TestBuildNoValues(t *testing.T) {
	keys := randomNANP(rand.New(rand.NewPCG(3, 3)), 5000)
	keys = append(keys, keys[:100]...)
	want := map[uint64]bool{}
	for _, k := range keys {
		want[k] = true
	}
	s := Build(append([]uint64(nil), keys...), nil)
	if s.Len() != len(want) {
		t.Fatalf("Len = %d, want %d", s.Len(), len(want))
	}
	for k := range want {
		if v, ok := s.Get(k); !ok || v != 0 {
			t.Fatalf("Get(%s) = %d, %v", Decode(k), v, ok)
		}
	}
	// Values wider than the spare bits of a slot go to a side array.
	wide := make([]uint32, len(keys))
	for i := range wide {
		wide[i] = 1<<31 | uint32(i)
	}
	ws := Build(append([]uint64(nil), keys...), append([]uint32(nil), wide...))
	if ws.vals == nil {
		t.Fatal("wide values packed into slots")
	}
	last := map[uint64]uint32{}
	for i, k := range keys {
		last[k] = wide[i]
	}
	for k, v := range last {
		if got, ok := ws.Get(k); !ok || got != v {
			t.Fatalf("wide Get(%s) = %d, %v; want %d", Decode(k), got, ok, v)
		}
	}
}

func TestNilSet(t *testing.T) {
	var s *Set
	if s.Len() != 0 || s.Has(1) || s.Bytes() != 0 {
		t.Fatal("nil set is not empty")
	}
	for range s.All() {
		t.Fatal("nil set yields")
	}
}

// benchSet builds a set of n random NANP numbers with values, reporting
// bytes per number as measured by the heap.
var (
	benchSets = map[int]*Set{}
	heap      = map[int]float64{}
)

func benchSet(b *testing.B, n int) (*Set, []uint64) {
	b.Helper()
	if s, ok := benchSets[n]; ok {
		return s, probeOf(s)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := rand.New(rand.NewPCG(42, uint64(n)))
	keys := randomNANP(r, n)
	vals := make([]uint32, n)
	for i := range vals {
		vals[i] = uint32(i) & 0xffffff // 24 bits: a feed entry's value
	}
	s := Build(keys, vals)
	keys, vals = nil, nil
	runtime.GC()
	runtime.ReadMemStats(&after)
	benchSets[n] = s
	heap[n] = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(s.Len())
	return s, probeOf(s)
}

func reportSize(b *testing.B, s *Set, n int) {
	b.ReportMetric(float64(s.Bytes())/float64(s.Len()), "bytes/number")
	b.ReportMetric(heap[n], "heap-bytes/number")
}

// probeOf picks keys of s at random, so lookups jump around memory.
func probeOf(s *Set) []uint64 {
	r := rand.New(rand.NewPCG(5, 5))
	probe := make([]uint64, 1<<16)
	for i := range probe {
		probe[i] = s.keyAt(r.IntN(len(s.slots)))
	}
	return probe
}

func BenchmarkGet(b *testing.B) {
	for _, n := range []int{1_000_000, 10_000_000} {
		b.Run(fmt.Sprintf("n=%d/hit", n), func(b *testing.B) {
			s, probe := benchSet(b, n)
			b.ResetTimer()
			reportSize(b, s, n)
			for i := 0; i < b.N; i++ {
				if !s.Has(probe[i&(len(probe)-1)]) {
					b.Fatal("miss")
				}
			}
		})
		b.Run(fmt.Sprintf("n=%d/miss", n), func(b *testing.B) {
			s, _ := benchSet(b, n)
			miss := randomNANP(rand.New(rand.NewPCG(7, 7)), 1<<16)
			b.ResetTimer()
			reportSize(b, s, n)
			for i := 0; i < b.N; i++ {
				s.Has(miss[i&(len(miss)-1)])
			}
		})
	}
}

func BenchmarkBuild(b *testing.B) {
	keys := randomNANP(rand.New(rand.NewPCG(9, 9)), 1_000_000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Build(append([]uint64(nil), keys...), nil)
	}
}

// keyAt returns the key in slot i.
func (s *Set) keyAt(i int) uint64 {
	remBits := keyBits - s.b
	bucket := uint64(sortSearch(len(s.idx)-1, func(b int) bool { return s.idx[b+1] > uint32(i) }))
	return unhash(bucket<<remBits | s.slots[i]>>s.vbits)
}

func sortSearch(n int, f func(int) bool) int {
	lo, hi := 0, n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if !f(m) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}
