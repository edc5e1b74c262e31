package youmail

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/httpsource"
)

// Name is the provider name: its metric label and the prefix of its Raw
// fields.
const Name = "youmail"

// DefaultURL is the YouMail Data API base URL used when
// providers.youmail.url is not set.
const DefaultURL = "https://dataapi.youmail.com"

// StatusOK is the statusCode of a successful answer.
const StatusOK = 10000

// Config is providers.youmail.*. The provider is on when Key is set.
type Config struct {
	// URL is the base URL (providers.youmail.url), DefaultURL when "".
	URL string
	// SID and Key are the DataApiSid and DataApiKey credentials
	// (providers.youmail.sid, providers.youmail.key; the key from the
	// environment: CALLSCREEN_PROVIDERS_YOUMAIL_KEY).
	SID string
	Key string
	// Client sends the requests; nil is httpsource.NewClient().
	Client *http.Client
}

// Enabled reports whether the provider is configured.
func (c Config) Enabled() bool { return c.Key != "" }

// Client looks callers up at YouMail.
type Client struct {
	base   string
	header http.Header // the credentials
	client *http.Client
}

var _ reputation.Source = (*Client)(nil)

// New checks cfg and returns the provider.
func New(cfg Config) (*Client, error) {
	switch {
	case cfg.Key == "":
		return nil, errors.New("providers.youmail.key: empty: set it (CALLSCREEN_PROVIDERS_YOUMAIL_KEY) to use YouMail")
	case cfg.SID == "":
		return nil, errors.New("providers.youmail.sid: empty: YouMail needs both sid and key")
	}
	base, err := httpsource.BaseURL("providers.youmail.url", cfg.URL, DefaultURL)
	if err != nil {
		return nil, err
	}
	c := &Client{base: base, header: http.Header{}, client: cfg.Client}
	c.header.Set("DataApiSid", cfg.SID)
	c.header.Set("DataApiKey", cfg.Key)
	if c.client == nil {
		c.client = httpsource.NewClient()
	}
	return c, nil
}

// Covers reports whether YouMail is asked about the caller: NANP numbers
// with a full ten-digit national number.
func Covers(q reputation.Query) bool {
	return q.Caller.NANP() && len(q.Caller.E164) == 12
}

// Lookup asks YouMail about q.Caller. Callers outside NANP are
// ErrNotCovered and nothing is sent. A statusCode other than 10000 is a
// ClassProviderStatus error.
func (c *Client) Lookup(ctx context.Context, q reputation.Query) (reputation.Verdict, error) {
	if !Covers(q) {
		return reputation.Verdict{}, reputation.ErrNotCovered
	}
	national := q.Caller.E164[2:]
	var resp Response
	if err := httpsource.Get(ctx, c.client, Name, c.base+"/api/v2/phone/"+national, c.header, &resp); err != nil {
		return reputation.Verdict{}, err
	}
	v, err := resp.Verdict()
	if err != nil {
		return reputation.Verdict{}, err
	}
	return v, nil
}

// Response is YouMail's answer.
type Response struct {
	StatusCode  httpsource.Int  `json:"statusCode"`
	Message     string          `json:"message"`
	RecordFound httpsource.Bool `json:"recordFound"`
	SpamRisk    *struct {
		Level httpsource.Int `json:"level"`
	} `json:"spamRisk"`
	Timestamp  string `json:"timestamp"`
	CallerName string `json:"callerName"`
}

// Verdict maps the answer: level 2 is SPAM with provider.risk_high, level
// 1 provider.risk_medium, level 0 low risk; no record (recordFound false
// or no spamRisk) knows nothing.
func (r Response) Verdict() (reputation.Verdict, error) {
	if !r.StatusCode.Set || r.StatusCode.V != StatusOK {
		code := "missing"
		if r.StatusCode.Set {
			code = strconv.Itoa(r.StatusCode.V)
		}
		return reputation.Verdict{}, &reputation.ProviderError{Provider: Name, Class: reputation.ClassProviderStatus,
			Err: fmt.Errorf("statusCode %s: %s", code, r.Message)}
	}
	v := reputation.Verdict{Source: Name}
	v.Tier = policy.TierUnknown
	raw := map[string]string{}
	if r.CallerName != "" {
		raw["caller_name"] = r.CallerName
	}
	if r.Timestamp != "" {
		raw["timestamp"] = r.Timestamp
	}
	if r.RecordFound.Set {
		raw["record_found"] = strconv.FormatBool(r.RecordFound.V)
	}
	found := !r.RecordFound.Set || r.RecordFound.V
	if found && r.SpamRisk != nil && r.SpamRisk.Level.Set {
		raw["spam_risk_level"] = strconv.Itoa(r.SpamRisk.Level.V)
		switch r.SpamRisk.Level.V {
		case 0:
			v.Risk = reputation.RiskLow
		case 1:
			v.Risk = reputation.RiskMedium
			v.Reasons = []policy.Reason{policy.ProviderRiskMedium}
		case 2:
			v.Risk = reputation.RiskHigh
			v.Tier = policy.TierSpam
			v.Reasons = []policy.Reason{policy.ProviderRiskHigh}
		default:
			return reputation.Verdict{}, &reputation.ProviderError{Provider: Name, Class: reputation.ClassInvalidJSON,
				Err: fmt.Errorf("spamRisk.level %d: want 0, 1 or 2", r.SpamRisk.Level.V)}
		}
	}
	if len(raw) > 0 {
		v.Raw = raw
	}
	return v, nil
}
