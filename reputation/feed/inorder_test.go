package feed

import (
	"runtime"
	"testing"
)

// TestInOrder: results finished out of order are delivered in job order,
// each once.
func TestInOrder(t *testing.T) {
	const n = 2000
	jobs := make(chan int)
	go func() {
		defer close(jobs)
		for i := range n {
			jobs <- i
		}
	}()
	work := func(i int) int {
		if i%7 == 0 {
			runtime.Gosched() // let later jobs overtake this one
		}
		return i
	}
	var got []int
	inOrder(4, jobs, make(chan struct{}), work, func(r int) int { return r }, func(r int) { got = append(got, r) })
	if len(got) != n {
		t.Fatalf("delivered %d results; want %d", len(got), n)
	}
	for i, r := range got {
		if r != i {
			t.Fatalf("result %d delivered at position %d", r, i)
		}
	}
}
