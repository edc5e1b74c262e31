package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/callscreen/callscreen/config"
	"github.com/callscreen/callscreen/service"
)

func init() {
	register(command{name: "serve", summary: "run the FastAGI screening server", run: runServe})
}

// runServe reads the flags and the configuration, builds and checks the
// server (all --check-config does), and runs it. The lifecycle is package
// service's.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// First: a SIGHUP from here on is a reload, never the end of the
	// process; one that arrives during start-up reloads once serving.
	// (SIGINT and SIGTERM are main's, from its first line: during
	// start-up they stop serve before it serves.)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	fs := flag.NewFlagSet("callscreen serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := configFlag(fs)
	checkOnly := fs.Bool("check-config", false, "build and check everything serve would run, start nothing, and exit: 0 when serve would start, 1 with the reason")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "callscreen serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	load := func() (*config.Config, error) { return config.Load(*path) }
	cfg, set, err := buildSet(load)
	if err != nil {
		fmt.Fprintf(stderr, "callscreen serve: %v\n", err)
		return 1
	}
	if *checkOnly {
		src := cfg.Path()
		if src == "" {
			src = "built-in defaults"
		}
		fmt.Fprintf(stdout, "configuration OK: %s (version %s, profiles %s)\n", src, cfg.Version(), strings.Join(cfg.ProfileNames(), ", "))
		return 0
	}
	logger := config.NewLogger(cfg.Log, stderr)
	if err := service.New(set, service.Options{Logger: logger, Load: load}).Run(ctx, hup); err != nil {
		logger.Error("callscreen serve: stopped", "err", err)
		return 1
	}
	return 0
}

// buildSet loads the configuration, then builds and checks the server it
// describes: what serve refuses, --check-config refuses.
func buildSet(load func() (*config.Config, error)) (*config.Config, *service.Set, error) {
	cfg, err := load()
	if err != nil {
		return nil, nil, err
	}
	set, err := service.Build(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("config %s: %w", service.ConfigSource(cfg), err)
	}
	if err := set.Validate(); err != nil {
		return nil, nil, fmt.Errorf("config %s: %w", service.ConfigSource(cfg), err)
	}
	return cfg, set, nil
}
