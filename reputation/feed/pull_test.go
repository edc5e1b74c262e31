package feed

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// feedServer serves what handler decides, counting requests.
func feedServer(t *testing.T, handler http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return srv
}

const goodFeed = `[{"number":"2125550001","created_date":"2026-03-01","robocall":"yes"},
{"number":"2125550002","created_date":"2026-03-01","robocall":"no"},
{"number":"12","created_date":"2026-03-01"}]`

func TestPull(t *testing.T) {
	yesterday := rowsJSON(row1("2125550009", "2026-03-01", "no"))
	tests := []struct {
		name    string
		handler http.HandlerFunc
		timeout time.Duration
		wantErr error
		numbers []string // present after the pull
	}{
		{
			name: "good file with a malformed row",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer s3cret" || r.Header.Get("X-Api-Key") != "k" {
					http.Error(w, "no", http.StatusUnauthorized)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, goodFeed)
			},
			numbers: []string{"+12125550009", "+12125550001", "+12125550002"},
		},
		{
			name:    "server error",
			handler: func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) },
			wantErr: ErrHTTP,
			numbers: []string{"+12125550009"},
		},
		{
			name: "timeout",
			handler: func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			},
			timeout: 200 * time.Millisecond,
			wantErr: context.DeadlineExceeded,
			numbers: []string{"+12125550009"},
		},
		{
			name: "slow body past the timeout",
			handler: func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, `[{"number":"2125550001","created_date":"2026-03-01"},`)
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			},
			timeout: 300 * time.Millisecond,
			wantErr: context.DeadlineExceeded,
			numbers: []string{"+12125550009"},
		},
		{
			name: "half-written body",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				// Promise the whole file, send half, hang up.
				conn, rw, err := w.(http.Hijacker).Hijack()
				if err != nil {
					return
				}
				defer conn.Close()
				fmt.Fprintf(rw, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(goodFeed), goodFeed[:len(goodFeed)/2])
				rw.Flush()
			},
			wantErr: errAny,
			numbers: []string{"+12125550009"},
		},
		{
			name: "half-written chunked body",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				conn, rw, err := w.(http.Hijacker).Hijack()
				if err != nil {
					return
				}
				defer conn.Close()
				half := goodFeed[:len(goodFeed)/2]
				fmt.Fprintf(rw, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", len(half), half)
				rw.Flush()
			},
			wantErr: errAny,
			numbers: []string{"+12125550009"},
		},
		{
			name:    "not JSON (an HTML error page with 200)",
			handler: func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "<html><body>maintenance</body></html>") },
			wantErr: ErrSyntax,
			numbers: []string{"+12125550009"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{day0}
			f := New(context.Background(), Options{Now: c.Now})
			importJSON(t, f, "", yesterday)
			srv := feedServer(t, tt.handler)
			st, err := f.Pull(context.Background(), PullOptions{
				URL:     srv.URL,
				Headers: map[string]string{"Authorization": "Bearer s3cret", "X-Api-Key": "k"},
				Timeout: tt.timeout,
			})
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("Pull: %v", err)
			case tt.wantErr == errAny && err == nil, tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Fatalf("Pull err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && (st.Accepted != 2 || st.Rejected != 1 || st.Errors[0].Line != 3) {
				t.Fatalf("stats = %+v", st)
			}
			if f.Len("") != len(tt.numbers) {
				t.Fatalf("feed holds %d numbers, want %d", f.Len(""), len(tt.numbers))
			}
			for _, n := range tt.numbers {
				if !lookup(t, f, "", n).Final {
					t.Fatalf("%s missing after the pull", n)
				}
			}
			okPulls := testutil.ToFloat64(f.metrics.Pulls.WithLabelValues("ok"))
			if (tt.wantErr == nil) != (okPulls == 1) || (tt.wantErr == nil) != (testutil.ToFloat64(f.metrics.LastPull) > 0) {
				t.Fatalf("pull metrics: ok=%v last=%v", okPulls, testutil.ToFloat64(f.metrics.LastPull))
			}
		})
	}
}

var errAny = errors.New("any error")

func TestPullTooLarge(t *testing.T) {
	f := New(context.Background(), Options{Now: (&clock{day0}).Now})
	srv := feedServer(t, func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "["+strings.Repeat(row1("2125550001", "2026-03-01", "no")+",", 1000)+row1("2125550001", "2026-03-01", "no")+"]")
	})
	if _, err := f.Pull(context.Background(), PullOptions{URL: srv.URL, MaxBytes: 10_000}); err == nil {
		t.Fatal("pull past MaxBytes: want an error")
	}
	if f.Len("") != 0 {
		t.Fatal("a body over the limit was imported")
	}
}

func TestPullFTC(t *testing.T) {
	f := New(context.Background(), Options{Now: (&clock{day0}).Now})
	srv := feedServer(t, func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, ftcHeader+"2125550001,2026-03-01 00:00:06,,,NY,212,Other,Y\n")
	})
	if _, err := f.Pull(context.Background(), PullOptions{URL: srv.URL, Format: FTC}); err != nil {
		t.Fatal(err)
	}
	if !lookup(t, f, "", "+12125550001").Final {
		t.Fatal("FTC pull not imported")
	}
}

