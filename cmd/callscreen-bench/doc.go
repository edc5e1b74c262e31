// Command callscreen-bench runs callscreen's load tests and measurements on
// loopback, each bounded in count and time, and prints the numbers.
//
// Each benchmark lives in a file of its own and registers itself.
//
//	go run ./cmd/callscreen-bench list       # what there is
//	go run ./cmd/callscreen-bench NAME [flags]
//
// It is a measuring tool, not part of the product: the callscreen binary
// must never import it, and a benchmark must never run unbounded (each is
// bounded by a count and a time limit) or leave a process or a temporary
// directory behind.
package main
