package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/behavior"
	"github.com/callscreen/callscreen/reputation/feed"
	"github.com/callscreen/callscreen/reputation/lists"
	"github.com/callscreen/callscreen/reputation/lists/numset"
)

func init() {
	register(bench{name: "lists", summary: "lists at 1M/10M numbers (bytes, lookup ns), feed import into Redis vs redis-benchmark, behaviour round trips", run: runListsBench})
}

// runListsBench measures the lists, the feed and the behaviour checks:
//
//   - the in-memory must-block list at each -sizes: heap bytes per number
//     and lookup time (miss and hit) through (*lists.Lists).Lookup;
//   - a -feed-rows feed import into a redis-server started on a free port,
//     against redis-benchmark -P 64 -t set on the same server in the same
//     run;
//   - -calls behaviour checks through Redis, counting round trips with a
//     client hook and commands with INFO commandstats.
func runListsBench(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("lists", flag.ContinueOnError)
	sizes := fs.String("sizes", "1000000,10000000", "comma-separated list sizes (numbers)")
	lookups := fs.Int("lookups", 1_000_000, "lookups per size and kind (hit, miss)")
	feedRows := fs.Int("feed-rows", 1_000_000, "rows in the feed import (0 skips the Redis part)")
	calls := fs.Int("calls", 1000, "behaviour checks for the round-trip count")
	redisBin := fs.String("redis-server", "redis-server", "redis-server binary")
	benchBin := fs.String("redis-benchmark", "redis-benchmark", "redis-benchmark binary (\"\" skips the comparison)")
	limit := fs.Duration("max", 10*time.Minute, "stop after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *limit)
	defer cancel()

	fmt.Fprintf(out, "lists bench: %s/%s, %d CPUs; one dependent memory read in an 80 MB array (the floor for a cold lookup at 10M numbers): %d ns\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), lbMemoryLatency().Nanoseconds())
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return fmt.Errorf("-sizes: %q is not a positive number", s)
		}
		if err := lbMemory(ctx, out, n, *lookups); err != nil {
			return err
		}
	}
	if *feedRows <= 0 {
		return nil
	}
	addr, stop, err := startRedis(*redisBin, "-feed-rows 0 to skip the Redis part")
	if err != nil {
		return err
	}
	defer stop()
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 8})
	defer rdb.Close()

	var setRate float64
	if *benchBin != "" {
		if setRate, err = lbRedisBenchmark(ctx, *benchBin, addr, *feedRows); err != nil {
			return err
		}
		fmt.Fprintf(out, "redis-benchmark -P 64 -t set -n %d: %.0f SET/s\n", *feedRows, setRate)
		if err := rdb.FlushAll(ctx).Err(); err != nil {
			return err
		}
	}
	for _, format := range []feed.Format{feed.FTC, feed.JSON} {
		if err := lbFeedImport(ctx, out, rdb, format, *feedRows, setRate); err != nil {
			return err
		}
		if err := rdb.FlushAll(ctx).Err(); err != nil {
			return err
		}
	}
	return lbBehavior(ctx, out, rdb, addr, *calls)
}

// lbMemoryLatency measures one dependent read from memory: a random cycle
// through an 80 MB array, each read waiting for the one before.
func lbMemoryLatency() time.Duration {
	n := 80 << 20 / 8
	a := make([]uint64, n)
	perm := rand.Perm(n)
	for i := range n {
		a[perm[i]] = uint64(perm[(i+1)%n])
	}
	const reads = 2_000_000
	x := uint64(0)
	t0 := time.Now()
	for range reads {
		x = a[x]
	}
	d := time.Since(t0) / reads
	runtime.KeepAlive(x)
	return d
}

// lbNumber is the i-th generated NANP number, spread over the plan.
func lbNumber(i int) string {
	x := uint64(i)*2654435761 + 12345
	npa := 200 + x%800
	nxx := 200 + (x/800)%800
	line := (x / 640000) % 10000
	return "+1" + strconv.FormatUint(npa*10_000_000+nxx*10_000+line, 10)
}

// lbStore yields n generated must-block numbers, holding none of them.
type lbStore struct{ n int }

func (s lbStore) Tenants(context.Context) ([]string, error)   { return []string{""}, nil }
func (s lbStore) Apply(context.Context, []lists.Change) error { return errors.New("read-only") }
func (s lbStore) Load(ctx context.Context, _ string, fn func(lists.Entry) error) error {
	for i := range s.n {
		if i%65536 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if err := fn(lists.Entry{List: lists.Block, Kind: lists.Number, Value: lbNumber(i)}); err != nil {
			return err
		}
	}
	return nil
}

func lbHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func lbMemory(ctx context.Context, out io.Writer, n, lookups int) error {
	before := lbHeap()
	start := time.Now()
	l, err := lists.New(lists.Options{Store: lbStore{n}, LoadTimeout: 10 * time.Minute})
	if err != nil {
		return err
	}
	build := time.Since(start)
	if err := ctx.Err(); err != nil {
		return err
	}
	after := lbHeap()
	perNumber := float64(after-before) / float64(n)

	// The callers: E.164 numbers in one contiguous buffer, as a parsed
	// caller ID would be in cache; each lookup builds its query on the
	// stack, as the flow does.
	r := rand.New(rand.NewPCG(7, uint64(n)))
	const qn = 1 << 16
	arena := func(gen func() string) []string {
		buf := make([]byte, 0, qn*12)
		out := make([]string, qn)
		for i := range out {
			start := len(buf)
			buf = append(buf, gen()...)
			out[i] = string(buf[start:]) // small strings, allocated back to back
		}
		return out
	}
	hits := arena(func() string { return lbNumber(r.IntN(n)) })
	misses := arena(func() string { return "+1" + strconv.Itoa(2_000_000_000+r.IntN(999_999_999)) })
	measure := func(nums []string) (time.Duration, int) {
		found := 0
		t0 := time.Now()
		for i := range lookups {
			v, _ := l.Lookup(ctx, reputation.Query{Caller: number.Number{E164: nums[i&(qn-1)], Kind: number.Valid, CountryCode: 1}})
			if v.Final {
				found++
			}
		}
		return time.Since(t0) / time.Duration(lookups), found
	}
	missNS, falseHits := measure(misses)
	hitNS, found := measure(hits)
	if found != lookups {
		return fmt.Errorf("lists at %d: %d of %d listed numbers found", n, found, lookups)
	}
	fmt.Fprintf(out, "in-memory list, %d numbers: %.2f heap bytes/number, loaded in %s; Lookup miss %d ns, hit %d ns (hits build the verdict); %d of %d misses matched\n",
		n, perNumber, build.Round(time.Millisecond), missNS.Nanoseconds(), hitNS.Nanoseconds(), falseHits, lookups)
	runtime.KeepAlive(l)
	l = nil

	// The bare compact set with the same numbers, for comparison: what the
	// structure itself costs per lookup.
	setKeys := make([]uint64, n)
	for i := range setKeys {
		setKeys[i], _ = numset.Encode(lbNumber(i))
	}
	set := numset.Build(setKeys, nil)
	hk := make([]uint64, qn)
	mk := make([]uint64, qn)
	for i := range qn {
		hk[i], _ = numset.Encode(hits[i])
		mk[i], _ = numset.Encode(misses[i])
	}
	setNS := func(keys []uint64) time.Duration {
		t0 := time.Now()
		found := 0
		for i := range lookups {
			if set.Has(keys[i&(qn-1)]) {
				found++
			}
		}
		runtime.KeepAlive(found)
		return time.Since(t0) / time.Duration(lookups)
	}
	fmt.Fprintf(out, "  compact set alone, %d numbers: %.2f bytes/number, Get miss %d ns, hit %d ns\n",
		n, float64(set.Bytes())/float64(set.Len()), setNS(mk).Nanoseconds(), setNS(hk).Nanoseconds())
	return nil
}

var lbRPS = regexp.MustCompile(`SET: ([0-9.]+) requests per second`)

func lbRedisBenchmark(ctx context.Context, bin, addr string, n int) (float64, error) {
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.CommandContext(ctx, bin, "-h", host, "-p", port, "-P", "64", "-t", "set", "-n", strconv.Itoa(n), "-q")
	outb, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("redis-benchmark: %w: %s", err, outb)
	}
	// -q prints progress lines separated by \r; the last one has the rate.
	m := lbRPS.FindAllSubmatch(outb, -1)
	if len(m) == 0 {
		return 0, fmt.Errorf("redis-benchmark: no rate in %q", outb)
	}
	return strconv.ParseFloat(string(m[len(m)-1][1]), 64)
}

// lbFeedFile generates a feed of n rows, one distinct number each.
func lbFeedFile(format feed.Format, n int) []byte {
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	day := time.Now().UTC().Format("2006-01-02")
	if format == feed.FTC {
		w.WriteString("Company_Phone_Number,Created_Date,Violation_Date,Consumer_City,Consumer_State,Consumer_Area_Code,Subject,Recorded_Message_Or_Robocall\n")
		for i := range n {
			num := lbNumber(i)
			fmt.Fprintf(w, "%s,%s 00:00:06,%s 00:00:00,Austin,Texas,%s,Reducing your debt,%s\n", num[2:], day, day, num[2:5], []string{"N", "Y"}[i&1])
		}
	} else {
		w.WriteString("[\n")
		for i := range n {
			if i > 0 {
				w.WriteString(",\n")
			}
			fmt.Fprintf(w, `{"number":%q,"created_date":%q,"violation_date":%q,"consumer_state":"TX","subject":"Reducing your debt","robocall":%q}`,
				lbNumber(i), day, day, []string{"no", "yes"}[i&1])
		}
		w.WriteString("\n]\n")
	}
	w.Flush()
	return b.Bytes()
}

