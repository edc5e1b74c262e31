package httpsource

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/internal/timingtest"
	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/httpsource/httpsourcetest"
)

func TestDoClassifies(t *testing.T) {
	want := map[string]reputation.ErrorClass{
		"slower than the budget": reputation.ClassTimeout,
		"500":                    reputation.ClassStatus5xx,
		"503":                    reputation.ClassStatus5xx,
		"429 with Retry-After":   reputation.ClassStatus429,
		"invalid JSON":           reputation.ClassInvalidJSON,
		"not JSON":               reputation.ClassInvalidJSON,
		"10 MB body":             reputation.ClassTooLarge,
		"body that trickles":     reputation.ClassTimeout,
		"connection refused":     reputation.ClassConnection,
	}
	for _, f := range httpsourcetest.Faults(`{"tier":"SPAM"}`) {
		t.Run(f.Name, func(t *testing.T) {
			url := httpsourcetest.RefusedURL(t)
			if f.Handler != nil {
				url = httpsourcetest.Start(t, f.Handler).URL
			}
			// A request that never completes is ended by the context
			// alone (the client has no timeout of its own); the others
			// get a deadline they cannot reach, so their class never
			// depends on how busy the machine is.
			budget := 10 * time.Second
			if f.Endless {
				budget = 150 * time.Millisecond
			}
			ctx, cancel := context.WithTimeout(context.Background(), budget)
			defer cancel()
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			var out map[string]any
			var err error
			timingtest.Returns(t, "Do", func() { err = Do(ctx, NewClient(), "test", req, &out) })
			var pe *reputation.ProviderError
			if !errors.As(err, &pe) {
				t.Fatalf("Do = %v; want a ProviderError", err)
			}
			if pe.Class != want[f.Name] || !errors.Is(err, want[f.Name]) {
				t.Fatalf("class = %s (%v); want %s", pe.Class, err, want[f.Name])
			}
			if pe.Provider != "test" || !strings.HasPrefix(err.Error(), "test: ") {
				t.Fatalf("error %q does not name the provider", err)
			}
			if f.Name == "429 with Retry-After" && pe.RetryAfter != 120*time.Second {
				t.Fatalf("RetryAfter = %s; want 2m0s", pe.RetryAfter)
			}
		})
	}
}

func TestDoCancelled(t *testing.T) {
	srv := httpsourcetest.Start(t, httpsourcetest.Held(nil, httpsourcetest.JSON(`{}`)))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	var out any
	if err := Do(ctx, nil, "test", req, &out); !errors.Is(err, reputation.ClassCancelled) {
		t.Fatalf("Do = %v; want cancelled", err)
	}
}

