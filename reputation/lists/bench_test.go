package lists

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"

	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/reputation"
)

// genStore is a read-only Store that yields n generated must-block
// numbers for the default tenant, without holding them.
type genStore struct{ n int }

func (g genStore) Tenants(context.Context) ([]string, error) { return []string{""}, nil }
func (g genStore) Apply(context.Context, []Change) error     { return nil }
func (g genStore) Load(_ context.Context, _ string, fn func(Entry) error) error {
	for i := range g.n {
		if err := fn(Entry{List: Block, Kind: Number, Value: genNumber(i)}); err != nil {
			return err
		}
	}
	return nil
}

// genNumber is the i-th generated NANP number, spread over the plan.
func genNumber(i int) string {
	x := uint64(i)*2654435761 + 12345
	npa := 200 + x%800
	nxx := 200 + (x/800)%800
	line := (x / 640000) % 10000
	return "+1" + strconv.FormatUint(npa*10_000_000+nxx*10_000+line, 10)
}

var benchLists = map[int]*Lists{}

// benchListsOf builds Lists holding n numbers and reports the heap they
// take per number.
func benchListsOf(b *testing.B, n int) *Lists {
	if l, ok := benchLists[n]; ok {
		return l
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	l, err := New(Options{Store: genStore{n}})
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	benchLists[n] = l
	heapPer[n] = float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
	return l
}

var heapPer = map[int]float64{}

func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{1_000_000, 10_000_000} {
		for _, hit := range []bool{true, false} {
			name := fmt.Sprintf("n=%d/miss", n)
			if hit {
				name = fmt.Sprintf("n=%d/hit", n)
			}
			b.Run(name, func(b *testing.B) {
				l := benchListsOf(b, n)
				r := rand.New(rand.NewPCG(1, 2))
				nums := make([]string, 1<<16)
				for i := range nums {
					nums[i] = genNumber(r.IntN(n))
					if !hit {
						nums[i] = "+1" + strconv.Itoa(2_000_000_000+r.IntN(999_999_999)) // a different spread: (almost) never listed
					}
				}
				ctx := context.Background()
				b.ResetTimer()
				b.ReportMetric(heapPer[n], "heap-bytes/number")
				for i := 0; i < b.N; i++ {
					l.Lookup(ctx, reputation.Query{Caller: number.Number{E164: nums[i&(1<<16-1)], Kind: number.Valid, CountryCode: 1}})
				}
			})
		}
	}
}