func lbFeedImport(ctx context.Context, out io.Writer, rdb redis.UniversalClient, format feed.Format, rows int, setRate float64) error {
	data := lbFeedFile(format, rows)
	f := feed.New(ctx, feed.Options{Store: feed.NewRedisStore(rdb, "")})
	st, err := f.Import(ctx, bytes.NewReader(data), feed.ImportOptions{Format: format})
	if err != nil {
		return fmt.Errorf("feed import: %w", err)
	}
	if st.Accepted != rows || f.Len("") != rows {
		return fmt.Errorf("feed import: %d accepted, %d held, want %d", st.Accepted, f.Len(""), rows)
	}
	rate := float64(rows) / st.Elapsed.Seconds()
	ratio := ""
	if setRate > 0 {
		ratio = fmt.Sprintf(" = %.2f× redis-benchmark SET", rate/setRate)
	}
	// A second instance loading what was imported.
	t0 := time.Now()
	g := feed.New(ctx, feed.Options{Store: feed.NewRedisStore(rdb, "")})
	load := time.Since(t0)
	if g.Len("") != rows {
		return fmt.Errorf("feed load: %d numbers, want %d", g.Len(""), rows)
	}
	fmt.Fprintf(out, "feed import into Redis, %d %s rows (%d MB): %s, %.0f rows/s%s; another instance loads it in %s\n",
		rows, format, len(data)>>20, st.Elapsed.Round(time.Millisecond), rate, ratio, load.Round(time.Millisecond))
	return nil
}

// lbTrips counts round trips and commands a client sends.
type lbTrips struct{ trips, commands int }

func (h *lbTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *lbTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.trips++
		h.commands++
		return next(ctx, cmd)
	}
}
func (h *lbTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.trips++
		h.commands += len(cmds)
		return next(ctx, cmds)
	}
}

var lbCmdStat = regexp.MustCompile(`(?m)^cmdstat_(\w+):calls=(\d+)`)

func lbCommandStats(ctx context.Context, rdb *redis.Client) (map[string]int, error) {
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, m := range lbCmdStat.FindAllStringSubmatch(info, -1) {
		out[m[1]], _ = strconv.Atoi(m[2])
	}
	return out, nil
}

func lbBehavior(ctx context.Context, out io.Writer, _ redis.UniversalClient, addr string, calls int) error {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	trips := &lbTrips{}
	rdb.AddHook(trips)
	b, err := behavior.New(behavior.Options{Counter: behavior.NewRedisCounter(rdb, ""), Timeout: time.Second})
	if err != nil {
		return err
	}
	defer b.Close()
	p := policy.Default()
	q := func(i int) reputation.Query {
		return reputation.Query{CallID: "c" + strconv.Itoa(i), Caller: number.Parse(lbNumber(i%50), "US"),
			Dialed: number.Parse("+12125550000", "US"), Profile: p, Time: time.Now()}
	}
	if _, err := b.Lookup(ctx, q(-1)); err != nil { // loads the scripts
		return err
	}
	admin := redis.NewClient(&redis.Options{Addr: addr})
	defer admin.Close()
	if err := admin.ConfigResetStat(ctx).Err(); err != nil {
		return err
	}
	trips.trips, trips.commands = 0, 0
	t0 := time.Now()
	for i := range calls {
		v, err := b.Lookup(ctx, q(i))
		if err != nil {
			return err
		}
		for _, r := range v.Reasons {
			if r == policy.ProviderUnavailable {
				return errors.New("behaviour counters unavailable during the bench")
			}
		}
	}
	per := time.Since(t0) / time.Duration(calls)
	stats, err := lbCommandStats(ctx, admin)
	if err != nil {
		return err
	}
	var parts []string
	server := 0
	for cmd, n := range stats {
		if cmd == "config" || cmd == "info" {
			continue
		}
		server += n
		parts = append(parts, fmt.Sprintf("%s=%d", cmd, n))
	}
	fmt.Fprintf(out, "behaviour checks through Redis, %d calls: %d round trips (%.2f a call), %d commands from the client, server commandstats %s (%.2f commands a call), %s a check\n",
		calls, trips.trips, float64(trips.trips)/float64(calls), trips.commands, strings.Join(parts, " "), float64(server)/float64(calls), per.Round(time.Microsecond))
	return nil
}
