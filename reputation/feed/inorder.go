package feed

import "sync"

// inOrder runs work on the jobs with workers goroutines and hands the
// results to deliver one at a time, in the order of their sequence
// numbers (0, 1, 2...; seq reads one). It returns once jobs is closed and
// every result is delivered. Closing stop makes the workers drop what they
// hold and stop taking jobs.
func inOrder[J, R any](workers int, jobs <-chan J, stop <-chan struct{}, work func(J) R, seq func(R) int, deliver func(R)) {
	results := make(chan R, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				select {
				case results <- work(j):
				case <-stop:
					return
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(results)
	}()
	pending := map[int]R{}
	next := 0
	for r := range results {
		pending[seq(r)] = r
		for {
			r, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			deliver(r)
		}
	}
}