// fakeAfter is a controllable time.After: each call records the wait and
// moves the clock forward by it at once.
type fakeAfter struct {
	mu    sync.Mutex
	c     *clock
	waits []time.Duration
	stop  int // after this many waits, block forever
}

func (a *fakeAfter) After(d time.Duration) <-chan time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.waits = append(a.waits, d)
	ch := make(chan time.Time, 1)
	if len(a.waits) > a.stop {
		return ch // never fires
	}
	a.c.t = a.c.t.Add(d)
	ch <- a.c.t
	return ch
}

func (a *fakeAfter) Waits() []time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Duration(nil), a.waits...)
}

func TestScheduler(t *testing.T) {
	c := &clock{time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	var mu sync.Mutex
	calls := 0
	srv := feedServer(t, func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n <= 2 { // the first two tries fail
			http.Error(w, "later", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, rowsJSON(row1("2125550001", "2026-03-02", "no")))
	})
	fakeNow := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return c.t
	}
	f := New(context.Background(), Options{Now: fakeNow})
	fa := &fakeAfter{c: c, stop: 4}
	s := &Scheduler{Feed: f, Pull: PullOptions{URL: srv.URL}, At: DefaultAt, Now: fakeNow, After: fa.After}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for len(fa.Waits()) < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("scheduler waits so far: %v", fa.Waits())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
	// 09:00 → 13:30 (4h30m), two failures (retry after 1m, then 2m),
	// success, then the next day at 13:30.
	want := []time.Duration{4*time.Hour + 30*time.Minute, time.Minute, 2 * time.Minute, 24*time.Hour - 3*time.Minute, 24 * time.Hour}
	if got := fa.Waits(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("waits = %v, want %v", got, want)
	}
	if !lookup(t, f, "", "+12125550001").Final {
		t.Fatal("scheduled pull not imported")
	}
	if got := testutil.ToFloat64(f.metrics.Pulls.WithLabelValues("error")); got != 2 {
		t.Fatalf("failed pulls = %v, want 2", got)
	}
}

func TestSchedulerGivesUpAtNextRun(t *testing.T) {
	c := &clock{time.Date(2026, 3, 2, 13, 29, 0, 0, time.UTC)}
	srv := feedServer(t, func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusBadGateway) })
	f := New(context.Background(), Options{Now: c.Now})
	fa := &fakeAfter{c: c, stop: 12}
	s := &Scheduler{Feed: f, Pull: PullOptions{URL: srv.URL}, At: DefaultAt, Now: c.Now, After: fa.After, FirstRetry: time.Hour, MaxRetry: 8 * time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for len(fa.Waits()) < 7 {
		if time.Now().After(deadline) {
			t.Fatalf("waits so far: %v", fa.Waits())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	// 1m to 13:30; retries after 1h, 2h, 4h, 8h (capped), 8h (ends
	// 12:30 the next day); the next 8h would pass the next run at 13:30:
	// give up and wait 1h for it.
	want := []time.Duration{time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 8 * time.Hour, time.Hour}
	if got := fa.Waits()[:7]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("waits = %v, want %v", got, want)
	}
}

// TestSharedPull: two instances on one Redis pull the same day; the report
// is imported once, so counts are not doubled.
func TestSharedPull(t *testing.T) {
	_, rdb := newRedis(t)
	c := &clock{day0}
	var mu sync.Mutex
	served := 0
	srv := feedServer(t, func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		served++
		mu.Unlock()
		fmt.Fprint(w, rowsJSON(row1("2125550001", "2026-03-01", "no")))
	})
	a := New(context.Background(), Options{Store: NewRedisStore(rdb, ""), Now: c.Now})
	b := New(context.Background(), Options{Store: NewRedisStore(rdb, ""), Now: c.Now})
	o := PullOptions{URL: srv.URL, Day: "2026-03-02"}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, f := range []*Feed{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.Pull(context.Background(), o)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrLocked), errors.Is(err, ErrAlreadyPulled):
		default:
			t.Fatalf("pull: %v", err)
		}
	}
	// Whoever lost retries later and finds the day done.
	for i, f := range []*Feed{a, b} {
		if errs[i] != nil {
			if _, err := f.Pull(context.Background(), o); !errors.Is(err, ErrAlreadyPulled) {
				t.Fatalf("second pull of the day: %v, want ErrAlreadyPulled", err)
			}
		}
	}
	if ok != 1 || served != 1 {
		t.Fatalf("%d pulls succeeded, server asked %d times; want 1 and 1", ok, served)
	}
	if err := b.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v := lookup(t, b, "", "+12125550001"); v.RecentReports != 1 {
		t.Fatalf("report counted %d times, want once", v.RecentReports)
	}
}
