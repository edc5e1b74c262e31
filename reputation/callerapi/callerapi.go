package callerapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/httpsource"
)

// Name is the provider name: its metric label and the prefix of its Raw
// fields.
const Name = "callerapi"

// DefaultURL is the CallerAPI base URL used when providers.callerapi.url
// is not set.
const DefaultURL = "https://callerapi.com"

// DefaultReportWindow is how far back a complaint counts as recent when
// the profile does not say (policy.Thresholds.ReportWindow).
const DefaultReportWindow = 30 * 24 * time.Hour

// Config is providers.callerapi.*. The provider is on when Key is set.
type Config struct {
	// URL is the base URL (providers.callerapi.url), DefaultURL when "".
	URL string
	// Key is the API key sent as X-Auth (providers.callerapi.key, from
	// the environment: CALLSCREEN_PROVIDERS_CALLERAPI_KEY).
	Key string
	// Client sends the requests; nil is httpsource.NewClient().
	Client *http.Client
	// Now is the clock complaint dates are compared with; nil is time.Now.
	Now func() time.Time
}

// Enabled reports whether the provider is configured.
func (c Config) Enabled() bool { return c.Key != "" }

// Client looks callers up at CallerAPI.
type Client struct {
	base   string
	header http.Header // the key
	client *http.Client
	now    func() time.Time
}

var _ reputation.Source = (*Client)(nil)

// New checks cfg and returns the provider.
func New(cfg Config) (*Client, error) {
	if cfg.Key == "" {
		return nil, errors.New("providers.callerapi.key: empty: set it (CALLSCREEN_PROVIDERS_CALLERAPI_KEY) to use CallerAPI")
	}
	base, err := httpsource.BaseURL("providers.callerapi.url", cfg.URL, DefaultURL)
	if err != nil {
		return nil, err
	}
	c := &Client{base: base, header: http.Header{}, client: cfg.Client, now: cfg.Now}
	c.header.Set("X-Auth", cfg.Key)
	if c.client == nil {
		c.client = httpsource.NewClient()
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// Lookup asks CallerAPI about q.Caller. A caller without an E.164 number
// is ErrNotCovered. CallerAPI's status other than "success" is a
// ClassProviderStatus error; transport and body failures are classified by
// httpsource.Do.
func (c *Client) Lookup(ctx context.Context, q reputation.Query) (reputation.Verdict, error) {
	if q.Caller.E164 == "" {
		return reputation.Verdict{}, reputation.ErrNotCovered
	}
	var resp Response
	if err := httpsource.Get(ctx, c.client, Name, c.base+"/api/lookup/"+url.PathEscape(q.Caller.E164), c.header, &resp); err != nil {
		return reputation.Verdict{}, err
	}
	if s := strings.ToLower(strings.TrimSpace(resp.Status)); s != "" && s != "success" && s != "ok" {
		msg := resp.Message
		if msg == "" {
			msg = resp.Error
		}
		return reputation.Verdict{}, &reputation.ProviderError{Provider: Name, Class: reputation.ClassProviderStatus,
			Err: fmt.Errorf("status %q: %s", resp.Status, msg)}
	}
	window := q.Profile.Thresholds.ReportWindow
	if window <= 0 {
		window = DefaultReportWindow
	}
	return resp.Data.Verdict(c.now(), window), nil
}

// Response is CallerAPI's lookup answer. Every field may be missing.
type Response struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	Error   string `json:"error"`
	Data    Data   `json:"data"`
}

// Data is the lookup result proper.
type Data struct {
	Number          string          `json:"number"`
	Reputation      string          `json:"reputation"`
	EntityType      string          `json:"entity_type"`
	IsSpam          httpsource.Bool `json:"is_spam"`
	SpamScore       httpsource.Int  `json:"spam_score"`
	TotalComplaints httpsource.Int  `json:"total_complaints"`
	Complaints      []Complaint     `json:"complaints"`
	BusinessName    string          `json:"business_name"`
	BusinessInfo    *BusinessInfo   `json:"business_info"`
}

// Complaint is one spam report.
type Complaint struct {
	Date    string `json:"date"`
	Type    string `json:"type"`
	Comment string `json:"comment"`
}

// BusinessInfo is the nested business record some answers carry.
type BusinessInfo struct {
	BusinessName string          `json:"business_name"`
	Verified     httpsource.Bool `json:"verified"`
}

// Verdict maps the answer: spam (is_spam, or reputation "spam") is SPAM
// with provider.spam and high risk; reputation "risky" is medium risk; an
// entity_type of business is BUSINESS with provider.business; complaints
// dated within window of now add provider.recent_reports; everything else
// is UNKNOWN.
func (d Data) Verdict(now time.Time, window time.Duration) reputation.Verdict {
	v := reputation.Verdict{Source: Name}
	v.Tier = policy.TierUnknown
	rep := strings.ToLower(strings.TrimSpace(d.Reputation))
	entity := strings.ToLower(strings.TrimSpace(d.EntityType))
	spam := d.IsSpam.V || rep == "spam"

	recent, last := 0, ""
	var lastAt time.Time
	for _, c := range d.Complaints {
		at, ok := parseDate(c.Date)
		if !ok {
			continue
		}
		// A day of slack for clocks and time zones on both sides.
		if now.Sub(at) <= window && at.Before(now.Add(24*time.Hour)) {
			recent++
		}
		if at.After(lastAt) {
			lastAt, last = at, c.Date+" "+c.Type
		}
	}
	v.RecentReports = recent

	if d.SpamScore.Set {
		v.Score, v.Scored = min(max(d.SpamScore.V, 0), 100), true
	}
	switch {
	case spam:
		v.Tier = policy.TierSpam
		v.Risk = reputation.RiskHigh
		v.Reasons = append(v.Reasons, policy.ProviderSpam)
	case rep == "risky":
		v.Risk = reputation.RiskMedium
		v.Reasons = append(v.Reasons, policy.ProviderRiskMedium)
	case rep == "safe":
		v.Risk = reputation.RiskLow
	}
	if !spam && entity == "business" {
		v.Tier = policy.TierBusiness
		v.Reasons = append(v.Reasons, policy.ProviderBusiness)
	}
	if recent > 0 {
		v.Reasons = append(v.Reasons, policy.ProviderRecentReports)
	}

	raw := map[string]string{}
	put := func(k, val string) {
		if val != "" {
			raw[k] = val
		}
	}
	put("reputation", d.Reputation)
	put("entity_type", d.EntityType)
	if d.IsSpam.Set {
		raw["is_spam"] = strconv.FormatBool(d.IsSpam.V)
	}
	if d.SpamScore.Set {
		raw["spam_score"] = strconv.Itoa(d.SpamScore.V)
	}
	if d.TotalComplaints.Set {
		raw["total_complaints"] = strconv.Itoa(d.TotalComplaints.V)
	}
	if len(d.Complaints) > 0 {
		raw["recent_complaints"] = strconv.Itoa(recent)
	}
	put("last_complaint", strings.TrimSpace(last))
	name := d.BusinessName
	if name == "" && d.BusinessInfo != nil {
		name = d.BusinessInfo.BusinessName
	}
	put("business_name", name)
	if len(raw) > 0 {
		v.Raw = raw
	}
	return v
}

// parseDate reads the complaint date forms CallerAPI uses.
func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02", time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
