package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/agi/agitest"
	"github.com/callscreen/callscreen/internal/redistest"
)

// statsView is what TestStatsSurviveRestart compares of GET /api/v1/stats
// and /api/v1/stats/dids: the figures, not the series (their points move
// with the clock).
type statsView struct {
	Rebuilding bool              `json:"rebuilding"`
	Shared     bool              `json:"shared"`
	Warning    string            `json:"warning"`
	Profiles   []json.RawMessage `json:"profiles"`
	Total      json.RawMessage   `json:"total"`
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	c := &http.Client{Timeout: 20 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, b)
	}
}

// stats reads the figures of a range once the rebuild is over.
func readStats(t *testing.T, p *process, rng string) statsView {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var v statsView
		getJSON(t, "http://"+p.admin+"/api/v1/stats?range="+rng, &v)
		if !v.Rebuilding {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatal("statistics still rebuilding after 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitCalls waits until the 24h figures count n calls.
func waitCalls(t *testing.T, p *process, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		v := readStats(t, p, "24h")
		var tot struct {
			Calls int `json:"calls"`
		}
		json.Unmarshal(v.Total, &tot)
		if tot.Calls >= n {
			return
		}
		t.Logf("%s: %d of %d calls counted so far: %s", time.Now().Format(time.RFC3339Nano), tot.Calls, n, show(v))
		if time.Now().After(deadline) {
			t.Fatalf("the statistics count %d calls after 20s; %d were screened: %s", tot.Calls, n, v.Total)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// didFigures reads the DID rows without their trends.
func didFigures(t *testing.T, p *process, rng string) []map[string]any {
	t.Helper()
	var rows []map[string]any
	getJSON(t, "http://"+p.admin+"/api/v1/stats/dids?range="+rng, &rows)
	for _, r := range rows {
		delete(r, "trend")
	}
	return rows
}

// screenMix places one call of each kind the statistics count apart.
func screenMix(t *testing.T, p *process, dids ...string) int {
	t.Helper()
	calls := []agitest.Call{
		{CallerID: "+12125551234"}, // allowed
		{CallerID: "+12125550666"}, // blocked
		{CallerID: "+12125551234", CallingPres: 35, Caller: agitest.Caller{Auto: true}}, // passed
		{CallerID: "anonymous"}, // failed
		{CallerID: "+12125551234", CallingPres: 35, Caller: agitest.Caller{HangupAfter: 3}}, // abandoned
		{CallerID: "+12125550666", Request: "agi://127.0.0.1/screen?profile=pilot"},         // held block
		{CallerID: "anonymous", Request: "agi://127.0.0.1/screen?profile=sales"},            // failed, voicemail
	}
	n := 0
	for i, c := range calls {
		c.DNID = dids[i%len(dids)]
		call(t, p, c)
		n++
	}
	return n
}

// TestStatsSurviveRestart: GET /api/v1/stats and /api/v1/stats/dids give
// the same figures before and after a restart of serve: they are rebuilt
// from the decision log.
func TestStatsSurviveRestart(t *testing.T) {
	p := startServe(t, baseConfig, baseFiles)
	n := screenMix(t, p, "+18885550100", "+18885550200")
	// A call is counted once its session is over on serve's side, which
	// may be just after the simulated Asterisk saw the connection close.
	waitCalls(t, p, n)
	before := map[string]statsView{}
	beforeDIDs := map[string][]map[string]any{}
	for _, rng := range []string{"1h", "24h", "7d", "all"} {
		before[rng] = readStats(t, p, rng)
		beforeDIDs[rng] = didFigures(t, p, rng)
	}
	var tot map[string]any
	json.Unmarshal(before["24h"].Total, &tot)
	if tot["calls"] != float64(n) || tot["blocked"] != 1.0 || tot["passed"] != 1.0 || tot["failed"] != 2.0 ||
		tot["abandoned"] != 1.0 || tot["held_block"] != 1.0 || tot["voicemail"] != 1.0 {
		t.Fatalf("figures before the restart: %s", before["24h"].Total)
	}
	if len(beforeDIDs["24h"]) != 2 {
		t.Fatalf("DIDs before the restart: %v", beforeDIDs["24h"])
	}

	p.stop(t)
	p2 := run(t, p.dir, []string{"serve", "--config", p.config}, nil)
	p2.logs.waitFor(t, "statistics rebuilt from the decision log", 30*time.Second)
	for _, rng := range []string{"1h", "24h", "7d", "all"} {
		after := readStats(t, p2, rng)
		if !reflect.DeepEqual(after, before[rng]) {
			t.Errorf("range %s: after the restart\n%s\nbefore\n%s", rng, show(after), show(before[rng]))
		}
		if got := didFigures(t, p2, rng); !reflect.DeepEqual(got, beforeDIDs[rng]) {
			t.Errorf("range %s: DIDs after the restart\n%v\nbefore\n%v", rng, got, beforeDIDs[rng])
		}
	}
	// New calls add to the rebuilt figures.
	call(t, p2, agitest.Call{CallerID: "+12125550666", DNID: "+18885550100"})
	var again map[string]any
	v := readStats(t, p2, "24h")
	json.Unmarshal(v.Total, &again)
	if again["calls"] != float64(n+1) || again["blocked"] != 2.0 {
		t.Fatalf("after one more call: %s", v.Total)
	}
	if errs := p2.logs.errors(); len(errs) > 0 {
		t.Fatalf("errors logged:\n%s", strings.Join(errs, "\n"))
	}
}

func show(v any) string {
	b, _ := json.MarshalIndent(v, "", " ")
	return string(b)
}

// TestStatsTwoInstances: two instances on one Redis, calls on both: either
// shows the same totals, and the live tail of either shows the calls of
// both.
func TestStatsTwoInstances(t *testing.T) {
	r := redistest.Start(t)
	conf := baseConfig + "redis:\n  addrs: [" + r.Addr() + "]\n"
	a := startServe(t, conf, baseFiles, callPathSeconds...)
	b := startServe(t, conf, baseFiles, callPathSeconds...)

	// Follow b's live stream before calling a.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+b.admin+"/api/v1/stream", nil)
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				events <- d
			}
		}
		close(events)
	}()
	b.logs.waitFor(t, "callscreen serving", 20*time.Second)

	na := screenMix(t, a, "+18885550100")
	nb := screenMix(t, b, "+18885550200")
	trA := call(t, a, agitest.Call{CallerID: "+13125550177", DNID: "+18885550100"})
	na++

	// b's live tail shows a's call.
	id := trA.Vars["CALLSCREEN_ID"]
	timeout := time.After(20 * time.Second)
	for found := false; !found; {
		select {
		case d, ok := <-events:
			if !ok {
				t.Fatal("b's stream ended")
			}
			found = strings.Contains(d, `"id":"`+id+`"`)
		case <-timeout:
			t.Fatalf("a's call %s never reached b's live tail", id)
		}
	}
	var recent []map[string]any
	getJSON(t, "http://"+b.admin+"/api/v1/decisions?caller=13125550177", &recent)
	if len(recent) != 1 || recent[0]["id"] != id {
		t.Fatalf("b's recent decisions: %v", recent)
	}

	// Either instance shows the calls of both (the writers flush every
	// 250ms: poll).
	want := fmt.Sprint(na + nb)
	deadline := time.Now().Add(20 * time.Second)
	for {
		va, vb := readStats(t, a, "1h"), readStats(t, b, "1h")
		var ta, tb map[string]any
		json.Unmarshal(va.Total, &ta)
		json.Unmarshal(vb.Total, &tb)
		if fmt.Sprint(ta["calls"]) == want && fmt.Sprint(tb["calls"]) == want {
			if !va.Shared || !vb.Shared || !reflect.DeepEqual(va, vb) {
				t.Fatalf("a and b differ:\n%s\n%s", show(va), show(vb))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("totals a %v, b %v; want %s on both", ta["calls"], tb["calls"], want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	da, db := didFigures(t, a, "1h"), didFigures(t, b, "1h")
	if len(da) != 2 || !reflect.DeepEqual(da, db) {
		t.Fatalf("DIDs differ:\n%v\n%v", da, db)
	}
}

// TestBlockExpires: a block entry added through the admin API with an
// expiry, as the dashboard's "Block this caller" adds it, blocks the next
// call and lets the caller through once it has expired.
func TestBlockExpires(t *testing.T) {
	p := startServe(t, baseConfig, baseFiles)
	client := &http.Client{Timeout: 20 * time.Second}
	// The entry must still hold when the first call comes: on a machine
	// too busy to make that call before the expiry, the test says so and
	// starts again, with another caller and four times the time.
	var caller string
	for i, ttl := 0, 3*time.Second; ; i, ttl = i+1, 4*ttl {
		caller = fmt.Sprintf("+1312555%04d", 188+i)
		expires := time.Now().Add(ttl)
		resp, err := client.Post("http://"+p.admin+"/api/v1/lists/block", "application/json",
			strings.NewReader(`{"value":"`+caller+`","note":"blocked from the dashboard","expires":"`+expires.UTC().Format(time.RFC3339Nano)+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("add: %d %s", resp.StatusCode, b)
		}
		tr := call(t, p, agitest.Call{CallerID: caller})
		if tr.Vars["CALLSCREEN_RESULT"] == "block" && tr.Vars["CALLSCREEN_REASONS"] == "list.block" {
			break
		}
		if time.Now().Before(expires) || ttl > time.Minute {
			t.Fatalf("before the expiry: %v", tr.Vars)
		}
		t.Logf("the first call came after the %s expiry; again with %s", ttl, 4*ttl)
	}
	// Watch the explanation (it counts no calls, so the caller does not
	// become a burst), then call once.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var d map[string]any
		getJSON(t, "http://"+p.admin+"/api/v1/check?number="+url.QueryEscape(caller), &d)
		if d["result"] == "allow" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still blocked 2m after the entry was added: %v", d)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if tr := call(t, p, agitest.Call{CallerID: caller}); tr.Vars["CALLSCREEN_RESULT"] != "allow" {
		t.Fatalf("after the expiry: %v", tr.Vars)
	}
}
