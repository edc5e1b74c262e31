package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callscreen/callscreen/ari"
	"github.com/callscreen/callscreen/ari/aritest"
	"github.com/callscreen/callscreen/bridge"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/screen"
)

func init() {
	register(bench{
		name:    "ari-outbound",
		summary: "N concurrent per-call outbound websockets (Asterisk connects to callscreen) vs the same calls over one ARI event connection: memory per call, StasisStart to continue on the allow path",
		run:     runARIOutboundBench,
	})
}

const (
	obBenchUser = "bench"
	obBenchPass = "bench-secret"
	// obModePerCall and obModeClient are the two transports measured.
	obModePerCall = "percall"
	obModeClient  = "client"
)

// The fake Asterisk runs in a process of its own (this binary with
// -fake), so that the memory measured in this one is callscreen's alone
// and the fake's goroutines do not compete for the same scheduler.

func runARIOutboundBench(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("ari-outbound", flag.ContinueOnError)
	n := fs.Int("n", 1000, "concurrent calls (1 to 5000)")
	limit := fs.Duration("timeout", 3*time.Minute, "give up after this long (at most 10m)")
	fake := fs.String("fake", "", "internal: run as the fake Asterisk of one measurement (percall or client)")
	target := fs.String("target", "", "internal: the address the fake's per-call websockets connect to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *n > 5000 || *limit <= 0 || *limit > 10*time.Minute {
		return errors.New("-n must be 1 to 5000, -timeout at most 10m")
	}
	ctx, cancel := context.WithTimeout(ctx, *limit)
	defer cancel()
	if *fake != "" {
		return runOutboundFake(ctx, *fake, *target, *n, os.Stdin, out)
	}

	fmt.Fprintf(out, "ari-outbound: %d calls at once, allow path (no reputation source), the fake Asterisk in a process of its own\n", *n)
	type row struct {
		name     string
		mem, lat *obMeasure
	}
	var rows []row
	for _, mode := range []string{obModePerCall, obModeClient} {
		mem, err := obMeasureRun(ctx, mode, *n, true)
		if err != nil {
			return fmt.Errorf("%s, memory run: %w", mode, err)
		}
		lat, err := obMeasureRun(ctx, mode, *n, false)
		if err != nil {
			return fmt.Errorf("%s, latency run: %w", mode, err)
		}
		name := "per-call outbound websockets (REST over each)"
		if mode == obModeClient {
			name = "client mode (one event websocket, REST over HTTP)"
		}
		rows = append(rows, row{name, mem, lat})
	}
	var problems []string
	for _, r := range rows {
		nf := float64(*n)
		q := percentiles(r.lat.latencies, 50, 99, 100)
		fmt.Fprintf(out, "  %s\n", r.name)
		fmt.Fprintf(out, "    memory with %d calls in flight: %.1f KiB heap + %.1f KiB goroutine stacks, %.2f goroutines per call\n",
			*n, float64(r.mem.heap)/nf/1024, float64(r.mem.stack)/nf/1024, r.mem.goroutines/nf)
		fmt.Fprintf(out, "    StasisStart sent -> continue received by Asterisk: n=%d p50=%s p99=%s max=%s (wall %s)\n",
			len(r.lat.latencies), q[0].Round(time.Microsecond), q[1].Round(time.Microsecond), q[2].Round(time.Microsecond), r.lat.wall.Round(time.Millisecond))
		for _, m := range []*obMeasure{r.mem, r.lat} {
			if m.failed > 0 || m.notContinued > 0 || m.screened != *n {
				problems = append(problems, fmt.Sprintf("%s: %d calls failed to start, %d not continued, %d of %d screened", r.name, m.failed, m.notContinued, m.screened, *n))
			}
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	fmt.Fprintln(out, "  ok: every call screened once and continued")
	return nil
}

// obMeasure is one run: callscreen's memory for the calls in flight
// (park) or the time from StasisStart to continue.
type obMeasure struct {
	heap, stack          uint64
	goroutines           float64
	latencies            []time.Duration
	wall                 time.Duration
	failed, notContinued int
	screened             int
}

// obFakeResult is what the fake process reports.
type obFakeResult struct {
	LatenciesNS  []int64 `json:"latencies_ns"`
	Failed       int     `json:"failed"`
	NotContinued int     `json:"not_continued"`
	WallNS       int64   `json:"wall_ns"`
}

// obMeasureRun runs n calls through mode. With park, every handler waits
// until all n are in flight; the memory is measured then.
func obMeasureRun(ctx context.Context, mode string, n int, park bool) (*obMeasure, error) {
	res := &obMeasure{}
	var mu sync.Mutex
	flow := &screen.Flow{
		Profiles: screen.ProfileMap{"default": policy.Default()},
		Logger:   slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Recorder: decision.RecorderFunc(func(*decision.Result) {
			mu.Lock()
			res.screened++
			mu.Unlock()
		}),
	}
	var entered atomic.Int64
	allIn := make(chan struct{})
	release := make(chan struct{})
	handler := ari.HandlerFunc(func(ctx context.Context, c *ari.Call) {
		if park {
			if entered.Add(1) == int64(n) {
				close(allIn)
			}
			select {
			case <-release:
			case <-ctx.Done():
				return
			}
		}
		flow.Run(ctx, bridge.ARI(c), bridge.ARIInfo(c))
	})
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	var served sync.WaitGroup
	defer served.Wait()

	args := []string{"ari-outbound", "-fake", mode, "-n", fmt.Sprint(n)}
	var srvAddr string
	if mode == obModePerCall {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		srvAddr = l.Addr().String()
		osrv := &ari.OutboundServer{
			Users:   []ari.OutboundUser{{Username: obBenchUser, Password: obBenchPass}},
			Handler: handler, Recover: bridge.ARIRecover(), Logger: logger,
			MaxConns: 2*n + 100, MaxCalls: n + 100, CallTimeout: 2 * time.Minute,
		}
		served.Add(1)
		go func() {
			defer served.Done()
			_ = osrv.Serve(rctx, l)
		}()
		args = append(args, "-target", srvAddr)
	}
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 1<<20), 64<<20)
	next := func() (string, error) {
		if !lines.Scan() {
			return "", fmt.Errorf("the fake Asterisk stopped: %v", lines.Err())
		}
		return lines.Text(), nil
	}
	line, err := next()
	if err != nil {
		return nil, err
	}
	if u, ok := strings.CutPrefix(line, "URL "); ok {
		client, err := ari.NewClient(ari.ClientConfig{URL: u, Username: obBenchUser, Password: obBenchPass, MaxConns: 256})
		if err != nil {
			return nil, err
		}
		app := &ari.App{Client: client, Name: "callscreen", Handler: handler, Logger: logger,
			Recover: bridge.ARIRecover(), MaxCalls: n + 100, CallTimeout: 2 * time.Minute}
		served.Add(1)
		go func() {
			defer served.Done()
			_ = app.Run(rctx)
		}()
		if line, err = next(); err != nil {
			return nil, err
		}
	}
	if line != "READY" {
		return nil, fmt.Errorf("the fake Asterisk said %q", line)
	}
	h0, s0, g0 := ariMem()
	if _, err := io.WriteString(stdin, "GO\n"); err != nil {
		return nil, err
	}
	if park {
		select {
		case <-allIn:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %d calls in flight (%d so far): %w", n, entered.Load(), ctx.Err())
		}
		h1, s1, g1 := ariMem()
		res.heap, res.stack, res.goroutines = h1-min(h0, h1), s1-min(s0, s1), float64(g1-g0)
		close(release)
	}
	line, err = next()
	if err != nil {
		return nil, err
	}
	var fr obFakeResult
	if err := json.Unmarshal([]byte(line), &fr); err != nil {
		return nil, fmt.Errorf("the fake's result %q: %w", line, err)
	}
	for _, ns := range fr.LatenciesNS {
		res.latencies = append(res.latencies, time.Duration(ns))
	}
	res.failed, res.notContinued, res.wall = fr.Failed, fr.NotContinued, time.Duration(fr.WallNS)
	stop()
	served.Wait()
	mu.Lock()
	defer mu.Unlock()
	return res, nil
}

