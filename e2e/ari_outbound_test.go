package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callscreen/callscreen/ari/aritest"
	"github.com/callscreen/callscreen/internal/redistest"
)

const outboundPass = "s3cret-0utb0und"

// outboundConfig is the ari.outbound section of the tests.
const outboundConfig = `
ari:
  outbound:
    listen: 127.0.0.1:0
    path: /ari
    users:
      - username: pbx1
        password: ` + outboundPass + `
        tenant: acme
`

// outboundAddr is where serve accepts Asterisk's websockets.
func outboundAddr(t *testing.T, p *process) string {
	t.Helper()
	r := p.logs.waitFor(t, "ari outbound listening", 10*time.Second)
	addr, _ := r["addr"].(string)
	if addr == "" {
		t.Fatalf("no address in %v", r)
	}
	return addr
}

// fakePBX is a fake Asterisk with a persistent and a per-call outbound
// websocket towards uri.
func fakePBX(t *testing.T, uri string, mod func(*aritest.OutboundConfig)) *aritest.Server {
	t.Helper()
	fake := aritest.NewServer(aritest.Config{NoLog: true})
	t.Cleanup(fake.Close)
	for _, perCall := range []bool{false, true} {
		cfg := aritest.OutboundConfig{
			App: "callscreen", URI: uri, Username: "pbx1", Password: outboundPass, PerCall: perCall,
			ReconnectInterval: 100 * time.Millisecond, StartDelay: 20 * time.Millisecond, CloseDelay: 300 * time.Millisecond,
		}
		if perCall {
			cfg.App = "callscreen-pc"
		}
		if mod != nil {
			mod(&cfg)
		}
		ob, err := fake.Outbound(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !perCall {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			err := ob.WaitConnected(ctx)
			cancel()
			if err != nil {
				t.Fatalf("the persistent websocket never connected: %v", err)
			}
		}
	}
	return fake
}

func waitChannel(t *testing.T, ch *aritest.Channel, limit time.Duration) {
	t.Helper()
	select {
	case <-ch.Done():
	case <-time.After(limit):
		t.Fatalf("channel %s still in Stasis after %s", ch.ID(), limit)
	}
}

// TestARIOutboundThroughServe: Asterisk connects to serve (persistent and
// per-call websockets) and its calls are screened by the same flow and
// lists as FastAGI's; a wrong password is refused and counted, and never
// logged.
func TestARIOutboundThroughServe(t *testing.T) {
	p := startServe(t, baseConfig+outboundConfig, baseFiles)
	addr := outboundAddr(t, p)
	fake := fakePBX(t, "ws://"+addr+"/ari?tenant=acme", nil)
	tests := ariCalls
	ids := map[string]bool{}
	for _, app := range []string{"callscreen", "callscreen-pc"} {
		for _, tt := range tests {
			t.Run(app+"/"+tt.name, func(t *testing.T) {
				ch, err := fake.StartCall(app, tt.spec)
				if err != nil {
					t.Fatal(err)
				}
				waitChannel(t, ch, 20*time.Second)
				for k, want := range tt.want {
					if got, _ := ch.Var(k); got != want {
						t.Errorf("%s = %q; want %q (all: %v)", k, got, want, ch.Vars())
					}
				}
				if ch.Continued() != 1 || ch.StasisStatus() != "SUCCESS" {
					t.Errorf("continued %d times, STASISSTATUS %q", ch.Continued(), ch.StasisStatus())
				}
				ids[ch.ID()] = true
			})
		}
	}
	// Every call is in the decision log, as an ARI call of tenant acme.
	recs := waitRecords(t, p, len(ids))
	for id := range ids {
		r, ok := recs[id]
		if !ok {
			t.Errorf("call %s not in the decision log", id)
			continue
		}
		if r.Transport != "ari" || r.Tenant != "acme" {
			t.Errorf("call %s recorded as transport %q tenant %q", id, r.Transport, r.Tenant)
		}
	}

	t.Run("wrong password", func(t *testing.T) {
		bad, err := fake.Outbound(aritest.OutboundConfig{
			App: "intruder-pc", URI: "ws://" + addr + "/ari", Username: "pbx1", Password: "wr0ng-passw0rd", PerCall: true,
			ReconnectInterval: 10 * time.Millisecond, ReconnectAttempts: 2,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer bad.Close()
		if _, err := fake.StartCall("intruder-pc", aritest.CallSpec{CallerNumber: "+12125551234"}); !errors.Is(err, aritest.ErrNotConnected) {
			t.Fatalf("StartCall with a wrong password: %v, want ErrNotConnected (STASISSTATUS=FAILED)", err)
		}
		if got := p.metric(t, `callscreen_ari_outbound_handshakes_total{result="unauthorized"}`); got != "2" {
			t.Errorf("unauthorized handshakes counted %q, want 2", got)
		}
		for _, l := range p.logs.all() {
			if strings.Contains(l, "wr0ng-passw0rd") || strings.Contains(l, outboundPass) {
				t.Errorf("a password in the log: %s", l)
			}
		}
	})
	if errs := p.logs.errors(); len(errs) > 0 {
		t.Fatalf("errors logged: %v", errs)
	}
}

// auditRecord is what the tests read of a decision log line.
type auditRecord struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	UniqueID  string `json:"unique_id"`
	Transport string `json:"transport"`
	Tenant    string `json:"tenant"`
	Result    string `json:"result"`
}

// decisionRecords reads an instance's decision log: unique id (the
// channel) -> records.
func decisionRecords(t *testing.T, p *process) map[string][]auditRecord {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(p.dir, "data", "audit", "*.jsonl"))
	out := map[string][]auditRecord{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var r auditRecord
			if json.Unmarshal(sc.Bytes(), &r) == nil && r.Type == "record" {
				out[r.UniqueID] = append(out[r.UniqueID], r)
			}
		}
		fh.Close()
	}
	return out
}

