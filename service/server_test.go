package service

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callscreen/callscreen/config"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/reputation"
)

// base is a configuration that binds nothing but a free loopback port.
const base = "data_dir: {dir}/data\nagi:\n  listen: 127.0.0.1:0\nadmin:\n  listen: \"\"\nshutdown_timeout: 10s\n"

// harness is a Server over a configuration file the test may rewrite.
type harness struct {
	srv  *Server
	path string
	dir  string
	logs *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newHarness builds a server on yaml ({dir}: a temporary directory) with
// extra components after the configured ones. It does not start it.
func newHarness(t *testing.T, yaml string, extra ...Component) *harness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{dir: dir, path: filepath.Join(dir, "callscreen.yaml"), logs: &syncBuffer{}}
	h.write(t, yaml)
	load := func() (*config.Config, error) { return config.Load(h.path) }
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	set, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := set.Validate(); err != nil {
		t.Fatal(err)
	}
	set.components = append(set.components, extra...)
	h.srv = New(set, Options{Logger: slog.New(slog.NewJSONHandler(h.logs, nil)), Load: load})
	return h
}

func (h *harness) write(t *testing.T, yaml string) {
	t.Helper()
	if err := os.WriteFile(h.path, []byte(strings.ReplaceAll(yaml, "{dir}", h.dir)), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) start(t *testing.T) {
	t.Helper()
	if err := h.srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.srv.Close)
}

func explain(t *testing.T, s *Server, caller string) *decision.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := s.Flow().Explain(ctx, decision.CallInfo{CallerNumber: caller, Transport: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// providerReport returns one provider's report in a result.
func providerReport(res *decision.Result, name string) (reputation.Report, bool) {
	for _, r := range res.Verdict.Sources {
		if r.Source != "providers" {
			continue
		}
		for _, p := range r.Verdict.Sources {
			if p.Source == name {
				return p, true
			}
		}
	}
	return reputation.Report{}, false
}

// metric returns the value of an unlabelled gauge or counter of s.
func metric(t *testing.T, s *Server, name string) float64 {
	t.Helper()
	mfs, err := s.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestReloadKeepsRetryAfter: a provider that answered 429 with Retry-After
// is not asked again after a reload inside its hold, though the reload
// built every provider anew.
func TestReloadKeepsRetryAfter(t *testing.T) {
	var requests atomic.Int64
	prov := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Retry-After", "600")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer prov.Close()
	yaml := base + "providers:\n  http:\n    url: " + prov.URL + "\n"
	h := newHarness(t, yaml)
	h.start(t)

	first := explain(t, h.srv, "+12125550101")
	if requests.Load() != 1 {
		t.Fatalf("%d requests before the reload; want 1", requests.Load())
	}
	if r, ok := providerReport(first, "http"); !ok || !errors.Is(r.Err, reputation.ClassStatus429) {
		t.Fatalf("before the reload the provider said %+v", first.Verdict.Sources)
	}

	h.write(t, yaml+"mode: monitor\n")
	before := h.srv.Flow()
	if err := h.srv.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h.srv.Flow() == before || h.srv.Flow().ConfigVersion == before.ConfigVersion {
		t.Fatal("the reload did not swap the flow")
	}
	second := explain(t, h.srv, "+12125550102")
	if requests.Load() != 1 {
		t.Fatalf("%d requests: the provider was asked again inside its Retry-After hold after a reload", requests.Load())
	}
	if r, ok := providerReport(second, "http"); !ok || !errors.Is(r.Err, reputation.ClassRateLimited) {
		t.Fatalf("after the reload the provider said %+v; want rate_limited", second.Verdict.Sources)
	}
	if second.Decision.Mode != "monitor" {
		t.Fatalf("after the reload the mode is %q", second.Decision.Mode)
	}
}

// TestReloadRefused: a configuration that does not load, build or
// validate leaves the set in force untouched, and says so.
func TestReloadRefused(t *testing.T) {
	tests := []struct {
		name, yaml, err string
		setup           func(t *testing.T, dir string)
	}{
		{name: "does not load", yaml: base + "mode: sometimes\n", err: `mode "sometimes": want enforce or monitor`},
		{name: "does not build", yaml: base + "providers:\n  callerapi:\n    key: k\nreputation:\n  provider_timeout: 100ms\n", err: "must not be shorter than reputation.budget"},
		{
			name: "does not validate", yaml: base + "lists:\n  block_file: {dir}/block.txt\n", err: "lists.block_file",
			setup: func(t *testing.T, dir string) {
				// It exists when the configuration loads, and is a
				// directory, which serve cannot read.
				mkdir(t, filepath.Join(dir, "block.txt"))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, base)
			h.start(t)
			if tt.setup != nil {
				tt.setup(t, h.dir)
			}
			before := h.srv.Flow()
			h.write(t, tt.yaml)
			err := h.srv.Reload(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Reload: %v; want %q", err, tt.err)
			}
			if h.srv.Flow() != before {
				t.Fatal("a refused reload swapped the flow")
			}
			if got := metric(t, h.srv, "callscreen_config_last_reload_successful"); got != 0 {
				t.Fatalf("callscreen_config_last_reload_successful = %v after a refused reload", got)
			}
			if !strings.Contains(h.logs.String(), "config reload failed; keeping the previous configuration") {
				t.Fatalf("the log does not say so:\n%s", h.logs.String())
			}
		})
	}
}

// event records what fake components did, in order.
type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	e.log = append(e.log, s)
	e.mu.Unlock()
}

func (e *events) all() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.log)
}