func TestDoBodyCap(t *testing.T) {
	exact := `{"pad":"` + strings.Repeat("x", MaxBody-10) + `"}`
	if len(exact) != MaxBody {
		t.Fatalf("test body is %d bytes", len(exact))
	}
	srv := httpsourcetest.Start(t, httpsourcetest.JSON(exact))
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	var out map[string]string
	if err := Do(context.Background(), nil, "test", req, &out); err != nil || len(out["pad"]) != MaxBody-10 {
		t.Fatalf("a body of exactly MaxBody: %v", err)
	}
	big := httpsourcetest.Start(t, httpsourcetest.JSON(exact+" "))
	req, _ = http.NewRequest(http.MethodGet, big.URL, nil)
	if err := Do(context.Background(), nil, "test", req, &out); !errors.Is(err, reputation.ClassTooLarge) {
		t.Fatalf("a body one byte over MaxBody: %v; want too_large", err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		h    string
		want time.Duration
	}{
		{"", 0},
		{"120", 2 * time.Minute},
		{" 5 ", 5 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"soon", 0},
		{"999999999999", 24 * time.Hour},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		t.Run(tt.h, func(t *testing.T) {
			if got := RetryAfter(tt.h, now); got != tt.want {
				t.Fatalf("RetryAfter(%q) = %s; want %s", tt.h, got, tt.want)
			}
		})
	}
}

func TestFlex(t *testing.T) {
	ints := []struct {
		in   string
		want Int
		err  bool
	}{
		{`87`, Int{87, true}, false},
		{`"87"`, Int{87, true}, false},
		{`87.4`, Int{87, true}, false},
		{`" 12 "`, Int{12, true}, false},
		{`null`, Int{}, false},
		{`""`, Int{}, false},
		{`"high"`, Int{}, true},
		{`true`, Int{}, true},
		{`1e300`, Int{}, true},
	}
	for _, tt := range ints {
		t.Run("int "+tt.in, func(t *testing.T) {
			var got Int
			err := json.Unmarshal([]byte(tt.in), &got)
			if (err != nil) != tt.err || got != tt.want {
				t.Fatalf("Int(%s) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
	bools := []struct {
		in   string
		want Bool
		err  bool
	}{
		{`true`, Bool{true, true}, false},
		{`false`, Bool{false, true}, false},
		{`"true"`, Bool{true, true}, false},
		{`"no"`, Bool{false, true}, false},
		{`1`, Bool{true, true}, false},
		{`0`, Bool{false, true}, false},
		{`null`, Bool{}, false},
		{`"maybe"`, Bool{}, true},
		{`2`, Bool{}, true},
	}
	for _, tt := range bools {
		t.Run("bool "+tt.in, func(t *testing.T) {
			var got Bool
			err := json.Unmarshal([]byte(tt.in), &got)
			if (err != nil) != tt.err || got != tt.want {
				t.Fatalf("Bool(%s) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestNewChecksURL(t *testing.T) {
	tests := []struct{ url, want string }{
		{"", `providers.http.url: "": want an absolute http or https URL`},
		{"ftp://x/y", `providers.http.url: "ftp://x/y": want an absolute http or https URL`},
		{"/relative", `providers.http.url: "/relative": want an absolute http or https URL`},
		{"http://%zz", `providers.http.url: "http://%zz": parse "http://%zz": invalid URL escape "%zz"`},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			if _, err := New(Config{URL: tt.url}); err == nil || err.Error() != tt.want {
				t.Fatalf("New = %v; want %q", err, tt.want)
			}
		})
	}
	if (Config{}).Enabled() || !(Config{URL: "http://x"}).Enabled() {
		t.Fatal("Enabled does not follow the URL")
	}
}

func query() reputation.Query {
	p := policy.Default()
	p.Name = "sales"
	return reputation.Query{
		Tenant:  "acme",
		Caller:  number.Parse("+12125551234", "US"),
		Name:    "ACME CORP",
		Dialed:  number.Parse("+15551230000", "US"),
		Profile: p,
	}
}

func TestSourceRequest(t *testing.T) {
	srv := httpsourcetest.Start(t, httpsourcetest.JSON(`{"tier":"UNKNOWN"}`))
	s, err := New(Config{URL: srv.URL + "/screen", Token: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(context.Background(), query()); err != nil {
		t.Fatal(err)
	}
	r := srv.Last()
	if r.Method != http.MethodPost || r.URL.Path != "/screen" || r.Header.Get("Authorization") != "Bearer s3cret" ||
		r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("request %s %s headers %v", r.Method, r.URL.Path, r.Header)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(srv.LastBody()), &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"number": "+12125551234", "name": "ACME CORP", "dialed": "+15551230000", "profile": "sales", "tenant": "acme"}
	for k, v := range want {
		if body[k] != v {
			t.Fatalf("body %s = %q; want %q (body %s)", k, body[k], v, srv.LastBody())
		}
	}
	// Without a token there is no Authorization header at all.
	s, _ = New(Config{URL: srv.URL})
	if _, err := s.Lookup(context.Background(), query()); err != nil {
		t.Fatal(err)
	}
	if h := srv.Last().Header.Get("Authorization"); h != "" {
		t.Fatalf("Authorization %q sent without a token", h)
	}
}

func TestSourceAnswers(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		tier    policy.Tier
		score   int
		scored  bool
		reasons []policy.Reason
		risk    reputation.Risk
		raw     map[string]string
		class   reputation.ErrorClass // "" for success
	}{
		{name: "spam with score", body: `{"tier":"SPAM","score":92,"reasons":["provider.spam"]}`,
			tier: policy.TierSpam, score: 92, scored: true, reasons: []policy.Reason{policy.ProviderSpam}, raw: map[string]string{"tier": "SPAM", "score": "92"}},
		{name: "spam without reasons gets provider.spam", body: `{"tier":"spam"}`,
			tier: policy.TierSpam, reasons: []policy.Reason{policy.ProviderSpam}},
		{name: "crm customer", body: `{"tier":"BUSINESS","reasons":["list.allow"],"raw":{"account":"A-17"}}`,
			tier: policy.TierBusiness, reasons: []policy.Reason{policy.ListAllow}, raw: map[string]string{"account": "A-17", "tier": "BUSINESS"}},
		{name: "score as string", body: `{"tier":"UNKNOWN","score":"40","risk":"Medium","reasons":["provider.risk_medium"]}`,
			tier: policy.TierUnknown, score: 40, scored: true, risk: reputation.RiskMedium, reasons: []policy.Reason{policy.ProviderRiskMedium}, raw: map[string]string{"tier": "UNKNOWN", "score": "40"}},
		{name: "risk high without reasons gets provider.risk_high", body: `{"score":87,"risk":"high"}`,
			tier: policy.TierUnknown, score: 87, scored: true, risk: reputation.RiskHigh, reasons: []policy.Reason{policy.ProviderRiskHigh}, raw: map[string]string{"tier": "UNKNOWN", "score": "87"}},
		{name: "risk medium without reasons gets provider.risk_medium", body: `{"risk":"medium","reasons":["provider.recent_reports"]}`,
			tier: policy.TierUnknown, risk: reputation.RiskMedium, reasons: []policy.Reason{policy.ProviderRecentReports, policy.ProviderRiskMedium}},
		{name: "spam says high risk already", body: `{"tier":"SPAM","risk":"high"}`,
			tier: policy.TierSpam, risk: reputation.RiskHigh, reasons: []policy.Reason{policy.ProviderSpam}, raw: nil},
		{name: "risk low raises nothing", body: `{"risk":"low"}`, tier: policy.TierUnknown, risk: reputation.RiskLow},
		{name: "unknown reasons ignored and shown", body: `{"tier":"UNKNOWN","reasons":["vendor.bad","provider.recent_reports","provider.recent_reports"]}`,
			tier: policy.TierUnknown, reasons: []policy.Reason{policy.ProviderRecentReports}, raw: map[string]string{"tier": "UNKNOWN", "ignored_reasons": "vendor.bad"}},
		{name: "empty object knows nothing", body: `{}`, tier: policy.TierUnknown},
		{name: "bad tier", body: `{"tier":"EVIL"}`, class: reputation.ClassInvalidJSON},
		{name: "score out of range", body: `{"tier":"SPAM","score":300}`, class: reputation.ClassInvalidJSON},
		{name: "score not a number", body: `{"score":"high"}`, class: reputation.ClassInvalidJSON},
		{name: "bad risk", body: `{"risk":"extreme"}`, class: reputation.ClassInvalidJSON},
		{name: "negative reports", body: `{"recent_reports":-2}`, class: reputation.ClassInvalidJSON},
		{name: "array", body: `[]`, class: reputation.ClassInvalidJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httpsourcetest.Start(t, httpsourcetest.JSON(tt.body))
			s, err := New(Config{URL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			v, err := s.Lookup(context.Background(), query())
			if tt.class != "" {
				if !errors.Is(err, tt.class) {
					t.Fatalf("Lookup = %+v, %v; want class %s", v, err, tt.class)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Tier != tt.tier || v.Score != tt.score || v.Scored != tt.scored || v.Risk != tt.risk || !slices.Equal(v.Reasons, tt.reasons) {
				t.Fatalf("verdict %+v; want tier %s score %d/%v risk %q reasons %v", v, tt.tier, tt.score, tt.scored, tt.risk, tt.reasons)
			}
			if len(v.Raw) != len(tt.raw) {
				t.Fatalf("raw %v; want %v", v.Raw, tt.raw)
			}
			for k, want := range tt.raw {
				if v.Raw[k] != want {
					t.Fatalf("raw %v; want %v", v.Raw, tt.raw)
				}
			}
		})
	}
}
