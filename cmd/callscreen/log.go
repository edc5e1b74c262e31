package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/callscreen/callscreen/audit"
)

func init() {
	register(command{name: "log", summary: "work with the decision log: log verify FILES|DIR", run: runLog})
}

// witnessTokenEnv holds the bearer token for a witness URL, the same
// variable that sets audit.witness.token for serve.
const witnessTokenEnv = "CALLSCREEN_AUDIT_WITNESS_TOKEN"

func runLog(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(stderr, "usage: callscreen log verify [--pubkey FILE] [--head FILE] [--after FILE] [--witness FILE|URL] [--allow-unsealed] FILE|DIR...")
		return 2
	}
	return runLogVerify(ctx, args[1:], stdout, stderr)
}

// runLogVerify checks a decision log: exit 0 when it verifies, 1 when it
// does not (naming the first bad line, and every break), 2 on bad usage.
func runLogVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("log verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: callscreen log verify [flags] FILE|DIR...

Checks that the files (in the order given; a directory stands for its
audit-*.jsonl files in log order) form one unbroken decision log from
seq 1: record hashes, sequence, hash chain, file names, checkpoint
signatures and numbering, the head file, and what the witness holds.
Files that do not start the log continue from the last checkpoint of the
file before them in their directory, or of --after. Names the first bad
line as FILE:LINE (offset, seq), and every break (damage the server set
aside when it started). Exit status 0 when the log verifies, 1 when it
does not or has a break, 2 on bad usage.

flags:
`)
		fs.PrintDefaults()
	}
	pubFile := fs.String("pubkey", "", "public key (PEM) the checkpoints must be signed with; default: the one *.pub file in the log directory")
	headFile := fs.String("head", "", "head checkpoint file the log must reach; default: head.json of a directory argument")
	afterFile := fs.String("after", "", "the log continues from the last checkpoint of this file (the newest archived log file, or a checkpoint file)")
	witness := fs.String("witness", "", "checkpoints an off-box witness holds: a file of checkpoint lines, or an https URL (bearer token from $"+witnessTokenEnv+")")
	unsealed := fs.Bool("allow-unsealed", false, "accept records after the last checkpoint, and a head file behind it (a running or crashed writer)")
	noSig := fs.Bool("no-signatures", false, "check the chain only, without a public key")
	noHead := fs.Bool("no-head", false, "do not use the head file of a directory argument")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "callscreen log verify: %v\n", err)
		return 2
	}
	var files []string
	var logDir, headDir string
	for _, arg := range fs.Args() {
		st, err := os.Stat(arg)
		if err != nil {
			return fail(err)
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
			return fail(err)
		}
		if len(more) == 0 {
			return fail(fmt.Errorf("no audit-*.jsonl files in %s", arg))
		}
		files = append(files, more...)
		if logDir == "" {
			logDir = arg
		}
		headDir = arg
	}

	opts := audit.VerifyOptions{AllowUnsealed: *unsealed}
	switch {
	case *noSig:
	case *pubFile != "":
		pub, err := audit.ReadPublicKey(*pubFile)
		if err != nil {
			return fail(err)
		}
		opts.PublicKey = pub
	default:
		// The public key written beside the signing key, when the key
		// lives in the log directory (the default).
		keys, _ := filepath.Glob(filepath.Join(logDir, "*.pub"))
		if len(keys) != 1 {
			return fail(fmt.Errorf("%d public keys (*.pub) in %s: give --pubkey FILE, or --no-signatures to check the chain only", len(keys), logDir))
		}
		pub, err := audit.ReadPublicKey(keys[0])
		if err != nil {
			return fail(fmt.Errorf("%w: give --pubkey FILE, or --no-signatures to check the chain only", err))
		}
		opts.PublicKey = pub
		fmt.Fprintf(stdout, "using public key %s (key id %s)\n", keys[0], audit.KeyID(pub))
	}
	head, err := readHeadArg(*headFile, headDir, *noHead)
	if err != nil {
		return fail(err)
	}
	opts.Head = head
	after, from, err := afterArg(*afterFile, files[0])
	if err != nil {
		return fail(err)
	}
	if after != nil {
		opts.After = after
		fmt.Fprintf(stdout, "continuing from checkpoint %d (seq %d) of %s\n", after.N, after.Seq, from)
	}
	if *witness != "" {
		wit, err := audit.ReadWitness(ctx, *witness, os.Getenv(witnessTokenEnv), nil)
		if err != nil {
			return fail(err)
		}
		opts.Witness = wit
		fmt.Fprintf(stdout, "witness %s holds %d checkpoints\n", *witness, len(wit))
	}

	rep, err := audit.VerifyWith(files, opts)
	for _, b := range rep.Breaks {
		fmt.Fprintf(stdout, "BREAK: %s\n", b)
	}
	var ve *audit.VerifyError
	switch {
	case err == nil:
		fmt.Fprintf(stdout, "OK: %s\n", rep)
		return 0
	case errors.Is(err, audit.ErrBreak):
		fmt.Fprintf(stdout, "FAIL: the log has %d break(s): the server found it damaged at start, set the damaged files aside and went on; everything before and after verified\n", len(rep.Breaks))
		fmt.Fprintf(stdout, "verified: %s\n", rep)
	case errors.As(err, &ve):
		fmt.Fprintf(stdout, "FAIL: first bad entry: %v\n", err)
		fmt.Fprintf(stdout, "verified before it: %s\n", rep)
	default:
		fmt.Fprintf(stdout, "FAIL: %v\n", err)
		fmt.Fprintf(stdout, "verified before it: %s\n", rep)
	}
	return 1
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

// afterArg finds the checkpoint the log continues from: --after's last
// checkpoint, or, when the first file does not start the log, that of the
// file before it in its directory. It returns nil for a log that starts
// at seq 1, and the file the checkpoint came from.
func afterArg(after, first string) (*audit.Checkpoint, string, error) {
	if after != "" {
		cp, err := audit.LastCheckpoint(after)
		return cp, after, err
	}
	siblings, err := audit.Files(filepath.Dir(first))
	if err != nil {
		return nil, "", err
	}
	i := slices.Index(siblings, filepath.Clean(first))
	if i <= 0 {
		return nil, "", nil // the first file of its directory: it must start at seq 1
	}
	prev := siblings[i-1]
	cp, err := audit.LastCheckpoint(prev)
	if err != nil {
		return nil, "", fmt.Errorf("%s does not start the log and the file before it does not end with a checkpoint (verify the directory instead): %w", first, err)
	}
	return cp, prev, nil
}
