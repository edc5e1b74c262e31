package callerapi

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/httpsource/httpsourcetest"
)

var now = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func query(raw string) reputation.Query {
	return reputation.Query{Caller: number.Parse(raw, "US"), Profile: policy.Default()}
}

func newClient(t *testing.T, url string) *Client {
	t.Helper()
	c, err := New(Config{URL: url, Key: "k3y", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRequest(t *testing.T) {
	srv := httpsourcetest.Start(t, httpsourcetest.JSON(`{"status":"success","data":{"reputation":"unknown"}}`))
	c := newClient(t, srv.URL+"/")
	if _, err := c.Lookup(context.Background(), query("+12125551234")); err != nil {
		t.Fatal(err)
	}
	r := srv.Last()
	if r.Method != "GET" || r.URL.Path != "/api/lookup/+12125551234" || r.Header.Get("X-Auth") != "k3y" {
		t.Fatalf("request %s %s X-Auth %q", r.Method, r.URL.Path, r.Header.Get("X-Auth"))
	}
	if _, err := c.Lookup(context.Background(), query("anonymous")); !errors.Is(err, reputation.ErrNotCovered) {
		t.Fatalf("anonymous caller: %v; want ErrNotCovered", err)
	}
	if srv.Requests() != 1 {
		t.Fatalf("%d requests; an anonymous caller must not be sent", srv.Requests())
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "providers.callerapi.key: empty: set it (CALLSCREEN_PROVIDERS_CALLERAPI_KEY) to use CallerAPI"},
		{Config{Key: "k", URL: "callerapi.com"}, `providers.callerapi.url: "callerapi.com": want an absolute http or https URL`},
		{Config{Key: "k"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			c, err := New(tt.cfg)
			if tt.want == "" {
				if err != nil || c.base != DefaultURL {
					t.Fatalf("New = %v base %q", err, c.base)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("New = %v; want %q", err, tt.want)
			}
		})
	}
	if (Config{URL: "http://x"}).Enabled() || !(Config{Key: "k"}).Enabled() {
		t.Fatal("Enabled does not follow the key")
	}
}

func TestMapping(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		tier    policy.Tier
		reasons []policy.Reason
		risk    reputation.Risk
		score   int
		scored  bool
		recent  int
		raw     map[string]string
	}{
		{
			name: "documented spam",
			body: `{"status":"success","data":{"number":"+12125551234","reputation":"spam","entity_type":"unknown","is_spam":true,"spam_score":87,"total_complaints":42,
				"complaints":[{"date":"2026-11-01","type":"robocall","comment":"..."},{"date":"2025-01-01","type":"scam"}],"business_name":""}}`,
			tier: policy.TierSpam, reasons: []policy.Reason{policy.ProviderSpam, policy.ProviderRecentReports}, risk: reputation.RiskHigh,
			score: 87, scored: true, recent: 1,
			raw: map[string]string{"reputation": "spam", "entity_type": "unknown", "is_spam": "true", "spam_score": "87", "total_complaints": "42", "recent_complaints": "1", "last_complaint": "2026-11-01 robocall"},
		},
		{
			name:    "business without reports",
			body:    `{"status":"success","data":{"reputation":"safe","entity_type":"business","is_spam":false,"spam_score":3,"total_complaints":0,"complaints":[],"business_name":"Acme"}}`,
			tier:    policy.TierBusiness,
			reasons: []policy.Reason{policy.ProviderBusiness}, risk: reputation.RiskLow, score: 3, scored: true,
			raw: map[string]string{"reputation": "safe", "entity_type": "business", "is_spam": "false", "spam_score": "3", "total_complaints": "0", "business_name": "Acme"},
		},
		{
			name: "business with recent reports",
			body: `{"status":"success","data":{"reputation":"risky","entity_type":"business","is_spam":false,"spam_score":"55","total_complaints":"3",
				"complaints":[{"date":"2026-11-20T08:00:00Z","type":"sales"},{"date":"2026-11-22","type":"sales"},{"date":"garbage","type":"x"}],"business_info":{"business_name":"Acme Solar"}}}`,
			tier:    policy.TierBusiness,
			reasons: []policy.Reason{policy.ProviderRiskMedium, policy.ProviderBusiness, policy.ProviderRecentReports}, risk: reputation.RiskMedium,
			score: 55, scored: true, recent: 2,
			raw: map[string]string{"reputation": "risky", "entity_type": "business", "is_spam": "false", "spam_score": "55", "total_complaints": "3", "recent_complaints": "2", "last_complaint": "2026-11-22 sales", "business_name": "Acme Solar"},
		},
		{
			name: "individual with an old report",
			body: `{"status":"success","data":{"reputation":"unknown","entity_type":"individual","complaints":[{"date":"2026-09-01","type":"x"}]}}`,
			tier: policy.TierUnknown,
			raw:  map[string]string{"reputation": "unknown", "entity_type": "individual", "recent_complaints": "0", "last_complaint": "2026-09-01 x"},
		},
		{
			name: "is_spam as a string wins over a safe reputation",
			body: `{"status":"success","data":{"reputation":"safe","entity_type":"business","is_spam":"true"}}`,
			tier: policy.TierSpam, reasons: []policy.Reason{policy.ProviderSpam}, risk: reputation.RiskHigh,
			raw: map[string]string{"reputation": "safe", "entity_type": "business", "is_spam": "true"},
		},
		{
			name: "score clamped", body: `{"data":{"spam_score":140}}`,
			tier: policy.TierUnknown, score: 100, scored: true, raw: map[string]string{"spam_score": "140"},
		},
		{name: "no data knows nothing", body: `{"status":"success"}`, tier: policy.TierUnknown},
		{name: "empty object knows nothing", body: `{}`, tier: policy.TierUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httpsourcetest.Start(t, httpsourcetest.JSON(tt.body))
			v, err := newClient(t, srv.URL).Lookup(context.Background(), query("+12125551234"))
			if err != nil {
				t.Fatal(err)
			}
			if v.Tier != tt.tier || !slices.Equal(v.Reasons, tt.reasons) || v.Risk != tt.risk || v.Score != tt.score ||
				v.Scored != tt.scored || v.RecentReports != tt.recent || v.Source != Name {
				t.Fatalf("verdict %+v\nwant tier %s reasons %v risk %q score %d/%v recent %d", v, tt.tier, tt.reasons, tt.risk, tt.score, tt.scored, tt.recent)
			}
			if len(v.Raw) != len(tt.raw) {
				t.Fatalf("raw %v\nwant %v", v.Raw, tt.raw)
			}
			for k, want := range tt.raw {
				if v.Raw[k] != want {
					t.Fatalf("raw %v\nwant %v", v.Raw, tt.raw)
				}
			}
		})
	}
}

func TestReportWindowFromProfile(t *testing.T) {
	srv := httpsourcetest.Start(t, httpsourcetest.JSON(`{"data":{"complaints":[{"date":"2026-11-10","type":"x"}]}}`))
	c := newClient(t, srv.URL)
	q := query("+12125551234")
	q.Profile.Thresholds.ReportWindow = 7 * 24 * time.Hour
	v, err := c.Lookup(context.Background(), q)
	if err != nil || v.RecentReports != 0 {
		t.Fatalf("13-day-old report in a 7-day window: recent %d, %v", v.RecentReports, err)
	}
	q.Profile.Thresholds.ReportWindow = 0 // default 30 days
	v, err = c.Lookup(context.Background(), q)
	if err != nil || v.RecentReports != 1 {
		t.Fatalf("13-day-old report in the default window: recent %d, %v", v.RecentReports, err)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		class reputation.ErrorClass
	}{
		{"error status", `{"status":"error","message":"invalid api key"}`, reputation.ClassProviderStatus},
		{"bad score type", `{"status":"success","data":{"spam_score":"lots"}}`, reputation.ClassInvalidJSON},
		{"bad is_spam", `{"status":"success","data":{"is_spam":"perhaps"}}`, reputation.ClassInvalidJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httpsourcetest.Start(t, httpsourcetest.JSON(tt.body))
			_, err := newClient(t, srv.URL).Lookup(context.Background(), query("+12125551234"))
			if !errors.Is(err, tt.class) {
				t.Fatalf("Lookup = %v; want class %s", err, tt.class)
			}
		})
	}
}
