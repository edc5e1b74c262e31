package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/callscreen/callscreen/agi"
	"github.com/callscreen/callscreen/audit"
	"github.com/callscreen/callscreen/bridge"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/internal/flowbench"
	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/cache"
	"github.com/callscreen/callscreen/screen"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

func init() {
	register(bench{
		name:    "flow",
		summary: "allow-path decision latency and server CPU per session: screening flow vs bare FastAGI handlers",
		run:     runFlowBench,
	})
}

// The variants measured, each behind its own FastAGI server in this
// process; the simulated Asterisk callers run in a child process, so this
// process's getrusage is the servers' CPU alone.
const (
	variantBare = "bare-3"   // GET VARIABLE + 2 SET VARIABLE
	variantSeq  = "bare-seq" // the flow's allow-path command sequence (one EXEC MSet), nothing else
	variantFlow = "flow"     // the screening flow: serve's chain (no Redis), no hit, no provider
	variantL1   = "flow+L1"  // the flow with a provider whose verdict is in the in-process cache
	variantL2   = "flow+L2"  // the flow with a provider whose verdict is in Redis (in-process cache off)
	variantLog  = "flow+log" // the flow with the decision log (batch fsync) committing each decision

	// cacheCallers is how many distinct callers the cache variants cycle
	// through; every one is in the cache before the runs.
	cacheCallers = 10000
)

// flowClientResult is what the child process reports for one run.
type flowClientResult struct {
	Sessions  int     `json:"sessions"`
	Errors    int     `json:"errors"`
	Seconds   float64 `json:"seconds"`
	P50Micros float64 `json:"p50_us"`
	P99Micros float64 `json:"p99_us"`
}

