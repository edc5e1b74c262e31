package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Header names.
const (
	HeaderDelivery  = "X-Callscreen-Delivery"
	HeaderTimestamp = "X-Callscreen-Timestamp"
	HeaderSignature = "X-Callscreen-Signature"
)

// Options configure a Sender.
type Options struct {
	URL    string
	Secret string
	// Retries after the first attempt.
	Retries int
	// Timeout bounds one attempt.
	Timeout time.Duration
	// RetryWaitMin and RetryWaitMax bound the backoff (1s and 30s when 0).
	RetryWaitMin, RetryWaitMax time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Sender posts signed events.
type Sender struct {
	url    string
	secret []byte
	client *retryablehttp.Client
	now    func() time.Time
}

// New returns a Sender for opts.
func New(opts Options) *Sender {
	c := retryablehttp.NewClient()
	c.Logger = nil // the caller logs the outcome once
	c.RetryMax = opts.Retries
	c.RetryWaitMin, c.RetryWaitMax = opts.RetryWaitMin, opts.RetryWaitMax
	if c.RetryWaitMin <= 0 {
		c.RetryWaitMin = time.Second
	}
	if c.RetryWaitMax <= 0 {
		c.RetryWaitMax = 30 * time.Second
	}
	if opts.Timeout > 0 {
		c.HTTPClient.Timeout = opts.Timeout
	}
	c.ErrorHandler = giveUp
	// Not a redirect to somewhere else with our signature.
	c.HTTPClient.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Sender{url: opts.URL, secret: []byte(opts.Secret), client: c, now: now}
}

// Sign is the signature header value of body sent at timestamp.
func Sign(secret []byte, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(timestamp, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("webhook: signature does not match")
	ErrStale        = errors.New("webhook: timestamp too old or in the future")
)

// Verify checks a delivery as a receiver should: the signature over the
// timestamp and the exact body, compared in constant time, and the
// timestamp within tolerance of now (replays of old deliveries fail).
func Verify(secret []byte, signature, timestamp string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q", ErrBadSignature, timestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	if !hmac.Equal([]byte(Sign(secret, ts, body)), []byte(signature)) {
		return ErrBadSignature
	}
	return nil
}

// Send posts event as JSON, retrying as configured. It returns nil once
// the receiver answered 2xx; an error when it answered anything else, when
// every attempt failed, or when ctx ended.
func (s *Sender) Send(ctx context.Context, event any) error {
	body, err := json.Marshal(event)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	ts := s.now().Unix()
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, s.url, body)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "callscreen")
	req.Header.Set(HeaderDelivery, hex.EncodeToString(id))
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(s.secret, ts, body))
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("webhook %s: %w", redact(s.url), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook %s: answered %s", redact(s.url), resp.Status)
	}
	return nil
}

// giveUp says why the last attempt failed, without the URL (its query
// may carry a token).
func giveUp(resp *http.Response, err error, attempts int) (*http.Response, error) {
	cause := "no answer"
	switch {
	case resp != nil:
		cause = "answered " + resp.Status
		_ = resp.Body.Close()
	case err != nil:
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		cause = err.Error()
	}
	return nil, fmt.Errorf("gave up after %d attempts: %s", attempts, cause)
}

// redact drops a URL's query and user info, which may carry a token.
func redact(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	if i := strings.Index(u, "@"); i >= 0 {
		if j := strings.Index(u, "://"); j >= 0 && j < i {
			u = u[:j+3] + u[i+1:]
		}
	}
	return u
}
