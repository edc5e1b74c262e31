package webhook

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

type delivery struct {
	id, ts, sig string
	body        []byte
}

// receiver answers each attempt with the next status of codes (the last
// one after that) and records what it got.
func receiver(t *testing.T, codes ...int) (*httptest.Server, func() []delivery) {
	t.Helper()
	var mu sync.Mutex
	var got []delivery
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, delivery{r.Header.Get(HeaderDelivery), r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature), body})
		code := codes[min(len(got), len(codes))-1]
		mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []delivery {
		mu.Lock()
		defer mu.Unlock()
		return append([]delivery(nil), got...)
	}
}

func TestSend(t *testing.T) {
	now := time.Unix(1796175839, 0)
	tests := []struct {
		name     string
		codes    []int
		retries  int
		ok       bool
		attempts int
	}{
		{"first time", []int{204}, 3, true, 1},
		{"after two 503s", []int{503, 503, 200}, 3, true, 3},
		{"429 is retried", []int{429, 200}, 3, true, 2},
		{"400 is not retried", []int{400}, 3, false, 1},
		{"gives up", []int{500}, 2, false, 3},
		{"redirect not followed", []int{302}, 3, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, got := receiver(t, tt.codes...)
			s := New(Options{URL: srv.URL + "/hook?token=abc", Secret: "k3y", Retries: tt.retries, Timeout: 5 * time.Second,
				RetryWaitMin: time.Millisecond, RetryWaitMax: 2 * time.Millisecond, Now: func() time.Time { return now }})
			err := s.Send(context.Background(), map[string]string{"event": "outbound.likely_spam", "number": "+15551230001"})
			if (err == nil) != tt.ok {
				t.Fatalf("err %v, want ok=%v", err, tt.ok)
			}
			if err != nil && strings.Contains(err.Error(), "token=abc") {
				t.Errorf("the error shows the URL's query: %v", err)
			}
			ds := got()
			if len(ds) != tt.attempts {
				t.Fatalf("%d attempts, want %d", len(ds), tt.attempts)
			}
			for _, d := range ds {
				if d.id != ds[0].id || len(d.id) != 24 {
					t.Errorf("delivery ids %q and %q", d.id, ds[0].id)
				}
				if string(d.body) != `{"event":"outbound.likely_spam","number":"+15551230001"}` {
					t.Errorf("body %s", d.body)
				}
				if err := Verify([]byte("k3y"), d.sig, d.ts, d.body, now.Add(time.Minute), 5*time.Minute); err != nil {
					t.Errorf("Verify: %v", err)
				}
			}
		})
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1796175839, 0)
	body := []byte(`{"number":"+15551230001"}`)
	sig := Sign([]byte("k3y"), now.Unix(), body)
	if sig != "sha256="+strings.TrimPrefix(sig, "sha256=") || len(sig) != 7+64 {
		t.Fatalf("signature %q", sig)
	}
	tests := []struct {
		name   string
		secret string
		sig    string
		ts     string
		body   []byte
		at     time.Time
		want   error
	}{
		{"good", "k3y", sig, "1796175839", body, now, nil},
		{"other secret", "key", sig, "1796175839", body, now, ErrBadSignature},
		{"body changed", "k3y", sig, "1796175839", []byte(`{"number":"+15551230002"}`), now, ErrBadSignature},
		{"timestamp changed", "k3y", sig, "1796175840", body, now, ErrBadSignature},
		{"replayed later", "k3y", sig, "1796175839", body, now.Add(10 * time.Minute), ErrStale},
		{"no timestamp", "k3y", sig, "", body, now, ErrBadSignature},
	}
	for _, tt := range tests {
		err := Verify([]byte(tt.secret), tt.sig, tt.ts, tt.body, tt.at, 5*time.Minute)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}
