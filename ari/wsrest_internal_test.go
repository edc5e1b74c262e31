package ari

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// linkPair is a wsLink on one end of a websocket and a scripted Asterisk
// on the other: peer gets every RESTRequest and answers with what it
// returns (nil: no answer yet; it may answer later with reply).
type linkPair struct {
	link  *wsLink
	peer  *websocket.Conn
	reqs  chan restRequest
	reply func(resp restResponse)
}

func newLinkPair(t *testing.T) *linkPair {
	t.Helper()
	accepted := make(chan *websocket.Conn, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		accepted <- c
		<-r.Context().Done()
	}))
	t.Cleanup(ts.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	peer, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.CloseNow() })
	ours := <-accepted
	t.Cleanup(func() { ours.CloseNow() })
	p := &linkPair{link: newLink(ours), peer: peer, reqs: make(chan restRequest, 10)}
	// Our side's reader: responses to the link, as a session does.
	go func() {
		for {
			_, data, err := ours.Read(context.Background())
			if err != nil {
				p.link.fail()
				return
			}
			var r restResponse
			if json.Unmarshal(data, &r) == nil && r.Type == "RESTResponse" {
				p.link.deliver(&r)
			}
		}
	}()
	// The peer's reader: requests to the test.
	go func() {
		for {
			_, data, err := peer.Read(context.Background())
			if err != nil {
				return
			}
			var r restRequest
			json.Unmarshal(data, &r)
			p.reqs <- r
		}
	}()
	p.reply = func(resp restResponse) {
		resp.Type = "RESTResponse"
		b, _ := json.Marshal(resp)
		peer.Write(context.Background(), websocket.MessageText, b)
	}
	return p
}

func nextReq(t *testing.T, p *linkPair) restRequest {
	t.Helper()
	select {
	case r := <-p.reqs:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no request")
		return restRequest{}
	}
}

// TestLinkMatchesByRequestID: answers are matched by request_id, not by
// order; an answer nobody waits for is dropped.
func TestLinkMatchesByRequestID(t *testing.T) {
	p := newLinkPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	type result struct {
		uri  string
		body string
		err  error
	}
	results := make(chan result, 2)
	for _, uri := range []string{"channels/a/variable?variable=X", "channels/b/variable?variable=Y"} {
		go func() {
			resp, err := p.link.roundTrip(ctx, &restRequest{Type: "RESTRequest", Method: "GET", URI: uri})
			r := result{uri: uri, err: err}
			if resp != nil {
				r.body = resp.MessageBody
			}
			results <- r
		}()
	}
	a, b := nextReq(t, p), nextReq(t, p)
	if a.RequestID == b.RequestID || a.RequestID == "" {
		t.Fatalf("request ids %q and %q", a.RequestID, b.RequestID)
	}
	p.reply(restResponse{RequestID: "cs-unknown", StatusCode: 200, MessageBody: `{"value":"nobody's"}`})
	// The second request is answered first.
	for _, r := range []restRequest{b, a} {
		v := "for " + r.URI
		body, _ := json.Marshal(map[string]string{"value": v})
		p.reply(restResponse{RequestID: r.RequestID, StatusCode: 200, ContentType: "application/json", MessageBody: string(body)})
	}
	for range 2 {
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		var v struct{ Value string }
		json.Unmarshal([]byte(r.body), &v)
		if v.Value != "for "+r.uri {
			t.Errorf("request %s got %q", r.uri, v.Value)
		}
	}
}

