package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

// systemConfig is the configuration file `make install` puts in place and
// the systemd unit runs serve with.
var systemConfig = "/etc/callscreen/callscreen.yaml"

// configFlag adds --config to fs; its default is $CALLSCREEN_CONFIG, else
// systemConfig when that file exists, so that a command run on the host
// reads the configuration the service runs with. CALLSCREEN_CONFIG set
// to "" asks for the built-in defaults.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", defaultConfig(), "YAML configuration `file` (default: $CALLSCREEN_CONFIG, else "+systemConfig+" when it exists, else built-in defaults)")
}

func defaultConfig() string {
	if p, set := os.LookupEnv("CALLSCREEN_CONFIG"); set {
		return p
	}
	if _, err := os.Stat(systemConfig); err == nil {
		return systemConfig
	}
	return ""
}

// newFlagSet returns a flag set that reports to stderr, printing usage and
// then the flags on -h or a bad flag.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, usage)
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	return fs
}

// parseArgs parses args with flags and positional arguments in any order
// ("lists add +1212… --list block") and returns the positional ones. ok is
// false when a flag was bad or -h was asked for; fs has said why.
func parseArgs(fs *flag.FlagSet, args []string) (pos []string, ok bool) {
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return nil, false
		}
		if fs.NArg() == 0 {
			return pos, true
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
}
