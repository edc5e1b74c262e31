package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/callscreen/callscreen/agi"
	"github.com/callscreen/callscreen/agi/loadtest"
)

func init() {
	register(bench{
		name:    "agi",
		summary: "FastAGI sessions/s and p50/p99 vs a minimal server; server memory per held session",
		run:     runAGIBench,
	})
}

func runAGIBench(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("agi", flag.ContinueOnError)
	n := fs.Int("n", 20000, "at most this many sessions per measurement")
	dur := fs.Duration("duration", 3*time.Second, "at most this long per measurement")
	levels := fs.String("c", "1,8,64", "concurrent simulated Asterisk connections, comma-separated")
	idle := fs.Int("idle", 2000, "sessions held for the memory measurement (0: skip it)")
	holdAddr := fs.String("hold-client", "", "internal: hold -idle connections to this address (run as a child process)")
	holdEnv := fs.Bool("hold-env", true, "internal: held connections send their environment block")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *holdAddr != "" {
		return holdClient(ctx, *holdAddr, *idle, *holdEnv)
	}
	var conc []int
	for _, f := range strings.Split(*levels, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 {
			return fmt.Errorf("-c: bad level %q", f)
		}
		conc = append(conc, c)
	}
	if *n < 1 || *dur <= 0 {
		return errors.New("-n and -duration must be positive")
	}
	slog.SetDefault(slog.New(slog.DiscardHandler))

	fmt.Fprintf(out, "FastAGI on loopback, simulated Asterisk callers: agi = agi.Server with GET VARIABLE + 2 SET VARIABLE,\n")
	fmt.Fprintf(out, "agi-mset = agi.Server with the allow path's one EXEC MSet, minimal = a bare server with the 3 commands\n")
	fmt.Fprintf(out, "GOMAXPROCS=%d, per measurement at most %d sessions or %v\n\n", runtime.GOMAXPROCS(0), *n, *dur)
	if err := throughput(ctx, out, conc, *n, *dur); err != nil {
		return err
	}
	if *idle > 0 {
		return idleMemory(ctx, out, *idle)
	}
	return nil
}

func throughput(ctx context.Context, out io.Writer, conc []int, n int, d time.Duration) error {
	agiL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &agi.Server{Handler: loadtest.Handler(), MaxSessions: 10000, Metrics: agi.NewMetrics(nil)}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = srv.Serve(sctx, agiL) }()
	msetL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	msetSrv := &agi.Server{Handler: loadtest.MSetHandler(), MaxSessions: 10000, Metrics: agi.NewMetrics(nil)}
	go func() { _ = msetSrv.Serve(sctx, msetL) }()
	minL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer minL.Close()
	go func() { _ = loadtest.ServeMinimal(minL) }()

	fmt.Fprintf(out, "%-8s %s\n", "server", "result")
	for _, c := range conc {
		// Warm up both, then alternate so neither gets the quieter slot.
		loadtest.Run(ctx, agiL.Addr().String(), c, 200, time.Second)
		loadtest.Run(ctx, msetL.Addr().String(), c, 200, time.Second)
		loadtest.Run(ctx, minL.Addr().String(), c, 200, time.Second)
		ours := loadtest.Run(ctx, agiL.Addr().String(), c, n, d)
		mset := loadtest.Run(ctx, msetL.Addr().String(), c, n, d)
		base := loadtest.Run(ctx, minL.Addr().String(), c, n, d)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fmt.Fprintf(out, "%-8s %v\n%-8s %v\n%-8s %v\n", "agi", ours, "agi-mset", mset, "minimal", base)
		if base.PerSecond() > 0 {
			fmt.Fprintf(out, "%-8s agi/minimal throughput %.2f, agi-mset/minimal %.2f\n\n", "", ours.PerSecond()/base.PerSecond(), mset.PerSecond()/base.PerSecond())
		}
	}
	return nil
}

// idleMemory holds sessions from a child process (so the callers' memory
// is not counted) and reports what each costs the server: live heap plus
// goroutine stacks, after GC, before and after.
func idleMemory(ctx context.Context, out io.Writer, n int) error {
	fmt.Fprintf(out, "server memory per held session (%d held, heap alloc + stacks after GC)\n", n)
	for _, mode := range []struct {
		name string
		env  bool
		agi  bool
	}{
		{"agi, waiting on a command", true, true},
		{"agi, waiting for its environment", false, true},
		{"minimal, waiting on a command", true, false},
	} {
		per, err := holdAndMeasure(ctx, n, mode.env, mode.agi)
		if err != nil {
			return fmt.Errorf("%s: %w", mode.name, err)
		}
		fmt.Fprintf(out, "  %-34s %6.0f bytes\n", mode.name, per)
	}
	return nil
}

func holdAndMeasure(ctx context.Context, n int, env, useAGI bool) (float64, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	cl := &loadtest.CountingListener{Listener: l}
	var held atomic.Int64
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	served := make(chan struct{})
	go func() {
		defer close(served)
		if useAGI {
			srv := &agi.Server{Handler: loadtest.HoldHandler(&held), MaxSessions: n + 100, HeaderTimeout: time.Minute}
			_ = srv.Serve(sctx, cl)
		} else {
			_ = loadtest.ServeMinimalHold(cl, &held)
		}
	}()
	if !useAGI {
		defer l.Close()
	}

	before := liveBytes()
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.CommandContext(ctx, exe, "agi", "-hold-client", l.Addr().String(), "-idle", strconv.Itoa(n), "-hold-env="+strconv.FormatBool(env))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		return 0, fmt.Errorf("hold client: %q %v", line, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if (env && held.Load() == int64(n)) || (!env && cl.Accepted.Load() == int64(n)) {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, fmt.Errorf("only %d held, %d accepted", held.Load(), cl.Accepted.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // let every session reach its blocking read
	after := liveBytes()
	stop()
	if !useAGI {
		l.Close()
	}
	stdin.Close()
	<-served
	return float64(after-before) / float64(n), nil
}

func liveBytes() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc) + int64(m.StackInuse)
}

// holdClient is the child process: hold n connections until stdin closes.
func holdClient(ctx context.Context, addr string, n int, env bool) error {
	stop := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stop)
	}()
	return loadtest.Hold(ctx, addr, n, env, func() { fmt.Println("ready") }, stop)
}
