package aritest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/ari/aritest"
)

type fake struct {
	t   *testing.T
	srv *aritest.Server
}

func newFake(t *testing.T, cfg aritest.Config) *fake {
	t.Helper()
	cfg.Username, cfg.Password = "u", "p"
	srv := aritest.NewServer(cfg)
	t.Cleanup(srv.Close)
	return &fake{t, srv}
}

// do sends a REST call and returns its status and body.
func (f *fake) do(method, path, contentType, body string) (int, string) {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+"/ari"+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	req.SetBasicAuth("u", "p")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := testClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// types returns the event types of the transcript, in order.
func (f *fake) types() []string {
	var out []string
	for _, e := range f.srv.Transcript() {
		if e.Kind != "event" {
			continue
		}
		var h struct {
			Type     string `json:"type"`
			Variable string `json:"variable"`
		}
		json.Unmarshal(e.Data, &h)
		out = append(out, h.Type+h.Variable)
	}
	return out
}

func index(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

func TestSetVariableWaitsForPlayback(t *testing.T) {
	f := newFake(t, aritest.Config{SoundDuration: 200 * time.Millisecond})
	ch := f.srv.AddChannel("app", aritest.CallSpec{})
	if st, body := f.do("POST", "/channels/"+ch.ID()+"/play/p1?media=sound:x", "", ""); st != 201 || !strings.Contains(body, `"state":"playing"`) {
		t.Fatalf("play: %d %s", st, body)
	}
	if st, body := f.do("POST", "/channels/"+ch.ID()+"/play/p2?media=sound:y", "", ""); st != 201 || !strings.Contains(body, `"state":"queued"`) {
		t.Fatalf("second play: %d %s", st, body)
	}
	// Synchronous: answered only once both playbacks have ended.
	if st, _ := f.do("POST", "/channels/"+ch.ID()+"/variable?variable=A&value=1", "", ""); st != 204 {
		t.Fatalf("set: %d", st)
	}
	types := f.types()
	last := index(types, "PlaybackFinished")
	for i, typ := range types {
		if typ == "PlaybackFinished" {
			last = i
		}
	}
	if v := index(types, "ChannelVarsetA"); v < 0 || v < last {
		t.Errorf("ChannelVarset before the playbacks ended: %v", types)
	}
	if ch.Playing() {
		t.Error("still playing after the set")
	}
}

func TestContinueWaitsForPlayback(t *testing.T) {
	f := newFake(t, aritest.Config{DigitDuration: 50 * time.Millisecond})
	ch := f.srv.AddChannel("app", aritest.CallSpec{})
	f.do("POST", "/channels/"+ch.ID()+"/play?media=digits:1234", "", "")
	if st, _ := f.do("POST", "/channels/"+ch.ID()+"/continue", "", ""); st != 204 {
		t.Fatalf("continue: %d", st)
	}
	<-ch.Done()
	types := f.types()
	if index(types, "PlaybackFinished") > index(types, "StasisEnd") {
		t.Errorf("StasisEnd before the playback ended: %v", types)
	}
	// Out of Stasis: no more control, but variables still read.
	if st, body := f.do("POST", "/channels/"+ch.ID()+"/answer", "", ""); st != 409 || !strings.Contains(body, "Channel not in Stasis application") {
		t.Errorf("answer after continue: %d %s", st, body)
	}
	if st, _ := f.do("GET", "/channels/"+ch.ID()+"/variable?variable=CALLERID(num)", "", ""); st != 200 {
		t.Errorf("get after continue: %d", st)
	}
}

func TestParameters(t *testing.T) {
	f := newFake(t, aritest.Config{})
	ch := f.srv.AddChannel("app", aritest.CallSpec{})
	id := ch.ID()
	tests := []struct {
		name, method, path, ctype, body string
		status                          int
		check                           func() bool
	}{
		{"repeated media keeps the last", "POST", "/channels/" + id + "/play/m1?media=sound:a&media=digits:9", "", "", 201,
			func() bool { p := ch.Playbacks(); return len(p[len(p)-1]) == 1 && p[len(p)-1][0] == "digits:9" }},
		{"comma-separated media", "POST", "/channels/" + id + "/play/m2?media=sound:a,digits:9", "", "", 201,
			func() bool { p := ch.Playbacks(); return len(p[len(p)-1]) == 2 }},
		{"json array media", "POST", "/channels/" + id + "/play/m3", "application/json", `{"media":["sound:a","digits:1,2"]}`, 201,
			func() bool { p := ch.Playbacks(); return len(p[len(p)-1]) == 2 && p[len(p)-1][1] == "digits:1,2" }},
		{"json ignored without its exact type", "POST", "/channels/" + id + "/play/m4", "application/json; charset=utf-8", `{"media":["sound:a"]}`, 400, nil},
		{"form body", "POST", "/channels/" + id + "/variable", "application/x-www-form-urlencoded", "variable=F&value=a%26b", 204,
			func() bool { v, _ := ch.Var("F"); return v == "a&b" }},
		{"plural keeps order", "POST", "/channels/" + id + "/variables", "application/json", `{"variables":{"P":"1","Q":{"value":"2","report_events":true}}}`, 204,
			func() bool {
				ty := f.types()
				return index(ty, "ChannelVarsetP") >= 0 && index(ty, "ChannelVarsetP") < index(ty, "ChannelVarsetQ")
			}},
		{"bad json", "POST", "/channels/" + id + "/variables", "application/json", `{"variables":`, 400, nil},
		{"no variable name", "POST", "/channels/" + id + "/variable?value=1", "", "", 400, nil},
		{"trailing slash", "GET", "/channels/", "", "", 404, nil},
		{"unknown resource", "GET", "/bridges", "", "", 404, nil},
		{"wrong method", "PUT", "/channels", "", "", 405, nil},
		{"body too large", "POST", "/channels/" + id + "/variable", "application/json", `{"variable":"` + strings.Repeat("x", 41000) + `"}`, 413, nil},
		{"no such playback", "DELETE", "/playbacks/none", "", "", 404, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, body := f.do(tt.method, tt.path, tt.ctype, tt.body)
			if st != tt.status {
				t.Fatalf("status %d, want %d (%s)", st, tt.status, body)
			}
			if tt.check != nil && !tt.check() {
				t.Errorf("state after the call is wrong: %v", ch.Playbacks())
			}
		})
	}
}

func TestAuth(t *testing.T) {
	f := newFake(t, aritest.Config{})
	for _, tt := range []struct {
		name   string
		set    func(*http.Request)
		status int
		apiKey bool
	}{
		{"none", func(*http.Request) {}, 401, false},
		{"wrong", func(r *http.Request) { r.SetBasicAuth("u", "x") }, 401, false},
		{"basic", func(r *http.Request) { r.SetBasicAuth("u", "p") }, 200, false},
		{"api_key", func(r *http.Request) { q := r.URL.Query(); q.Set("api_key", "u:p"); r.URL.RawQuery = q.Encode() }, 200, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", f.srv.URL+"/ari/channels", nil)
			tt.set(req)
			resp, err := testClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status == 401 && !strings.Contains(resp.Header.Get("WWW-Authenticate"), "Basic") {
				t.Error("401 without WWW-Authenticate")
			}
			reqs := f.srv.Requests()
			if tt.apiKey && !reqs[len(reqs)-1].APIKey {
				t.Error("api_key use not recorded")
			}
		})
	}
}

func TestEventConnections(t *testing.T) {
	f := newFake(t, aritest.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if st, body := f.do("GET", "/events", "", ""); st != 400 || !strings.Contains(body, "missing param: [app]") {
		t.Errorf("no app: %d %s", st, body)
	}
	first := dialEvents(ctx, t, f.srv, "app")
	if err := f.srv.WaitConnected(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	dialEvents(ctx, t, f.srv, "app")
	select {
	case msg := <-first:
		if !strings.Contains(string(msg), `"type":"ApplicationReplaced"`) {
			t.Errorf("first connection got %s", msg)
		}
	case <-ctx.Done():
		t.Fatal("no ApplicationReplaced")
	}
	f.srv.DropConnections()
	if err := f.srv.WaitDisconnected(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.srv.StartCall("app", aritest.CallSpec{}); err != aritest.ErrNotConnected {
		t.Errorf("StartCall without a connection: %v", err)
	}
	ch := f.srv.AddChannel("app", aritest.CallSpec{})
	ch.SendDTMF("1")
	if f.srv.DroppedEvents() != 1 {
		t.Errorf("dropped %d events, want 1", f.srv.DroppedEvents())
	}
}
