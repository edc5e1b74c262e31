package httpsource

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
)

// Name is the provider name of the generic HTTP source: its metric label
// and the prefix of its Raw fields.
const Name = "http"

// Config is providers.http.*. The source is on when URL is set.
type Config struct {
	// URL receives the POST (providers.http.url).
	URL string
	// Token, when set, is sent as "Authorization: Bearer TOKEN"
	// (providers.http.token, from the environment).
	Token string
	// Client sends the requests; nil is NewClient().
	Client *http.Client
}

// Enabled reports whether the source is configured.
func (c Config) Enabled() bool { return c.URL != "" }

// Source asks the operator's HTTP service.
type Source struct {
	url    string
	token  string
	client *http.Client
}

var _ reputation.Source = (*Source)(nil)

// New checks cfg and returns the source.
func New(cfg Config) (*Source, error) {
	if err := checkURL("providers.http.url", cfg.URL); err != nil {
		return nil, err
	}
	c := cfg.Client
	if c == nil {
		c = NewClient()
	}
	return &Source{url: cfg.URL, token: cfg.Token, client: c}, nil
}

// checkURL accepts absolute http and https URLs only.
func checkURL(key, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: %q: %w", key, raw, err)
	}
	if !absoluteHTTP(u) {
		return fmt.Errorf("%s: %q: want an absolute http or https URL", key, raw)
	}
	return nil
}

// Request is the JSON body the service receives.
type Request struct {
	// Number is the caller in E.164.
	Number string `json:"number"`
	// Name is the caller ID name, "" when none.
	Name string `json:"name"`
	// Dialed is the number called, E.164 when it has one, else its digits.
	Dialed string `json:"dialed"`
	// Profile names the profile the call is screened with.
	Profile string `json:"profile"`
	// Tenant names the tenant, "" for the default one.
	Tenant string `json:"tenant,omitempty"`
}

// Response is the JSON the service answers with. Only tier is needed;
// every field may be absent.
type Response struct {
	// Tier is SPAM, BUSINESS or UNKNOWN (any case); absent is UNKNOWN.
	Tier string `json:"tier"`
	// Score is 0 (clean) to 100 (spam), when the service has one.
	Score Int `json:"score"`
	// Reasons are callscreen reason codes ("provider.spam"). Codes
	// callscreen does not know are ignored and listed in the raw field
	// ignored_reasons.
	Reasons []string `json:"reasons"`
	// Risk is low, medium or high, optional.
	Risk string `json:"risk"`
	// RecentReports counts recent spam reports, optional.
	RecentReports Int `json:"recent_reports"`
	// Raw are fields shown to operators as given, optional.
	Raw map[string]string `json:"raw"`
}

// Lookup POSTs the call to the service. Bad answers (a tier, score or risk
// it does not document) are ClassInvalidJSON errors.
func (s *Source) Lookup(ctx context.Context, q reputation.Query) (reputation.Verdict, error) {
	body, err := json.Marshal(Request{
		Number:  q.Caller.Key(),
		Name:    q.Name,
		Dialed:  q.Dialed.Key(),
		Profile: q.Profile.Name,
		Tenant:  q.Tenant,
	})
	if err != nil {
		return reputation.Verdict{}, fmt.Errorf("http source: encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return reputation.Verdict{}, fmt.Errorf("http source: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	var resp Response
	if err := Do(ctx, s.client, Name, req, &resp); err != nil {
		return reputation.Verdict{}, err
	}
	v, err := resp.Verdict()
	if err != nil {
		return reputation.Verdict{}, &reputation.ProviderError{Provider: Name, Class: reputation.ClassInvalidJSON, Err: err}
	}
	return v, nil
}

// Verdict maps a response to a verdict, checking every field.
func (r Response) Verdict() (reputation.Verdict, error) {
	var v reputation.Verdict
	switch t := policy.Tier(strings.ToUpper(strings.TrimSpace(r.Tier))); t {
	case "", policy.TierUnknown:
		v.Tier = policy.TierUnknown
	case policy.TierSpam, policy.TierBusiness:
		v.Tier = t
	default:
		return v, fmt.Errorf("tier %q: want SPAM, BUSINESS or UNKNOWN", r.Tier)
	}
	if r.Score.Set {
		if r.Score.V < 0 || r.Score.V > 100 {
			return v, fmt.Errorf("score %d: want 0 to 100", r.Score.V)
		}
		v.Score, v.Scored = r.Score.V, true
	}
	switch risk := reputation.Risk(strings.ToLower(strings.TrimSpace(r.Risk))); risk {
	case "", reputation.RiskLow, reputation.RiskMedium, reputation.RiskHigh:
		v.Risk = risk
	default:
		return v, fmt.Errorf("risk %q: want low, medium or high", r.Risk)
	}
	if r.RecentReports.Set {
		if r.RecentReports.V < 0 {
			return v, fmt.Errorf("recent_reports %d: must not be negative", r.RecentReports.V)
		}
		v.RecentReports = r.RecentReports.V
	}
	var ignored []string
	for _, code := range r.Reasons {
		reason := policy.Reason(strings.TrimSpace(code))
		if !reason.Known() {
			ignored = append(ignored, code)
			continue
		}
		if !slices.Contains(v.Reasons, reason) {
			v.Reasons = append(v.Reasons, reason)
		}
	}
	if len(r.Raw) > 0 || len(ignored) > 0 || r.Score.Set {
		v.Raw = make(map[string]string, len(r.Raw)+2)
		for k, val := range r.Raw {
			v.Raw[k] = val
		}
		v.Raw["tier"] = string(v.Tier)
		if r.Score.Set {
			v.Raw["score"] = strconv.Itoa(r.Score.V)
		}
		if len(ignored) > 0 {
			v.Raw["ignored_reasons"] = strings.Join(ignored, ",")
		}
	}
	if v.Tier == policy.TierSpam && len(v.Reasons) == 0 {
		v.Reasons = []policy.Reason{policy.ProviderSpam}
	}
	// A risk label the reasons do not carry gets its reason, as YouMail's
	// levels do: a service that says "high" is not shown as high risk and
	// decided as anything less.
	switch {
	case v.Risk == reputation.RiskHigh && !slices.Contains(v.Reasons, policy.ProviderRiskHigh) && !slices.Contains(v.Reasons, policy.ProviderSpam):
		v.Reasons = append(v.Reasons, policy.ProviderRiskHigh)
	case v.Risk == reputation.RiskMedium && !slices.ContainsFunc(v.Reasons, riskReason):
		v.Reasons = append(v.Reasons, policy.ProviderRiskMedium)
	}
	return v, nil
}

// riskReason reports whether r already says how risky the caller is.
func riskReason(r policy.Reason) bool {
	return r == policy.ProviderSpam || r == policy.ProviderRiskHigh || r == policy.ProviderRiskMedium
}
