package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
)

type bench struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, out io.Writer) error
}

var benches = map[string]bench{}

func register(b bench) {
	if _, dup := benches[b.name]; dup {
		panic("duplicate bench " + b.name)
	}
	benches[b.name] = b
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if len(os.Args) < 2 || os.Args[1] == "list" || os.Args[1] == "-h" {
		names := make([]string, 0, len(benches))
		for n := range benches {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Println("usage: callscreen-bench NAME [flags]")
		for _, n := range names {
			fmt.Printf("  %-12s %s\n", n, benches[n].summary)
		}
		return
	}
	b, ok := benches[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "callscreen-bench: unknown benchmark %q\n", os.Args[1])
		os.Exit(2)
	}
	if err := b.run(ctx, os.Args[2:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "callscreen-bench %s: %v\n", b.name, err)
		os.Exit(1)
	}
}