// fake is a component that records its start and stop; stop runs in Stop.
type fake struct {
	name     string
	ev       *events
	startErr error
	stop     func(ctx context.Context) error
	host     *Host
}

func (f *fake) Name() string { return f.name }
func (f *fake) Start(_ context.Context, h *Host) error {
	f.ev.add("start " + f.name)
	f.host = h
	return f.startErr
}
func (f *fake) Stop(ctx context.Context) error {
	f.ev.add("stop " + f.name)
	if f.stop != nil {
		return f.stop(ctx)
	}
	return nil
}

type fakeTaker struct{ *fake }

func (fakeTaker) TakesCalls() {}

// TestStopOrder: the components start in order; at Close the ones that
// take calls stop together (each waits here for the other to be asked),
// then the others in reverse order.
func TestStopOrder(t *testing.T) {
	ev := &events{}
	var asked sync.WaitGroup
	asked.Add(2)
	together := func(ctx context.Context) error {
		asked.Done()
		done := make(chan struct{})
		go func() { asked.Wait(); close(done) }()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return errors.New("the other transport was not asked to stop meanwhile")
		}
	}
	w1, w2 := &fake{name: "watcher", ev: ev}, &fake{name: "scheduler", ev: ev}
	t1 := fakeTaker{&fake{name: "transport1", ev: ev, stop: together}}
	t2 := fakeTaker{&fake{name: "transport2", ev: ev, stop: together}}
	h := newHarness(t, base, w1, t1, w2, t2)
	if err := h.srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.srv.Close()
	got := ev.all()
	starts := []string{"start watcher", "start transport1", "start scheduler", "start transport2"}
	if !slices.Equal(got[:4], starts) {
		t.Fatalf("started %v; want %v", got[:4], starts)
	}
	stops := got[4:]
	if len(stops) != 4 || !slices.Contains(stops[:2], "stop transport1") || !slices.Contains(stops[:2], "stop transport2") ||
		!slices.Equal(stops[2:], []string{"stop scheduler", "stop watcher"}) {
		t.Fatalf("stopped %v; want both transports, then scheduler, then watcher", stops)
	}
	if strings.Contains(h.logs.String(), "was not asked") {
		t.Fatalf("the transports did not drain together:\n%s", h.logs.String())
	}
}

// TestStartFails: a component that cannot start stops the start; what
// started is stopped, and the data directory is free again.
func TestStartFails(t *testing.T) {
	ev := &events{}
	broken := errors.New("port taken")
	h := newHarness(t, base, &fake{name: "first", ev: ev}, &fake{name: "broken", ev: ev, startErr: broken}, &fake{name: "never", ev: ev})
	if err := h.srv.Start(context.Background()); !errors.Is(err, broken) {
		t.Fatalf("Start: %v; want %v", err, broken)
	}
	if got, want := ev.all(), []string{"start first", "start broken", "stop first"}; !slices.Equal(got, want) {
		t.Fatalf("events %v; want %v", got, want)
	}
	lock, err := LockDataDir(filepath.Join(h.dir, "data"))
	if err != nil {
		t.Fatalf("the data directory is still held after a failed start: %v", err)
	}
	_ = lock.Unlock()
}

// TestSecondServerRefused: a second server on the same data directory is
// refused at once, before it opens anything, naming the directory and
// the holder.
func TestSecondServerRefused(t *testing.T) {
	first := newHarness(t, base)
	first.start(t)
	second := newHarness(t, strings.ReplaceAll(base, "{dir}/data", first.dir+"/data"))
	err := second.srv.Start(context.Background())
	var inUse *InUseError
	if !errors.As(err, &inUse) || !errors.Is(err, ErrDataDirInUse) || inUse.PID != os.Getpid() || inUse.Dir != first.dir+"/data" {
		t.Fatalf("second Start: %v; want the data dir in use by pid %d", err, os.Getpid())
	}
	if !strings.Contains(err.Error(), first.dir+"/data") || !strings.Contains(err.Error(), "pid ") {
		t.Fatalf("the error does not name the directory and the pid: %v", err)
	}
	// The first still serves.
	if res := explain(t, first.srv, "+12125550103"); res.Result != "allow" {
		t.Fatalf("the first server after the refusal: %+v", res)
	}
}

