package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/callscreen/callscreen/audit"
)

func init() {
	register(command{name: "log", summary: "work with the decision log: log verify FILES|DIR", run: runLog})
}

func runLog(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(stderr, "usage: callscreen log verify [--pubkey FILE] [--head FILE] [--allow-unsealed] FILE|DIR...")
		return 2
	}
	return runLogVerify(ctx, args[1:], stdout, stderr)
}

// runLogVerify checks a decision log: exit 0 when it verifies, 1 when it
// does not (naming the first bad line), 2 on bad usage.
func runLogVerify(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("log verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: callscreen log verify [flags] FILE|DIR...

Checks that the files (in the order given; a directory stands for its
audit-*.jsonl files in log order) form one unbroken decision log: record
hashes, sequence, hash chain, checkpoint signatures and numbering. Names the
first bad line as FILE:LINE (offset, seq). Exit status 0 when the log
verifies, 1 when it does not, 2 on bad usage.

flags:
`)
		fs.PrintDefaults()
	}
	pubFile := fs.String("pubkey", "", "public key (PEM) the checkpoints must be signed with; default: the one *.pub file in the log directory")
	headFile := fs.String("head", "", "head checkpoint file the log must reach; default: head.json of a directory argument")
	unsealed := fs.Bool("allow-unsealed", false, "accept records after the last checkpoint (a running or crashed writer)")
	noSig := fs.Bool("no-signatures", false, "check the chain only, without a public key")
	noHead := fs.Bool("no-head", false, "do not use the head file of a directory argument")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	var files []string
	var logDir, headDir string
	for _, arg := range fs.Args() {
		st, err := os.Stat(arg)
		if err != nil {
			fmt.Fprintf(stderr, "callscreen log verify: %v\n", err)
			return 2
		}
		if !st.IsDir() {
			files = append(files, arg)
			if logDir == "" {
				logDir = filepath.Dir(arg)
			}
			continue
		}
		more, err := audit.Files(arg)
		if err != nil {
			fmt.Fprintf(stderr, "callscreen log verify: %v\n", err)
			return 2
		}
		if len(more) == 0 {
			fmt.Fprintf(stderr, "callscreen log verify: no audit-*.jsonl files in %s\n", arg)
			return 2
		}
		files = append(files, more...)
		logDir, headDir = arg, arg
	}

	opts := audit.VerifyOptions{AllowUnsealed: *unsealed}
	switch {
	case *noSig:
	case *pubFile != "":
		pub, err := audit.ReadPublicKey(*pubFile)
		if err != nil {
			fmt.Fprintf(stderr, "callscreen log verify: %v\n", err)
			return 2
		}
		opts.PublicKey = pub
	default:
		// The public key written beside the signing key, when the key
		// lives in the log directory (the default).
		keys, _ := filepath.Glob(filepath.Join(logDir, "*.pub"))
		if len(keys) != 1 {
			fmt.Fprintf(stderr, "callscreen log verify: %d public keys (*.pub) in %s: give --pubkey FILE, or --no-signatures to check the chain only\n", len(keys), logDir)
			return 2
		}
		p := keys[0]
		pub, err := audit.ReadPublicKey(p)
		if err != nil {
			fmt.Fprintf(stderr, "callscreen log verify: %v: give --pubkey FILE, or --no-signatures to check the chain only\n", err)
			return 2
		}
		opts.PublicKey = pub
		fmt.Fprintf(stdout, "using public key %s (key id %s)\n", p, audit.KeyID(pub))
	}
	head, err := readHeadArg(*headFile, headDir, *noHead)
	if err != nil {
		fmt.Fprintf(stderr, "callscreen log verify: %v\n", err)
		return 2
	}
	opts.Head = head

	rep, err := audit.VerifyWith(files, opts)
	if err != nil {
		var ve *audit.VerifyError
		if errors.As(err, &ve) {
			fmt.Fprintf(stdout, "FAIL: first bad entry: %v\n", err)
		} else {
			fmt.Fprintf(stdout, "FAIL: %v\n", err)
		}
		fmt.Fprintf(stdout, "verified before it: %s\n", rep)
		return 1
	}
	fmt.Fprintf(stdout, "OK: %s\n", rep)
	return 0
}

// readHeadArg reads the head checkpoint from --head, or from a directory
// argument's head file.
func readHeadArg(file, dir string, skip bool) (*audit.Checkpoint, error) {
	if file != "" {
		return audit.ReadCheckpointFile(file)
	}
	if dir == "" || skip {
		return nil, nil
	}
	return audit.ReadHead(dir)
}