func runFlowBench(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("flow", flag.ContinueOnError)
	n := fs.Int("n", 50000, "at most this many sessions per measurement")
	dur := fs.Duration("duration", 3*time.Second, "at most this long per measurement")
	levels := fs.String("c", "1,8,64", "concurrent simulated Asterisk connections, comma-separated")
	rounds := fs.Int("rounds", 1, "repeat the whole set this many times, variants interleaved")
	client := fs.String("client", "", "internal: run the callers against this address (child process)")
	conns := fs.Int("conns", 1, "internal: callers in the child process")
	cpuProfile := fs.String("cpuprofile", "", "write the servers' CPU profile over all runs to this `file`")
	callers := fs.Int("callers", 1000000, "distinct caller numbers the sessions cycle through (1: the same caller every time)")
	only := fs.String("variants", "", "measure only these variants, comma-separated (default: all; for profiling one)")
	withCache := fs.Bool("cache", false, "also measure the flow with a provider answered from the in-process cache (flow+L1) and from Redis (flow+L2); needs redis-server")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *client != "" {
		return flowClient(ctx, *client, *conns, *n, *callers, *dur, out)
	}
	var conc []int
	for _, f := range strings.Split(*levels, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 || c > 1000 {
			return fmt.Errorf("-c: bad level %q (1 to 1000)", f)
		}
		conc = append(conc, c)
	}
	if *n < 1 || *dur <= 0 || *dur > time.Minute || *rounds < 1 || *rounds > 5 {
		return errors.New("-n must be positive, -duration at most 1m, -rounds 1 to 5")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}

	// The flow as serve builds it for the allow path: the lists source
	// (a miss for every caller), no provider, metrics registered, an
	// info-level JSON logger (allow decisions log at debug: nothing is
	// written), no decision log.
	dir, err := os.MkdirTemp("", "callscreen-bench-flow-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	local, err := flowbench.New(ctx, dir)
	if err != nil {
		return err
	}
	defer local.Close()
	reg := prometheus.NewRegistry()
	var decisions latencies
	chain, prof := local.Chain, local.Profile
	var notAllowed atomic.Int64
	metrics := screen.NewMetrics(reg)
	newFlow := func(src reputation.Source, more ...decision.Recorder) *screen.Flow {
		return local.Flow(src, metrics, append(more, decision.RecorderFunc(func(r *decision.Result) {
			decisions.add(r.DecisionLatency)
			if r.Decision.Action != policy.Allow {
				notAllowed.Add(1)
			}
		}))...)
	}
	flow := newFlow(chain)
	// The same flow with the decision log as serve opens it by default
	// (batch fsync): each call's record is written before its routing
	// variables go out.
	auditLog, err := audit.Open(audit.Options{Dir: filepath.Join(dir, "audit"), Logger: local.Logger})
	if err != nil {
		return err
	}
	defer auditLog.Close(context.Background())
	flowLog := newFlow(chain, auditLog)
	handlers := map[string]agi.Handler{
		variantBare: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
			if _, _, err := s.GetVariable(ctx, decision.VarID); err != nil {
				return
			}
			_ = s.SetVariable(ctx, decision.VarResult, "allow")
			_ = s.SetVariable(ctx, decision.VarID, "01M80QP64KW6KJAADJ")
		}),
		variantSeq: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
			_ = s.SetVariables(ctx, []agi.Variable{{Name: decision.VarResult, Value: "allow"}, {Name: decision.VarAction, Value: "allow"},
				{Name: decision.VarTier, Value: "UNKNOWN"}, {Name: decision.VarChallenge, Value: "none"},
				{Name: decision.VarMode, Value: "enforce"}, {Name: decision.VarID, Value: "01M80QP64KW6KJAADJ"}})
		}),
		variantFlow: bridge.AGIHandler(func() *screen.Flow { return flow }),
		variantLog:  bridge.AGIHandler(func() *screen.Flow { return flowLog }),
	}
	variants := []string{variantBare, variantSeq, variantFlow, variantLog}
	var providerCalls atomic.Int64
	if *withCache {
		redisAddr, stopRedis, err := startRedis("redis-server", "leave out -cache")
		if err != nil {
			return err
		}
		defer stopRedis()
		rdb := redis.NewClient(&redis.Options{Addr: redisAddr, MaxRetries: -1, ContextTimeoutEnabled: true})
		defer rdb.Close()
		// A provider that knows every caller as a business: allowed, and
		// cached with the clean TTL. Calls to it during the runs would
		// mean a miss: they are counted and make the run void.
		provider := reputation.SourceFunc(func(context.Context, reputation.Query) (reputation.Verdict, error) {
			providerCalls.Add(1)
			return reputation.Verdict{Verdict: policy.Verdict{Tier: policy.TierBusiness, Reasons: []policy.Reason{policy.ProviderBusiness}}}, nil
		})
		for _, v := range []struct {
			name string
			opts cache.Options
		}{
			{variantL1, cache.Options{}},
			{variantL2, cache.Options{L1Size: -1, Redis: rdb}},
		} {
			c, err := cache.New(v.opts)
			if err != nil {
				return err
			}
			ps, err := reputation.NewProviders(reputation.ProvidersOptions{Cache: c}, reputation.Provider{Name: "bench", Source: provider})
			if err != nil {
				return err
			}
			for i := range cacheCallers {
				q := reputation.Query{Caller: number.Parse(flowCaller(i, cacheCallers), "US"), Profile: prof, Time: time.Now()}
				if _, err := ps.Lookup(ctx, q); err != nil {
					return fmt.Errorf("warm the cache: %w", err)
				}
			}
			f := newFlow(append(slices.Clone(chain), reputation.Named{Name: "providers", Source: ps}))
			handlers[v.name] = bridge.AGIHandler(func() *screen.Flow { return f })
			variants = append(variants, v.name)
		}
		providerCalls.Store(0)
	}
	if *only != "" {
		var keep []string
		for _, v := range strings.Split(*only, ",") {
			v = strings.TrimSpace(v)
			if handlers[v] == nil {
				return fmt.Errorf("-variants: no variant %q (have %s)", v, strings.Join(variants, ", "))
			}
			keep = append(keep, v)
		}
		variants = keep
	}
	addrs := map[string]string{}
	var served sync.WaitGroup
	srvCtx, stop := context.WithCancel(context.Background())
	defer func() {
		stop()
		served.Wait()
	}()
	for name, h := range handlers {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		srv := &agi.Server{Handler: h, MaxSessions: 2000, Logger: local.Logger}
		addrs[name] = ln.Addr().String()
		served.Add(1)
		go func() {
			defer served.Done()
			_ = srv.Serve(srvCtx, ln)
		}()
	}

	if *cpuProfile != "" {
		pf, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Fprintf(out, "Allow path on loopback (caller not on the lists, no provider), simulated Asterisk callers in a child process.\n")
	fmt.Fprintf(out, "Server CPU is this process's getrusage (user+system) over the run, divided by sessions served.\n")
	fmt.Fprintf(out, "GOMAXPROCS=%d, NumCPU=%d, per measurement at most %d sessions or %v\n", runtime.GOMAXPROCS(0), runtime.NumCPU(), *n, *dur)
	fmt.Fprintf(out, "  %s: GET VARIABLE + 2 SET VARIABLE (3 round trips)\n", variantBare)
	fmt.Fprintf(out, "  %s: the flow's command sequence, one EXEC MSet of 6 variables (1 round trip), no logic\n", variantSeq)
	fmt.Fprintf(out, "  %s: screen.Flow through bridge.AGI with serve's chain without Redis or providers (critical numbers,\n", variantFlow)
	fmt.Fprintf(out, "        feedback, lists, feed, behaviour counters), policy, id, metrics; CALLSCREEN_ID handed over\n")
	fmt.Fprintf(out, "        as the dialplan include does (agi_arg_1: screened=), so 1 round trip (EXEC MSet)\n")
	fmt.Fprintf(out, "  %s: the flow with the decision log (batch fsync), each record written before the routing variables\n", variantLog)
	if *withCache {
		fmt.Fprintf(out, "  %s / %s: the flow plus a provider stage whose verdict for each of %d callers is already in the\n", variantL1, variantL2, cacheCallers)
		fmt.Fprintf(out, "        in-process cache / in Redis on loopback (in-process cache off), so every lookup is a hit\n")
	}
	fmt.Fprintln(out)

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "conns\tvariant\tsessions\tsess/s\tp50 µs\tp99 µs\tCPU µs/session\tallocs/session\tbytes/session\tdecision p50 µs\tdecision p99 µs\t")
	type key struct {
		c int
		v string
	}
	cpu := map[key]float64{}
	rate := map[key]float64{}
	for round := 0; round < *rounds; round++ {
		for _, c := range conc {
			for _, v := range variants {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				decisions.reset()
				runtime.GC()
				var ms0, ms1 runtime.MemStats
				runtime.ReadMemStats(&ms0)
				ru0 := rusage()
				nc := *callers
				if v == variantL1 || v == variantL2 {
					nc = min(nc, cacheCallers)
				}
				res, err := runFlowClient(ctx, self, addrs[v], c, *n, nc, *dur)
				ru1 := rusage()
				runtime.ReadMemStats(&ms1)
				if err != nil {
					return fmt.Errorf("%s at %d: %w", v, c, err)
				}
				if res.Sessions == 0 {
					return fmt.Errorf("%s at %d: no session completed (%d errors)", v, c, res.Errors)
				}
				perSession := float64((ru1 - ru0).Microseconds()) / float64(res.Sessions)
				cpu[key{c, v}] += perSession
				rate[key{c, v}] += float64(res.Sessions) / res.Seconds
				dp50, dp99 := "-", "-"
				if strings.HasPrefix(v, variantFlow) {
					p50, p99 := decisions.percentiles()
					dp50, dp99 = micros(p50), micros(p99)
				}
				fmt.Fprintf(tw, "%d\t%s\t%d\t%.0f\t%.0f\t%.0f\t%.1f\t%.0f\t%.0f\t%s\t%s\t\n", c, v, res.Sessions,
					float64(res.Sessions)/res.Seconds, res.P50Micros, res.P99Micros, perSession,
					float64(ms1.Mallocs-ms0.Mallocs)/float64(res.Sessions), float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(res.Sessions), dp50, dp99)
				if res.Errors > 0 {
					fmt.Fprintf(tw, "\t(%d sessions failed)\t\t\t\t\t\t\t\t\t\t\n", res.Errors)
				}
			}
		}
	}
	tw.Flush()
	fmt.Fprintln(out)
	if n := notAllowed.Load(); n > 0 {
		return fmt.Errorf("%d flow sessions were not on the allow path: the measurement is void", n)
	}
	if n := providerCalls.Load(); n > 0 {
		return fmt.Errorf("%d lookups missed the cache during the runs: the cache measurement is void", n)
	}
	if *only != "" {
		return nil // the comparisons need every variant
	}
	for _, c := range conc {
		b, s, f := cpu[key{c, variantBare}], cpu[key{c, variantSeq}], cpu[key{c, variantFlow}]
		fmt.Fprintf(out, "conns %d: flow CPU per session is %+.0f%% vs %s, %+.0f%% vs %s; flow sessions/s %.2fx %s\n", c, 100*(f-b)/b, variantBare,
			100*(f-s)/s, variantSeq, rate[key{c, variantFlow}]/rate[key{c, variantBare}], variantBare)
		lg := cpu[key{c, variantLog}]
		fmt.Fprintf(out, "conns %d: the decision log adds %+.1f µs CPU per session (%+.0f%%); latency: see p50 of %s vs %s\n", c, (lg-f)/float64(*rounds), 100*(lg-f)/f, variantLog, variantFlow)
		if *withCache {
			l1, l2 := cpu[key{c, variantL1}], cpu[key{c, variantL2}]
			fmt.Fprintf(out, "conns %d: a Redis hit costs %+.0f µs CPU per session over an in-process hit (%+.0f%%)\n", c, (l2-l1)/float64(*rounds), 100*(l2-l1)/l1)
		}
	}
	return nil
}