// TestRunStopsOnFailure: a component whose work ends by itself stops the
// server with its error, after a drain.
func TestRunStopsOnFailure(t *testing.T) {
	ev := &events{}
	f := &fake{name: "listener", ev: ev}
	h := newHarness(t, base, f)
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { done <- h.srv.Run(ctx, nil) }()
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Contains(ev.all(), "start listener") {
		if time.Now().After(deadline) {
			t.Fatal("never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for !strings.Contains(h.logs.String(), "callscreen serving") {
		if time.Now().After(deadline) {
			t.Fatal("never served")
		}
		time.Sleep(5 * time.Millisecond)
	}
	broken := errors.New("accept: too many open files")
	f.host.Fail(broken)
	select {
	case err := <-done:
		if !errors.Is(err, broken) {
			t.Fatalf("Run: %v; want %v", err, broken)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not stop on a component failure")
	}
	if got := ev.all(); got[len(got)-1] != "stop listener" || !strings.Contains(h.logs.String(), "callscreen stopped") {
		t.Fatalf("not drained: %v\n%s", got, h.logs.String())
	}
}

// TestRunCancelledBeforeStart: a SIGTERM that arrives during start-up
// (ctx already done) ends Run at once, having opened nothing.
func TestRunCancelledBeforeStart(t *testing.T) {
	ev := &events{}
	h := newHarness(t, base, &fake{name: "listener", ev: ev})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.srv.Run(ctx, nil); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(ev.all()) != 0 {
		t.Fatalf("components touched: %v", ev.all())
	}
	if _, err := os.Stat(filepath.Join(h.dir, "data")); err == nil {
		t.Fatal("the data directory was created")
	}
}

// TestReadyDetails: what components say reaches /readyz: a note, or a
// reason not to be ready.
func TestReadyDetails(t *testing.T) {
	open := newHarness(t, strings.Replace(base, "127.0.0.1:0", "0.0.0.0:4573", 1))
	got := open.srv.details(context.Background())
	if len(got) != 1 || !strings.HasPrefix(got[0], "agi: listening on 0.0.0.0:4573, not a loopback address, with agi.allow empty") {
		t.Fatalf("details %q", got)
	}
	if err := open.srv.ready(context.Background()); err != nil {
		t.Fatalf("a note made the server not ready: %v", err)
	}
	guarded := newHarness(t, strings.Replace(base, "127.0.0.1:0", "0.0.0.0:4573\n  allow: [10.0.0.5]", 1))
	if got := guarded.srv.details(context.Background()); len(got) != 0 {
		t.Fatalf("details with agi.allow set: %q", got)
	}
	sick := newHarness(t, base, notReady{&fake{name: "prompts", ev: &events{}}})
	if err := sick.srv.ready(context.Background()); err == nil || err.Error() != "prompts: callscreen/intro missing" {
		t.Fatalf("ready = %v", err)
	}
}

type notReady struct{ *fake }

func (notReady) Details(context.Context) []Detail {
	return []Detail{{NotReady: true, Text: "callscreen/intro missing"}}
}

// TestRunCancelledDuringStart: a SIGTERM while the server is starting
// (here: while its first component starts) ends Run cleanly, without
// serving: what started is stopped and the data directory freed.
func TestRunCancelledDuringStart(t *testing.T) {
	ev := &events{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := newHarness(t, base, startHook{&fake{name: "first", ev: ev}, cancel}, &fake{name: "second", ev: ev})
	if err := h.srv.Run(ctx, nil); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got, want := ev.all(), []string{"start first", "stop first"}; !slices.Equal(got, want) {
		t.Fatalf("events %v; want %v", got, want)
	}
	if logs := h.logs.String(); strings.Contains(logs, "callscreen serving") || !strings.Contains(logs, "callscreen serve: stopped before serving") {
		t.Fatalf("log:\n%s", logs)
	}
	lock, err := LockDataDir(filepath.Join(h.dir, "data"))
	if err != nil {
		t.Fatalf("the data directory is still held: %v", err)
	}
	_ = lock.Unlock()
}

// startHook runs hook once it has started.
type startHook struct {
	*fake
	hook func()
}

func (s startHook) Start(ctx context.Context, h *Host) error {
	err := s.fake.Start(ctx, h)
	s.hook()
	return err
}
