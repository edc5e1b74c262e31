package numset

import "testing"

func FuzzEncode(f *testing.F) {
	for _, s := range []string{"+12125551234", "911", "0800", "+", "", "+999999999999999", "1234567890123456"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, ok := Encode(s)
		if !ok {
			return
		}
		if k > keyMask {
			t.Fatalf("Encode(%q) = %x, wider than %d bits", s, k, keyBits)
		}
		if got := Decode(k); got != s {
			t.Fatalf("Decode(Encode(%q)) = %q", s, got)
		}
		set := Build([]uint64{k}, []uint32{7})
		if v, ok := set.Get(k); !ok || v != 7 {
			t.Fatalf("one-key set does not find %q", s)
		}
	})
}
