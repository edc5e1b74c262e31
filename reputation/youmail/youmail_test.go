package youmail

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/httpsource/httpsourcetest"
)

func query(raw string) reputation.Query {
	return reputation.Query{Caller: number.Parse(raw, "US"), Profile: policy.Default()}
}

func newClient(t *testing.T, url string) *Client {
	t.Helper()
	c, err := New(Config{URL: url, SID: "sid-1", Key: "k3y"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRequestAndCoverage(t *testing.T) {
	srv := httpsourcetest.Start(t, httpsourcetest.JSON(`{"statusCode":10000,"recordFound":false}`))
	c := newClient(t, srv.URL)
	if _, err := c.Lookup(context.Background(), query("+1 (212) 555-1234")); err != nil {
		t.Fatal(err)
	}
	r := srv.Last()
	if r.URL.Path != "/api/v2/phone/2125551234" || r.Header.Get("DataApiSid") != "sid-1" || r.Header.Get("DataApiKey") != "k3y" ||
		r.Header.Get("Accept") != "application/json" {
		t.Fatalf("request %s headers %v", r.URL.Path, r.Header)
	}
	for _, raw := range []string{"+442079460000", "+33142685300", "anonymous", "911"} {
		t.Run(raw, func(t *testing.T) {
			if _, err := c.Lookup(context.Background(), query(raw)); !errors.Is(err, reputation.ErrNotCovered) {
				t.Fatalf("Lookup(%s) = %v; want ErrNotCovered", raw, err)
			}
		})
	}
	if srv.Requests() != 1 {
		t.Fatalf("%d requests; callers outside NANP must not be sent", srv.Requests())
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{SID: "s"}, "providers.youmail.key: empty: set it (CALLSCREEN_PROVIDERS_YOUMAIL_KEY) to use YouMail"},
		{Config{Key: "k"}, "providers.youmail.sid: empty: YouMail needs both sid and key"},
		{Config{Key: "k", SID: "s", URL: "::"}, `providers.youmail.url: "::": want an absolute http or https URL`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if _, err := New(tt.cfg); err == nil || err.Error() != tt.want {
				t.Fatalf("New = %v; want %q", err, tt.want)
			}
		})
	}
	c, err := New(Config{Key: "k", SID: "s"})
	if err != nil || c.base != DefaultURL {
		t.Fatalf("default URL: %v %q", err, c.base)
	}
}

func TestMapping(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		tier    policy.Tier
		risk    reputation.Risk
		reasons []policy.Reason
		raw     map[string]string
		class   reputation.ErrorClass
	}{
		{name: "level 2", body: `{"statusCode":10000,"recordFound":true,"spamRisk":{"level":2},"timestamp":"2026-11-23T09:59:58Z","callerName":"SPAM LIKELY"}`,
			tier: policy.TierSpam, risk: reputation.RiskHigh, reasons: []policy.Reason{policy.ProviderRiskHigh},
			raw: map[string]string{"spam_risk_level": "2", "record_found": "true", "timestamp": "2026-11-23T09:59:58Z", "caller_name": "SPAM LIKELY"}},
		{name: "level 1", body: `{"statusCode":"10000","spamRisk":{"level":"1"}}`,
			tier: policy.TierUnknown, risk: reputation.RiskMedium, reasons: []policy.Reason{policy.ProviderRiskMedium},
			raw: map[string]string{"spam_risk_level": "1"}},
		{name: "level 0", body: `{"statusCode":10000,"recordFound":true,"spamRisk":{"level":0}}`,
			tier: policy.TierUnknown, risk: reputation.RiskLow, raw: map[string]string{"spam_risk_level": "0", "record_found": "true"}},
		{name: "no record", body: `{"statusCode":10000,"recordFound":false,"spamRisk":{"level":2}}`,
			tier: policy.TierUnknown, raw: map[string]string{"record_found": "false"}},
		{name: "no spamRisk", body: `{"statusCode":10000}`, tier: policy.TierUnknown},
		{name: "other status", body: `{"statusCode":20001,"message":"invalid credentials"}`, class: reputation.ClassProviderStatus},
		{name: "missing status", body: `{"spamRisk":{"level":2}}`, class: reputation.ClassProviderStatus},
		{name: "unknown level", body: `{"statusCode":10000,"spamRisk":{"level":7}}`, class: reputation.ClassInvalidJSON},
		{name: "level not a number", body: `{"statusCode":10000,"spamRisk":{"level":"high"}}`, class: reputation.ClassInvalidJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httpsourcetest.Start(t, httpsourcetest.JSON(tt.body))
			v, err := newClient(t, srv.URL).Lookup(context.Background(), query("+12125551234"))
			if tt.class != "" {
				if !errors.Is(err, tt.class) {
					t.Fatalf("Lookup = %+v, %v; want class %s", v, err, tt.class)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Tier != tt.tier || v.Risk != tt.risk || !slices.Equal(v.Reasons, tt.reasons) || v.Source != Name {
				t.Fatalf("verdict %+v; want tier %s risk %q reasons %v", v, tt.tier, tt.risk, tt.reasons)
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
