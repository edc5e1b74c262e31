package aritest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/ari"
	"github.com/callscreen/callscreen/ari/aritest"
	"github.com/coder/websocket"
)

// entry is one line of a capture in ari/testdata.
type entry struct {
	Kind string          `json:"kind"`
	Data json.RawMessage `json:"data"`
}

type restData struct {
	Method   string              `json:"method"`
	Path     string              `json:"path"`
	Query    map[string][]string `json:"query"`
	Status   int                 `json:"status"`
	Response json.RawMessage     `json:"response"`
}

func readCapture(t *testing.T, path string) []entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func eventType(raw json.RawMessage) string {
	var h struct {
		Type string `json:"type"`
	}
	json.Unmarshal(raw, &h)
	return h.Type
}

// normalise drops what legitimately differs between two runs.
func normalise(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	delete(m, "timestamp")
	return m
}

// TestReplayCaptures drives the fake server through the captures of a real
// Asterisk 22.10.1: the same REST calls in the same order must get the same
// statuses and bodies, and the same caller actions the same events.
func TestReplayCaptures(t *testing.T) {
	for _, name := range []string{"challenge-and-continue", "anonymous-caller-hangs-up"} {
		t.Run(name, func(t *testing.T) {
			replay(t, readCapture(t, "../testdata/"+name+".jsonl"))
		})
	}
}

func replay(t *testing.T, entries []entry) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// ChannelVarset is sent before the 204 of the set-variable call that
	// caused it; replaying, the call comes first.
	for i := 0; i+1 < len(entries); i++ {
		if entries[i].Kind == "event" && eventType(entries[i].Data) == "ChannelVarset" && entries[i+1].Kind == "rest" {
			entries[i], entries[i+1] = entries[i+1], entries[i]
			i++
		}
	}
	var start ari.StasisStart
	if err := json.Unmarshal(entries[0].Data, &start); err != nil || start.Type != "StasisStart" {
		t.Fatalf("first entry is not a StasisStart: %v", err)
	}
	pres := ""
	for _, e := range entries {
		var r restData
		if e.Kind == "rest" && json.Unmarshal(e.Data, &r) == nil && r.Query["variable"] != nil && r.Query["variable"][0] == "CALLERID(num-pres)" {
			json.Unmarshal(r.Response, &struct {
				Value *string `json:"value"`
			}{&pres})
		}
	}

	srv := aritest.NewServer(aritest.Config{
		Username: "u", Password: "p", AsteriskID: start.AsteriskID,
		DigitDuration: 300 * time.Millisecond,
	})
	defer srv.Close()
	events := dialEvents(ctx, t, srv, start.Application)
	if err := srv.WaitConnected(ctx, start.Application); err != nil {
		t.Fatal(err)
	}

	c := start.Channel
	ch, err := srv.StartCall(start.Application, aritest.CallSpec{
		ID: c.ID, Name: c.Name, CallerNumber: c.Caller.Number, CallerName: c.Caller.Name,
		Context: c.Dialplan.Context, Exten: c.Dialplan.Exten, Priority: c.Dialplan.Priority,
		Args: start.Args, State: c.State, Language: c.Language, Presentation: pres,
		CreationTime: c.CreationTime.Time,
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		switch e.Kind {
		case "event":
			switch typ := eventType(e.Data); typ {
			case "ChannelDtmfReceived":
				var d ari.ChannelDtmfReceived
				json.Unmarshal(e.Data, &d)
				ch.SendDTMF(d.Digit)
			case "ChannelHangupRequest":
				ch.Hangup()
			}
			var got []byte
			select {
			case got = <-events:
			case <-ctx.Done():
				t.Fatalf("entry %d: no event, want %s", i, eventType(e.Data))
			}
			if want, have := normalise(t, e.Data), normalise(t, got); !reflect.DeepEqual(want, have) {
				t.Errorf("entry %d: event\n got %s\nwant %s", i, got, e.Data)
			}
		case "rest":
			var r restData
			if err := json.Unmarshal(e.Data, &r); err != nil {
				t.Fatal(err)
			}
			status, body := call(ctx, t, srv, r)
			if status != r.Status {
				t.Errorf("entry %d: %s %s: status %d, want %d (%s)", i, r.Method, r.Path, status, r.Status, body)
			}
			var want, have any
			json.Unmarshal(r.Response, &want)
			if len(body) == 0 {
				have = ""
			} else if err := json.Unmarshal(body, &have); err != nil {
				t.Errorf("entry %d: body %q: %v", i, body, err)
			}
			if !reflect.DeepEqual(want, have) {
				t.Errorf("entry %d: %s %s: body %s, want %s", i, r.Method, r.Path, body, r.Response)
			}
		}
	}
	select {
	case extra := <-events:
		t.Errorf("event after the capture ended: %s", extra)
	case <-time.After(100 * time.Millisecond):
	}
}

func call(ctx context.Context, t *testing.T, srv *aritest.Server, r restData) (int, []byte) {
	t.Helper()
	u := srv.URL + "/ari" + r.Path
	if len(r.Query) > 0 {
		// Repeated parameters keep their order (media=sound:beep&media=digits:123).
		var parts []string
		for k, vs := range r.Query {
			for _, v := range vs {
				parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v))
			}
		}
		u += "?" + strings.Join(parts, "&")
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("u", "p")
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, bytes.TrimSpace(body)
}

// dialEvents opens the event WebSocket and returns its messages.
func dialEvents(ctx context.Context, t *testing.T, srv *aritest.Server, app string) <-chan []byte {
	t.Helper()
	h := http.Header{}
	req := http.Request{Header: h}
	req.SetBasicAuth("u", "p")
	ws, _, err := websocket.Dial(ctx, srv.URL+"/ari/events?app="+url.QueryEscape(app), &websocket.DialOptions{
		HTTPHeader: h, Subprotocols: []string{"ari"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	if ws.Subprotocol() != "ari" {
		t.Errorf("subprotocol %q, want ari", ws.Subprotocol())
	}
	out := make(chan []byte, 100)
	go func() {
		defer close(out)
		for {
			_, data, err := ws.Read(context.Background())
			if err != nil {
				return
			}
			out <- data
		}
	}()
	return out
}