func rusage() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func micros(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d.Nanoseconds())/1000) }

// runFlowClient runs the callers in a child process and reads its result.
func runFlowClient(ctx context.Context, self, addr string, conns, n, callers int, d time.Duration) (flowClientResult, error) {
	cmd := exec.CommandContext(ctx, self, "flow", "-client", addr, "-conns", strconv.Itoa(conns),
		"-n", strconv.Itoa(n), "-callers", strconv.Itoa(callers), "-duration", d.String())
	cmd.Stderr = os.Stderr
	outb, err := cmd.Output()
	if err != nil {
		return flowClientResult{}, fmt.Errorf("client process: %w", err)
	}
	var res flowClientResult
	if err := json.Unmarshal(outb, &res); err != nil {
		return res, fmt.Errorf("client output %q: %w", outb, err)
	}
	return res, nil
}

// flowEnvHead and flowEnvTail frame the caller number in the environment
// block the callers send: a caller on no list, presentation allowed.
var flowEnvHead = "agi_network: yes\nagi_network_script: screen\nagi_request: agi://127.0.0.1/screen\n" +
	"agi_channel: PJSIP/trunk-00000001\nagi_language: en\nagi_type: PJSIP\nagi_uniqueid: 1712345678.1\n" +
	"agi_version: 22.10.1\nagi_callerid: "

