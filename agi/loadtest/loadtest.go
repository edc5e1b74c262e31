package loadtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callscreen/callscreen/agi"
	"github.com/callscreen/callscreen/agi/agitest"
)

// The three commands every measured session runs, as the screening flow
// does at its start and end: is the call already screened, then two
// routing variables.
const (
	varID     = "CALLSCREEN_ID"
	varResult = "CALLSCREEN_RESULT"
	varAction = "CALLSCREEN_ACTION"
)

// Handler is the measured handler: GET VARIABLE, then two SET VARIABLE,
// each under the per-session deadline a real handler would have.
func Handler() agi.Handler {
	return agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if _, _, err := s.GetVariable(ctx, varID); err != nil {
			return
		}
		if err := s.SetVariable(ctx, varResult, "allow"); err != nil {
			return
		}
		_ = s.SetVariable(ctx, varAction, "allow")
	})
}

// MSetHandler is the allow path's shape: the routing variables in one
// EXEC MSet (CALLSCREEN_ID handed over by the dialplan, so nothing read).
func MSetHandler() agi.Handler {
	return agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = s.SetVariables(ctx, []agi.Variable{{Name: varResult, Value: "allow"}, {Name: varAction, Value: "allow"}})
	})
}

// ServeMinimal is the baseline: a FastAGI server with no abstractions,
// plain net.Conn and bufio, no deadlines, no limits, no HANGUP handling,
// no metrics. It sends the same three commands as Handler. It returns when
// l is closed.
func ServeMinimal(l net.Listener) error {
	return serveMinimal(l, func(c net.Conn, r *bufio.Reader) {
		for _, cmd := range []string{
			"GET VARIABLE " + varID + "\n",
			"SET VARIABLE " + varResult + " \"allow\"\n",
			"SET VARIABLE " + varAction + " \"allow\"\n",
		} {
			if _, err := io.WriteString(c, cmd); err != nil {
				return
			}
			if _, err := r.ReadString('\n'); err != nil {
				return
			}
		}
	})
}

// serveMinimal accepts connections on l until it is closed, reads each
// one's environment block and runs session on it, then closes it.
func serveMinimal(l net.Listener, session func(c net.Conn, r *bufio.Reader)) error {
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go func() {
			defer c.Close()
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if line == "\n" {
					break
				}
			}
			session(c, r)
		}()
	}
}

// Result is one measurement.
type Result struct {
	Concurrency int
	Sessions    int // completed with the three commands answered
	Errors      int
	Elapsed     time.Duration
	P50, P99    time.Duration // per session: connect to close
}

// PerSecond is completed sessions per second.
func (r Result) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Sessions) / r.Elapsed.Seconds()
}

func (r Result) String() string {
	return fmt.Sprintf("c=%-3d %8.0f sessions/s  p50 %-9v p99 %-9v (%d sessions, %d errors, %v)",
		r.Concurrency, r.PerSecond(), r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond),
		r.Sessions, r.Errors, r.Elapsed.Round(time.Millisecond))
}

// Run plays simulated calls against addr from conc callers at once until n
// sessions have been started or d has passed (or ctx is done).
func Run(ctx context.Context, addr string, conc, n int, d time.Duration) Result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		started atomic.Int64
		mu      sync.Mutex
		lat     = make([]time.Duration, 0, min(n, 1<<20))
		errs    int
		wg      sync.WaitGroup
	)
	call := agitest.Call{Request: "agi://" + addr + "/screen?profile=bench", CallerID: "+12125551234", CallerIDName: "Bench"}
	begin := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && started.Add(1) <= int64(n) {
				t0 := time.Now()
				tr, err := agitest.Dial(context.WithoutCancel(ctx), addr, call)
				el := time.Since(t0)
				ok := err == nil && (len(tr.Commands) == 3 || len(tr.Commands) == 1) && tr.Vars[varResult] == "allow" && tr.Vars[varAction] == "allow"
				mu.Lock()
				if ok {
					lat = append(lat, el)
				} else {
					errs++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res := Result{Concurrency: conc, Sessions: len(lat), Errors: errs, Elapsed: time.Since(begin)}
	if len(lat) > 0 {
		slices.Sort(lat)
		res.P50 = lat[len(lat)/2]
		res.P99 = lat[min(len(lat)-1, len(lat)*99/100)]
	}
	return res
}
