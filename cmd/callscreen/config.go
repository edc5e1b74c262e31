package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/callscreen/callscreen/config"
	"github.com/callscreen/callscreen/service"
)

func init() {
	register(command{name: "config", summary: "print the effective configuration (secrets redacted)", run: runConfig})
}

// runConfig prints the configuration serve would run with: defaults, the
// file and the environment merged, validated, secrets redacted, as YAML
// that loads back to the same configuration.
func runConfig(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("callscreen config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := configFlag(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "callscreen config: %v\n", err)
		return 1
	}
	out, err := cfg.YAML()
	if err != nil {
		fmt.Fprintf(stderr, "callscreen config: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "# callscreen effective configuration, version %s, from %s\n", cfg.Version(), service.ConfigSource(cfg))
	_, _ = stdout.Write(out)
	return 0
}