// runOutboundFake is the fake Asterisk of one measurement: it says READY
// (client mode: first URL, then READY once the application connected),
// waits for GO on in, places n calls at once, waits for all to leave
// Stasis and writes an obFakeResult line.
func runOutboundFake(ctx context.Context, mode, target string, n int, in io.Reader, out io.Writer) error {
	var mu sync.Mutex
	started := map[string]time.Time{}
	continued := map[string]time.Time{}
	cfg := aritest.Config{
		NoLog: true,
		OnEmit: func(_ string, ev ari.Event) {
			if st, ok := ev.(*ari.StasisStart); ok {
				now := time.Now()
				mu.Lock()
				started[st.Channel.ID] = now
				mu.Unlock()
			}
		},
		OnRequest: func(method, path string) {
			id, ok := strings.CutSuffix(strings.TrimPrefix(path, "/channels/"), "/continue")
			if method != "POST" || !ok {
				return
			}
			now := time.Now()
			mu.Lock()
			if _, seen := continued[id]; !seen {
				continued[id] = now
			}
			mu.Unlock()
		},
	}
	app := "callscreen"
	if mode == obModeClient {
		cfg.Username, cfg.Password = obBenchUser, obBenchPass
	}
	srv := aritest.NewServer(cfg)
	defer srv.Close()
	switch mode {
	case obModePerCall:
		app = "callscreen-pc"
		if _, err := srv.Outbound(aritest.OutboundConfig{
			App: app, URI: "ws://" + target + "/ari", Username: obBenchUser, Password: obBenchPass, PerCall: true,
			ConnectTimeout: 5 * time.Second, ReconnectInterval: 100 * time.Millisecond, ReconnectAttempts: 5,
		}); err != nil {
			return err
		}
	case obModeClient:
		fmt.Fprintln(out, "URL "+srv.URL)
		if err := srv.WaitConnected(ctx, app); err != nil {
			return err
		}
	default:
		return fmt.Errorf("-fake %q: want percall or client", mode)
	}
	fmt.Fprintln(out, "READY")
	if line, err := bufio.NewReader(in).ReadString('\n'); err != nil || line != "GO\n" {
		return fmt.Errorf("waiting for GO: %q %v", line, err)
	}
	began := time.Now()
	var res obFakeResult
	var wg sync.WaitGroup
	var rmu sync.Mutex
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch, err := srv.StartCall(app, aritest.CallSpec{
				CallerNumber: fmt.Sprintf("+1212555%04d", i), Exten: fmt.Sprintf("1555124%04d", i), Args: []string{"screened="},
			})
			if err != nil {
				rmu.Lock()
				res.Failed++
				rmu.Unlock()
				return
			}
			select {
			case <-ch.Done():
			case <-ctx.Done():
			}
			if ch.Continued() != 1 {
				rmu.Lock()
				res.NotContinued++
				rmu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.WallNS = int64(time.Since(began))
	mu.Lock()
	for id, t0 := range started {
		if t1, ok := continued[id]; ok {
			res.LatenciesNS = append(res.LatenciesNS, int64(t1.Sub(t0)))
		}
	}
	mu.Unlock()
	b, err := json.Marshal(&res)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, string(b))
	return nil
}