// waitRecords waits until p's decision log holds at least n calls.
func waitRecords(t *testing.T, p *process, n int) map[string]auditRecord {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs := decisionRecords(t, p)
		if len(recs) >= n || time.Now().After(deadline) {
			out := map[string]auditRecord{}
			for id, rs := range recs {
				out[id] = rs[0]
			}
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rrProxy spreads TCP connections over its targets in turn, skipping a
// target that refuses: a plain TCP load balancer.
type rrProxy struct {
	l       net.Listener
	targets []string
	next    atomic.Uint64
	mu      sync.Mutex
	conns   map[net.Conn]bool
}

func newRRProxy(t *testing.T, targets ...string) *rrProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &rrProxy{l: l, targets: targets, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() {
		l.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	return p
}

func (p *rrProxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

func (p *rrProxy) forward(c net.Conn) {
	var u net.Conn
	first := p.next.Add(1)
	for i := range uint64(len(p.targets)) {
		var err error
		u, err = net.DialTimeout("tcp", p.targets[(first+i)%uint64(len(p.targets))], time.Second)
		if err == nil {
			break
		}
	}
	if u == nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[u] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(u, c); u.Close(); done <- struct{}{} }()
	go func() { io.Copy(c, u); c.Close(); done <- struct{}{} }()
	<-done
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, u)
	p.mu.Unlock()
}

// obCall is one call of the scale-out test and how it ended.
type obCall struct {
	n       int
	caller  string
	anon    bool
	started time.Time
	ended   time.Time
	failed  bool // STASISSTATUS=FAILED: the include's fail-open branch
	id      string
	chanID  string
	result  string
	vars    map[string]string
}

// TestARIOutboundScaleOut: two callscreen instances behind one address
// (a round-robin TCP proxy), sharing lists and counters through one
// Redis. Per-call websockets spread the calls over both; every call is
// screened once. One instance is killed mid-run: its calls in flight
// fail open, and the calls after go to the other.
func TestARIOutboundScaleOut(t *testing.T) {
	r := redistest.Start(t)
	cfg := baseConfig + "redis:\n  addrs: [" + r.Addr() + "]\n" + outboundConfig
	a := startServe(t, cfg, baseFiles, callPathSeconds...)
	b := startServe(t, cfg, baseFiles, callPathSeconds...)
	proxy := newRRProxy(t, outboundAddr(t, a), outboundAddr(t, b))
	fake := aritest.NewServer(aritest.Config{NoLog: true})
	t.Cleanup(fake.Close)
	if _, err := fake.Outbound(aritest.OutboundConfig{
		App: "callscreen-pc", URI: "ws://" + proxy.l.Addr().String() + "/ari", Username: "pbx1", Password: outboundPass, PerCall: true,
		ReconnectInterval: 100 * time.Millisecond, StartDelay: 20 * time.Millisecond, CloseDelay: 300 * time.Millisecond,
	}); err != nil {
		t.Fatal(err)
	}
	place := func(spec aritest.CallSpec) *aritest.Channel {
		t.Helper()
		ch, err := fake.StartCall("callscreen-pc", spec)
		if err != nil {
			t.Fatalf("StartCall: %v", err)
		}
		waitChannel(t, ch, 30*time.Second)
		return ch
	}

	// Counters are shared: five calls from one number, spread over both
	// instances, exceed the burst limit of four.
	burst := "+13125550150"
	var last *aritest.Channel
	for range 5 {
		last = place(aritest.CallSpec{CallerNumber: burst, OnPlaybackFinished: aritest.Echo(0)})
	}
	if reasons, _ := last.Var("CALLSCREEN_REASONS"); !strings.Contains(reasons, "velocity.caller_burst") {
		t.Errorf("fifth call of %s over two instances: reasons %q; the burst counter is not shared", burst, reasons)
	}
	// Lists are shared: an entry added on one instance blocks on both.
	spam := "+13125550151"
	resp, err := testClient.Post("http://"+a.admin+"/api/v1/lists/block", "application/json", strings.NewReader(`{"value":"`+spam+`","tenant":"acme","added_by":"ops"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("adding a block entry: %d", resp.StatusCode)
	}
	deadline := time.Now().Add(15 * time.Second)
	for blocked := 0; blocked < 4; {
		ch := place(aritest.CallSpec{CallerNumber: spam})
		if res, _ := ch.Var("CALLSCREEN_RESULT"); res == "block" {
			blocked++
		} else {
			t.Logf("not blocked yet: %v", ch.Vars())
			blocked = 0
		}
		if time.Now().After(deadline) {
			t.Fatal("the block entry never applied on both instances")
		}
	}

	// 200 calls, a third of them anonymous and challenged (they type the
	// digits back after a moment, so calls are in flight), instance a
	// killed after the 70th.
	const n, killAfter = 200, 70
	calls := make([]*obCall, n)
	work := make(chan *obCall)
	var wg sync.WaitGroup
	var killedAt time.Time
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				// Each to its own DID (a flood of calls to one would be
				// challenged), and every caller types back what a
				// challenge asks.
				spec := aritest.CallSpec{CallerNumber: c.caller, Exten: fmt.Sprintf("1555124%04d", c.n), OnPlaybackFinished: aritest.Echo(0)}
				if c.anon {
					spec.Presentation = "prohib"
					spec.OnPlaybackFinished = aritest.Echo(300 * time.Millisecond)
				}
				c.started = time.Now()
				ch, err := fake.StartCall("callscreen-pc", spec)
				if errors.Is(err, aritest.ErrNotConnected) {
					c.failed, c.ended = true, time.Now()
					continue
				}
				if err != nil {
					t.Errorf("call %d: %v", c.n, err)
					continue
				}
				select {
				case <-ch.Done():
				case <-time.After(60 * time.Second):
					t.Errorf("call %d (%s) never left Stasis", c.n, ch.ID())
					continue
				}
				c.ended = time.Now()
				c.chanID, c.vars = ch.ID(), ch.Vars()
				c.id, c.result = c.vars["CALLSCREEN_ID"], c.vars["CALLSCREEN_RESULT"]
				c.failed = ch.StasisStatus() == "FAILED"
			}
		}()
	}
	for i := range n {
		calls[i] = &obCall{n: i, caller: fmt.Sprintf("+1312555%04d", 2000+i), anon: i%3 == 0}
		if i == killAfter {
			// Kill a while it has calls in flight.
			deadline := time.Now().Add(20 * time.Second)
			for inFlight(t, a) < 1 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			_ = a.cmd.Process.Kill()
			<-a.done
			killedAt = time.Now()
		}
		work <- calls[i]
	}
	close(work)
	wg.Wait()

	recsA, recsB := decisionRecords(t, a), waitDecisions(t, b, calls, killedAt)
	var screened, recovered, failed, afterKill int
	for _, c := range calls {
		inA, inB := len(recsA[c.chanID]), len(recsB[c.chanID])
		switch {
		case c.chanID != "" && inA+inB > 1:
			t.Errorf("call %d (%s) is in the decision logs %d times (a %d, b %d)", c.n, c.chanID, inA+inB, inA, inB)
		case c.failed:
			failed++
		case c.result != "allow":
			t.Errorf("call %d: result %q (%v); every caller here is allowed or fails open", c.n, c.result, c.vars)
		case c.id == "":
			recovered++ // handed back unscreened by the instance Asterisk reconnected to
		default:
			screened++
			if c.ended.Before(killedAt.Add(-time.Second)) && inA+inB != 1 {
				t.Errorf("call %d (%s) screened (id %s) but not in either decision log", c.n, c.chanID, c.id)
			}
		}
		if c.started.After(killedAt.Add(time.Second)) {
			afterKill++
			if c.failed || c.id == "" || inB != 1 {
				t.Errorf("call %d started after the kill: failed %v, id %q, in b's log %d times; want screened by b", c.n, c.failed, c.id, inB)
			}
		}
	}
	t.Logf("%d calls: %d screened, %d handed back unscreened, %d failed open (STASISSTATUS=FAILED); %d started after the kill", n, screened, recovered, failed, afterKill)
	if recovered+failed == 0 {
		t.Error("no call was in flight on the killed instance: the kill tested nothing")
	}
	if afterKill == 0 {
		t.Error("no call started after the kill")
	}
	handledA, handledB := 0, 0
	for _, c := range calls {
		if len(recsA[c.chanID]) > 0 {
			handledA++
		}
		if len(recsB[c.chanID]) > 0 {
			handledB++
		}
	}
	if handledA == 0 || handledB == 0 {
		t.Errorf("calls screened by a: %d, by b: %d; the proxy should spread them", handledA, handledB)
	}
	if errs := b.logs.errors(); len(errs) > 0 {
		t.Errorf("errors logged by the surviving instance: %v", errs)
	}
}

// inFlight is the number of ARI calls p is screening now.
func inFlight(t *testing.T, p *process) float64 {
	v, _ := strconv.ParseFloat(p.metric(t, `callscreen_ari_channels_in_flight{tenant="acme"}`), 64)
	return v
}

// waitDecisions waits until p's decision log holds every call p screened
// (those whose id is not in the other's), then returns it.
func waitDecisions(t *testing.T, p *process, calls []*obCall, killedAt time.Time) map[string][]auditRecord {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs := decisionRecords(t, p)
		missing := 0
		for _, c := range calls {
			if c.id != "" && c.started.After(killedAt.Add(time.Second)) && len(recs[c.chanID]) == 0 {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			return recs
		}
		time.Sleep(50 * time.Millisecond)
	}
}
