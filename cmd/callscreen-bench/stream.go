package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callscreen/callscreen/admin"
	"github.com/callscreen/callscreen/agi"
	"github.com/callscreen/callscreen/agi/agitest"
	"github.com/callscreen/callscreen/bridge"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/lists"
	"github.com/callscreen/callscreen/screen"
)

func init() {
	register(bench{
		name:    "stream",
		summary: "FastAGI call p50/p99 at a fixed rate, idle vs with many would-be live-stream (/api/v1/stream) clients",
		run:     runStreamBench,
	})
}

// runStreamBench places calls at -rate for -duration through FastAGI into
// a flow whose decisions feed the admin server's live stream, first with no
// stream client, then with -clients clients that each keep trying to hold
// /api/v1/stream open (a refused one retries after -retry, as a
// reconnecting dashboard would), and prints call latency for both.
func runStreamBench(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("stream", flag.ContinueOnError)
	rate := fs.Int("rate", 100, "calls per second")
	dur := fs.Duration("duration", 10*time.Second, "how long each phase places calls (at most 2m)")
	clients := fs.Int("clients", 2000, "would-be stream subscribers in the loaded phase (at most 5000)")
	maxSubs := fs.Int("max", admin.DefaultStreamMaxSubscribers, "admin.stream_max_subscribers")
	retry := fs.Duration("retry", 10*time.Second, "how long a refused stream client waits before trying again, on average (the API's Retry-After says 10s)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rate < 1 || *rate > 1000 || *dur <= 0 || *dur > 2*time.Minute || *clients < 0 || *clients > 5000 || *maxSubs < 1 || *retry <= 0 {
		return errors.New("-rate 1 to 1000, -duration up to 2m, -clients 0 to 5000, -max and -retry positive")
	}
	quiet := slog.New(slog.DiscardHandler)

	l, err := lists.New(lists.Options{Logger: quiet})
	if err != nil {
		return err
	}
	recent := admin.NewRecent(admin.RecentOptions{})
	flow := &screen.Flow{
		Source:   reputation.Chain{{Name: lists.SourceName, Source: l}},
		Profiles: screen.ProfileMap{"default": policy.Default()},
		Recorder: decision.Recorders{recent},
		Logger:   quiet,
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	agiL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	agiSrv := &agi.Server{Handler: bridge.AGIHandler(func() *screen.Flow { return flow }), Logger: quiet, MaxSessions: 10000}
	go func() { _ = agiSrv.Serve(sctx, agiL) }()
	defer func() { _ = agiSrv.Shutdown(context.Background()) }()

	adm, err := admin.New(admin.Options{Listen: "127.0.0.1:0", Stream: recent, Decisions: recent, Logger: quiet, StreamMaxSubscribers: *maxSubs})
	if err != nil {
		return err
	}
	admL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: adm.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(admL) }()
	defer hs.Close()
	streamURL := "http://" + admL.Addr().String() + "/api/v1/stream"

	fmt.Fprintf(out, "calls at %d/s for %v per phase through FastAGI, decisions on the live stream; GOMAXPROCS=%d\n", *rate, *dur, runtime.GOMAXPROCS(0))
	fmt.Fprintf(out, "admin.stream_max_subscribers=%d, loaded phase: %d stream clients retrying every %v when refused\n\n", *maxSubs, *clients, *retry)

	idle, err := placeCalls(sctx, agiL.Addr().String(), *rate, *dur)
	if err != nil {
		return err
	}
	report(out, "idle", idle)

	// The loaded phase: stream clients first, then the same calls.
	var opened, refused, events, failed atomic.Int64
	cctx, cancelClients := context.WithCancel(sctx)
	var wg sync.WaitGroup
	// Each client keeps its connection between tries, as a browser does.
	tr := &http.Transport{MaxIdleConnsPerHost: *clients + 1}
	hc := &http.Client{Transport: tr, Timeout: *dur*2 + time.Minute}
	for i := range *clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Spread the first tries over a second.
			select {
			case <-cctx.Done():
				return
			case <-time.After(time.Duration(i%1000) * time.Millisecond):
			}
			for cctx.Err() == nil {
				req, _ := http.NewRequestWithContext(cctx, http.MethodGet, streamURL, nil)
				res, err := hc.Do(req)
				switch {
				case err != nil:
					if cctx.Err() == nil {
						failed.Add(1)
					}
				case res.StatusCode == http.StatusOK:
					opened.Add(1)
					sc := bufio.NewScanner(res.Body)
					for sc.Scan() {
						if len(sc.Bytes()) > 6 && string(sc.Bytes()[:6]) == "event:" {
							events.Add(1)
						}
					}
					res.Body.Close()
					continue // dropped or ended: reconnect at once
				default:
					if res.StatusCode == http.StatusTooManyRequests {
						refused.Add(1)
					} else {
						failed.Add(1)
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
				// Half to one and a half times -retry, so the clients
				// do not come back all at once.
				select {
				case <-cctx.Done():
				case <-time.After(*retry/2 + rand.N(*retry)):
				}
			}
		}()
	}
	// Let the first wave of clients arrive before calls start.
	select {
	case <-sctx.Done():
	case <-time.After(2 * time.Second):
	}
	loaded, err := placeCalls(sctx, agiL.Addr().String(), *rate, *dur)
	cancelClients()
	wg.Wait()
	tr.CloseIdleConnections()
	if err != nil {
		return err
	}
	report(out, "with clients", loaded)
	fmt.Fprintf(out, "\nstream clients: %d streams opened, %d refused (429), %d other failures, %d events received\n",
		opened.Load(), refused.Load(), failed.Load(), events.Load())
	ip := percentiles(idle.lat, 99)[0]
	lp := percentiles(loaded.lat, 99)[0]
	if ip > 0 {
		fmt.Fprintf(out, "call p99 with clients / idle: %.2fx (goal: within 2x)\n", float64(lp)/float64(ip))
	}
	return nil
}

type callRun struct {
	lat    []time.Duration
	failed int
}

// placeCalls places one allowed call every 1/rate for d, each on its own
// connection, and waits for all of them.
func placeCalls(ctx context.Context, addr string, rate int, d time.Duration) (callRun, error) {
	n := int(d.Seconds() * float64(rate))
	lat := make([]time.Duration, n)
	ok := make([]bool, n)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	for i := range n {
		select {
		case <-ctx.Done():
			wg.Wait()
			return callRun{}, ctx.Err()
		case <-tick.C:
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			start := time.Now()
			t, err := agitest.Dial(cctx, addr, agitest.Call{CallerID: fmt.Sprintf("+1212555%04d", i%10000), DNID: "+15551230000"})
			lat[i] = time.Since(start)
			ok[i] = err == nil && t.Vars[decision.VarResult] == "allow"
		}()
	}
	wg.Wait()
	var r callRun
	for i := range n {
		if ok[i] {
			r.lat = append(r.lat, lat[i])
		} else {
			r.failed++
		}
	}
	return r, nil
}

func report(out io.Writer, name string, r callRun) {
	p := percentiles(r.lat, 50, 99, 100)
	fmt.Fprintf(out, "%-13s %5d calls, %d failed: p50 %8v  p99 %8v  max %8v\n", name, len(r.lat), r.failed,
		p[0].Round(10*time.Microsecond), p[1].Round(10*time.Microsecond), p[2].Round(10*time.Microsecond))
}
