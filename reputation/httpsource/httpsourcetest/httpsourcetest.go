package httpsourcetest

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
)

// Server is an httptest.Server that counts the requests it receives.
type Server struct {
	*httptest.Server
	requests atomic.Int64
	// Last is the last request's headers and path, for tests that check
	// what was sent.
	last atomic.Pointer[http.Request]
	body atomic.Pointer[string]
}

// Start serves h on 127.0.0.1:0 until the test ends.
func Start(t testing.TB, h http.Handler) *Server {
	t.Helper()
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		var b strings.Builder
		buf := make([]byte, 4096)
		for b.Len() < 1<<20 {
			n, err := r.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		body := b.String()
		s.body.Store(&body)
		s.last.Store(r.Clone(r.Context()))
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		s.CloseClientConnections()
		s.Close()
	})
	return s
}

// Requests is the number of requests received so far.
func (s *Server) Requests() int { return int(s.requests.Load()) }

// Last returns the last request received (headers, method, URL), nil if
// none; LastBody its body.
func (s *Server) Last() *http.Request { return s.last.Load() }

// LastBody is the body of the last request.
func (s *Server) LastBody() string {
	if p := s.body.Load(); p != nil {
		return *p
	}
	return ""
}

// JSON answers 200 with body as application/json.
func JSON(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}
}

// Slow waits d (or until the client gives up) before h answers.
func Slow(d time.Duration, h http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(d):
			h.ServeHTTP(w, r)
		case <-r.Context().Done():
		}
	}
}

// Held holds every request until release is closed (or the client gives
// up), then h answers: a provider slower than any budget, however slow
// the machine, whose answer still arrives once the test lets it go. A nil
// release holds for ever.
func Held(release <-chan struct{}, h http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
			h.ServeHTTP(w, r)
		case <-r.Context().Done():
		}
	}
}

// Status answers code with a short text body and, when retryAfter is not
// empty, a Retry-After header.
func Status(code int, retryAfter string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(http.StatusText(code) + "\n"))
	}
}

// Huge answers 200 with a JSON body of n bytes, streamed without a
// Content-Length, so only reading tells how big it is.
func Huge(n int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		chunk := []byte(strings.Repeat("x", 32<<10))
		_, _ = w.Write([]byte(`{"pad":"`))
		for written := 8; written < n-2; written += len(chunk) {
			if r.Context().Err() != nil {
				return
			}
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		_, _ = w.Write([]byte(`"}`))
	}
}

// Trickle answers 200 and then sends body one byte every interval,
// followed by spaces, one every interval, until the client gives up: the
// body never completes, however long a lookup waits for it.
func Trickle(interval time.Duration, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		f, _ := w.(http.Flusher)
		for i := 0; ; i++ {
			b := byte(' ')
			if i < len(body) {
				b = body[i]
			}
			if _, err := w.Write([]byte{b}); err != nil {
				return
			}
			if f != nil {
				f.Flush()
			}
			select {
			case <-time.After(interval):
			case <-r.Context().Done():
				return
			}
		}
	}
}

// RefusedURL returns an http URL on loopback where nothing listens.
func RefusedURL(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// Fault is one way a provider misbehaves.
type Fault struct {
	Name string
	// Handler misbehaves; nil means the URL refuses connections.
	Handler http.Handler
	// Release, when not nil, lets Handler's held answer go (see Held): a
	// test closes it once the call has stopped waiting, or never.
	Release chan struct{}
	// Endless is true when the request never completes by itself: only
	// the client's deadline ends it (until Release is closed).
	Endless bool
}

// Faults is the standard matrix every provider is tested against, fresh
// for each call: slower than the budget answers okBody only once Release
// is closed; a body that trickles never completes; the others fail at
// once in their own way. No outcome depends on how fast the machine is.
func Faults(okBody string) []Fault {
	release := make(chan struct{})
	return []Fault{
		{Name: "slower than the budget", Handler: Held(release, JSON(okBody)), Release: release, Endless: true},
		{Name: "500", Handler: Status(http.StatusInternalServerError, "")},
		{Name: "503", Handler: Status(http.StatusServiceUnavailable, "")},
		{Name: "429 with Retry-After", Handler: Status(http.StatusTooManyRequests, "120")},
		{Name: "invalid JSON", Handler: JSON(`{"status":"success","data":{`)},
		{Name: "not JSON", Handler: JSON(`<html>Service Unavailable</html>`)},
		{Name: "10 MB body", Handler: Huge(10 << 20)},
		{Name: "body that trickles", Handler: Trickle(50*time.Millisecond, okBody), Endless: true},
		{Name: "connection refused"},
	}
}

// readmeExample is a JSON answer in a README followed by the verdict it
// gives.
var readmeExample = regexp.MustCompile("(?s)```json\n(.*?)\n```\n\ngives tier `([A-Z]+)`, reasons `([a-z._,]*)`")

// ReadmeExamples runs every example answer of the README file at path
// through a source that newSource builds against a server giving that
// answer, and checks the verdict the README promises. A README with fewer
// than two examples fails the test.
func ReadmeExamples(t *testing.T, path string, newSource func(url string) (reputation.Source, error)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	examples := readmeExample.FindAllStringSubmatch(string(b), -1)
	if len(examples) < 2 {
		t.Fatalf("%s has %d tested examples; want at least 2", path, len(examples))
	}
	for _, ex := range examples {
		body, tier, reasons := ex[1], policy.Tier(ex[2]), ex[3]
		t.Run(string(tier)+" "+reasons, func(t *testing.T) {
			srv := Start(t, JSON(body))
			src, err := newSource(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			q := reputation.Query{Caller: number.Parse("+12125551234", "US"), Profile: policy.Default()}
			v, err := src.Lookup(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]string, len(v.Reasons))
			for i, r := range v.Reasons {
				got[i] = string(r)
			}
			if v.Tier != tier || strings.Join(got, ",") != reasons {
				t.Fatalf("%s example gives tier %s reasons %s; the README says %s %s", path, v.Tier, strings.Join(got, ","), tier, reasons)
			}
		})
	}
}
