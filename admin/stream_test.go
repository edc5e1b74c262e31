package admin

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/callscreen/callscreen/internal/citest"
	"github.com/callscreen/callscreen/internal/timingtest"
	"github.com/callscreen/callscreen/policy"
)

// TestStreamCap: past admin.stream_max_subscribers open streams a new one
// is answered 429 with Retry-After; closing one lets the next in.
func TestStreamCap(t *testing.T) {
	const max = 3
	m := NewMetrics(prometheus.NewPedanticRegistry())
	recent := NewRecent(RecentOptions{Metrics: m})
	srv, err := New(Options{Listen: "127.0.0.1:0", Token: testToken, Stream: recent, Logger: quiet, Metrics: m, StreamMaxSubscribers: max})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { ts.CloseClientConnections(); ts.Close() })
	client := &http.Client{Timeout: 30 * time.Second}
	open := func(ctx context.Context) *http.Response {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/v1/stream", nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	var cancels []context.CancelFunc
	for i := range max {
		ctx, cancel := context.WithCancel(context.Background())
		cancels = append(cancels, cancel)
		res := open(ctx)
		if res.StatusCode != 200 {
			t.Fatalf("stream %d: %d", i, res.StatusCode)
		}
		// Read the opening comment: the subscription is made.
		if _, err := bufio.NewReader(res.Body).ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
	}
	defer func() {
		for _, c := range cancels {
			c()
		}
	}()
	for range 5 {
		res := open(context.Background())
		b := make([]byte, 512)
		n, _ := res.Body.Read(b)
		res.Body.Close()
		if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" || !strings.Contains(string(b[:n]), "stream_max_subscribers is 3") {
			t.Fatalf("stream past the cap: %d %q %s", res.StatusCode, res.Header.Get("Retry-After"), b[:n])
		}
	}
	if got := testutil.ToFloat64(m.streamRefused); got != 5 {
		t.Errorf("refused counter %v, want 5", got)
	}
	if got := testutil.ToFloat64(m.streamSubscribers); got != max {
		t.Errorf("subscribers gauge %v, want %d", got, max)
	}
	// One leaves; a new one gets in.
	cancels[0]()
	timingtest.WaitFor(t, "the closed stream to be released", func() bool { return srv.streams.Load() < max })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if res := open(ctx); res.StatusCode != 200 {
		t.Fatalf("stream after one closed: %d", res.StatusCode)
	} else {
		defer res.Body.Close()
	}
}

// TestStreamEncodesOnce: every subscriber receives the same event, and its
// encoding is made once and shared.
func TestStreamEncodesOnce(t *testing.T) {
	rc := NewRecent(RecentOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := rc.Subscribe(ctx), rc.Subscribe(ctx)
	rc.Record(newDecision("once-1", "+12125550100", "sales", t0, policy.Block, policy.ResultBlock, policy.OutcomeNone, policy.ListBlock))
	ea, eb := <-a, <-b
	if ea != eb {
		t.Fatal("subscribers got different events for one decision")
	}
	ma, mb := ea.SSE(), eb.SSE()
	if len(ma) == 0 || &ma[0] != &mb[0] {
		t.Fatal("the event was encoded twice")
	}
	if !strings.HasPrefix(string(ma), "event: decision\nid: once-1\ndata: {") || !strings.HasSuffix(string(ma), "}\n\n") {
		t.Fatalf("event %q", ma)
	}
}

// TestStreamDropsSlowClient: a client that stops reading is dropped once
// its queue is full, while a client that reads keeps every decision, and
// Record never waits.
func TestStreamDropsSlowClient(t *testing.T) {
	m := NewMetrics(prometheus.NewPedanticRegistry())
	rc := NewRecent(RecentOptions{SubscriberQueue: 4, Metrics: m})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slow, fast := rc.Subscribe(ctx), rc.Subscribe(ctx)
	got := make(chan int, 1)
	go func() {
		n := 0
		for range fast {
			n++
			if n == 20 {
				break
			}
		}
		got <- n // 20, or fewer if it was dropped
	}()
	for i := range 20 {
		// The fast reader keeps up: wait until it has taken what was sent
		// so far, so only the slow one falls behind.
		timingtest.WaitFor(t, "the fast reader", func() bool { return len(fast) == 0 })
		rc.Record(newDecision("d", "+12125550100", "x", t0.Add(time.Duration(i)*time.Second), policy.Allow, policy.ResultAllow, policy.OutcomeNone))
	}
	if n := <-got; n != 20 {
		t.Fatalf("fast reader got %d", n)
	}
	n := 0
	for range slow {
		n++
	}
	if n != 4 || testutil.ToFloat64(m.streamDropped) != 1 {
		t.Fatalf("slow reader got %d (queue 4), dropped counter %v", n, testutil.ToFloat64(m.streamDropped))
	}
}

// TestDashboardStreamRefused: when the live streams are all taken, the
// page says so and waits (Retry-After) instead of reconnecting every 2 s.
func TestDashboardStreamRefused(t *testing.T) {
	citest.Short(t, "starts Chromium")
	const token = "dashboard-token"
	st := newStack(t, token)
	m := NewMetrics(prometheus.NewPedanticRegistry())
	recent := NewRecent(RecentOptions{Metrics: m})
	srv, err := New(Options{Listen: "127.0.0.1:0", Token: token, Stream: recent, Decisions: recent, Lists: st.lists,
		Logger: quiet, Metrics: m, StreamMaxSubscribers: 1})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { ts.CloseClientConnections(); ts.Close() })
	// Another viewer holds the only stream.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/v1/stream", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := testClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("holding stream: %v %v", res, err)
	}
	defer res.Body.Close()

	bctx, problems := browser(t)
	var conn string
	err = chromedp.Run(bctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible("#login-form", chromedp.ByQuery),
		chromedp.SendKeys("#token", token, chromedp.ByQuery),
		chromedp.Click(`#login-form button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`//*[@id="conn"][contains(., "too many live views")]`),
		chromedp.Text("#conn", &conn, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("page: %v; page problems %v", err, problems())
	}
	if got := testutil.ToFloat64(m.streamRefused); got != 1 {
		t.Errorf("refused %v times, want 1 (no retry before Retry-After)", got)
	}
}