var flowEnvTail = "\nagi_calleridname: John Q. Public\nagi_callingpres: 0\n" +
	"agi_callingani2: 0\nagi_callington: 0\nagi_callingtns: 0\nagi_dnid: 15551230000\nagi_rdnis: unknown\n" +
	"agi_context: from-trunk\nagi_extension: 15551230000\nagi_priority: 1\nagi_enhanced: 0.0\n" +
	"agi_accountcode: \nagi_threadid: 140000000000000\nagi_arg_1: screened=\n\n"

// flowCaller returns the i-th of callers distinct valid New York numbers
// (+1 212 XXX XXXX with an exchange from 200).
func flowCaller(i, callers int) string {
	i %= callers
	return fmt.Sprintf("+1212%03d%04d", 200+(i/10000)%800, i%10000)
}

// flowClient plays minimal Asterisk callers: each sends the environment,
// answers GET VARIABLE (unset), SET VARIABLE and EXEC MSet like Asterisk, and times
// the session from dial to the server's close. It prints one JSON result.
func flowClient(ctx context.Context, addr string, conns, n, callers int, d time.Duration, out io.Writer) error {
	if callers < 1 || callers > 8000000 {
		return errors.New("-callers: 1 to 8000000")
	}
	// Start each run at a different place, so runs do not find the
	// callers of earlier runs in the server's caches.
	offset := int(time.Now().UnixNano() % int64(callers))
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var started, errs atomic.Int64
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, n/conns+1)
			r := bufio.NewReaderSize(nil, 4096) // agi.MaxCommandLen and more
			for ctx.Err() == nil {
				i := started.Add(1)
				if i > int64(n) {
					break
				}
				env := flowEnvHead + flowCaller(offset+int(i), callers) + flowEnvTail
				t0 := time.Now()
				if err := flowSession(ctx, addr, r, env); err != nil {
					if dl, _ := ctx.Deadline(); ctx.Err() != nil || !time.Now().Before(dl) {
						break // the run is over: a session cut by its end is not a failure
					}
					if errs.Add(1) == 1 {
						fmt.Fprintf(os.Stderr, "flow bench client: first failed session: %v\n", err)
					}
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	res := flowClientResult{Sessions: len(all), Errors: int(errs.Load()), Seconds: el.Seconds()}
	q := percentiles(all, 50, 99)
	res.P50Micros = float64(q[0].Nanoseconds()) / 1000
	res.P99Micros = float64(q[1].Nanoseconds()) / 1000
	return json.NewEncoder(out).Encode(res)
}

func flowSession(ctx context.Context, addr string, r *bufio.Reader, env string) error {
	var dialer net.Dialer
	c, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	// Answer the server's close with a reset: neither side keeps the
	// connection in TIME_WAIT, so tens of thousands of short sessions do
	// not exhaust loopback ports (Asterisk's side behaves the same way for
	// the server's CPU: the session ends when the server closes).
	_ = c.(*net.TCPConn).SetLinger(0)
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl.Add(5 * time.Second))
	}
	r.Reset(c)
	if _, err := io.WriteString(c, env); err != nil {
		return err
	}
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, io.EOF) && len(line) == 0 {
			return nil // the server closed: the session is over
		}
		if err != nil {
			return err
		}
		if _, err := io.WriteString(c, flowbench.Reply(line)); err != nil {
			return err
		}
	}
}

// latencies collects decision latencies from the flow's recorder, bounded.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	if len(l.d) < 1_000_000 {
		l.d = append(l.d, d)
	}
	l.mu.Unlock()
}

func (l *latencies) reset() {
	l.mu.Lock()
	l.d = l.d[:0]
	l.mu.Unlock()
}

func (l *latencies) percentiles() (p50, p99 time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := percentiles(l.d, 50, 99)
	return q[0], q[1]
}