// TestLinkEnds: a request whose connection is lost gets ErrLinkLost; one
// that times out gets ctx's error and its late answer is dropped.
func TestLinkEnds(t *testing.T) {
	p := newLinkPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := p.link.roundTrip(ctx, &restRequest{Type: "RESTRequest", Method: "POST", URI: "channels/a/answer"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("unanswered request: %v", err)
	}
	late := nextReq(t, p)
	if p.link.deliver(&restResponse{RequestID: late.RequestID}) {
		t.Error("a late answer was delivered")
	}

	done := make(chan error, 1)
	go func() {
		_, err := p.link.roundTrip(context.Background(), &restRequest{Type: "RESTRequest", Method: "POST", URI: "channels/a/continue"})
		done <- err
	}()
	nextReq(t, p)
	p.peer.CloseNow()
	if err := <-done; !errors.Is(err, ErrLinkLost) {
		t.Fatalf("request on a lost connection: %v", err)
	}
	if _, err := p.link.roundTrip(context.Background(), &restRequest{}); !errors.Is(err, ErrLinkLost) {
		t.Fatalf("request after the loss: %v", err)
	}
}

// TestFollower: a request waits for a connection; one lost with its
// connection is sent again on the next, but never a play; once given up,
// requests fail at once.
func TestFollower(t *testing.T) {
	f := newFollower()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	type out struct {
		resp *restResponse
		err  error
	}
	run := func(req *restRequest) chan out {
		c := make(chan out, 1)
		go func() {
			r, err := f.roundTrip(ctx, req)
			c <- out{r, err}
		}()
		return c
	}
	setVar := run(&restRequest{Type: "RESTRequest", Method: "POST", URI: "channels/a/variable?variable=X&value=1"})
	play := run(&restRequest{Type: "RESTRequest", Method: "POST", URI: "channels/a/play/pb-1"})

	first := newLinkPair(t)
	f.set(first.link)
	got := map[string]bool{}
	for range 2 {
		got[nextReq(t, first).URI] = true
	}
	if len(got) != 2 {
		t.Fatalf("requests on the first connection: %v", got)
	}
	first.peer.CloseNow()
	if o := <-play; !errors.Is(o.err, ErrLinkLost) {
		t.Errorf("play on a lost connection: %v, want ErrLinkLost (not sent again)", o.err)
	}
	second := newLinkPair(t)
	f.set(second.link)
	again := nextReq(t, second)
	if !strings.Contains(again.URI, "variable") {
		t.Fatalf("sent again: %s", again.URI)
	}
	second.reply(restResponse{RequestID: again.RequestID, StatusCode: 204})
	if o := <-setVar; o.err != nil || o.resp.StatusCode != 204 {
		t.Errorf("set variable after the reconnect: %+v", o)
	}

	f.set(nil)
	f.giveUp(ErrLinkLost)
	if _, err := f.roundTrip(ctx, &restRequest{}); !errors.Is(err, ErrLinkLost) {
		t.Errorf("after giving up: %v", err)
	}
}

// TestTunnelClient: the Client's calls as RESTRequests, their answers
// decoded from message_body, and the two answers that mean the channel is
// gone.
func TestTunnelClient(t *testing.T) {
	p := newLinkPair(t)
	c := &Client{timeout: 5 * time.Second, tunnel: p.link}
	ctx := context.Background()
	answers := []struct {
		status int
		reason string
		body   string
	}{
		{200, "OK", `{"value":"allowed_not_screened"}`},
		{404, "Channel Not Found", `{"message":"Provided channel was not found"}`},
		{409, "Conflict", `{"message":"Channel not in Stasis application"}`},
		{404, "Variable Not Found", `{"message":"Provided variable was not found"}`},
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, a := range answers {
			r := nextReq(t, p)
			if r.Type != "RESTRequest" || r.Method != "GET" || r.URI != "channels/1796177040.3/variable?variable=CALLERID%28num-pres%29" {
				t.Errorf("request %+v", r)
			}
			p.reply(restResponse{RequestID: r.RequestID, StatusCode: a.status, ReasonPhrase: a.reason, ContentType: "application/json", MessageBody: a.body})
		}
	}()
	v, err := c.Variable(ctx, "1796177040.3", "CALLERID(num-pres)")
	if err != nil || v != "allowed_not_screened" {
		t.Errorf("200: %q, %v", v, err)
	}
	for i, want := range []error{ErrHangup, ErrHangup, ErrNotFound} {
		_, err := c.Variable(ctx, "1796177040.3", "CALLERID(num-pres)")
		if !errors.Is(err, want) {
			t.Errorf("answer %d: %v, want %v", i+1, err, want)
		}
		if i == 2 && errors.Is(err, ErrHangup) {
			t.Errorf("an unset variable is not a gone channel: %v", err)
		}
	}
	wg.Wait()

	// A body travels as a JSON string with its content type.
	go func() {
		r := nextReq(t, p)
		if r.ContentType != "application/json" || r.URI != "channels/x/variables" {
			t.Errorf("request %+v", r)
		}
		var body struct {
			Variables map[string]string `json:"variables"`
		}
		if err := json.Unmarshal([]byte(r.MessageBody), &body); err != nil || body.Variables["CALLSCREEN_RESULT"] != "allow" {
			t.Errorf("message_body %q: %v", r.MessageBody, err)
		}
		p.reply(restResponse{RequestID: r.RequestID, StatusCode: 204})
	}()
	if err := c.SetVariables(ctx, "x", []Var{{"CALLSCREEN_RESULT", "allow"}}); err != nil {
		t.Fatal(err)
	}
}

func TestRelativeURI(t *testing.T) {
	tests := []struct {
		q    url.Values
		segs []string
		want string
	}{
		{nil, []string{"channels", "1.2", "answer"}, "channels/1.2/answer"},
		{url.Values{"variable": {"CALLERID(num)"}}, []string{"channels", "1.2", "variable"}, "channels/1.2/variable?variable=CALLERID%28num%29"},
		{nil, []string{"playbacks", "a/b c"}, "playbacks/a%2Fb%20c"},
		{url.Values{"reason": {"normal"}}, []string{"channels", "x"}, "channels/x?reason=normal"},
	}
	for _, tt := range tests {
		if got := relativeURI(tt.q, tt.segs...); got != tt.want {
			t.Errorf("relativeURI(%v, %v) = %q, want %q", tt.q, tt.segs, got, tt.want)
		}
	}
}
