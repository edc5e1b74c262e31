package httpsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/callscreen/callscreen/reputation"
)

// MaxBody caps every provider response body (64 KiB). A larger body is
// ClassTooLarge and is not read further.
const MaxBody = 64 << 10

// NewClient returns the HTTP client provider adapters use by default. It
// has no overall timeout of its own: every request carries the lookup's
// context. Connections are kept alive so a lookup costs one round trip.
func NewClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment,
			DialContext: (&net.Dialer{
				Timeout:   2 * time.Second,
				KeepAlive: 30 * time.Second,
			}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   2 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		// A provider that redirects is misconfigured: say so instead of
		// following it somewhere else with our key.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// BaseURL returns a provider's base URL: raw, or def when raw is "",
// without trailing slashes. Anything but an absolute http or https URL is
// an error naming the setting key.
func BaseURL(key, raw, def string) (string, error) {
	base := raw
	if base == "" {
		base = def
	}
	if u, err := url.Parse(base); err != nil || !absoluteHTTP(u) {
		return "", fmt.Errorf("%s: %q: want an absolute http or https URL", key, raw)
	}
	return strings.TrimRight(base, "/"), nil
}

func absoluteHTTP(u *url.URL) bool {
	return (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// Get sends a GET of url with header and "Accept: application/json", and
// decodes the answer into out as Do does. header is not changed.
func Get(ctx context.Context, c *http.Client, provider, url string, header http.Header, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", provider, err)
	}
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Accept", "application/json")
	return Do(ctx, c, provider, req, out)
}

// Do sends req with ctx and decodes a 2xx JSON body into out. Every
// failure is a *reputation.ProviderError naming provider:
//
//   - ctx's deadline: ClassTimeout; ctx cancelled: ClassCancelled;
//   - no connection, reset, TLS failure: ClassConnection;
//   - 429: ClassStatus429 with RetryAfter from the Retry-After header
//     (seconds or an HTTP date; 0 when absent or unreadable);
//   - 5xx: ClassStatus5xx; any other non-2xx: ClassStatus4xx;
//   - body over MaxBody: ClassTooLarge; not JSON for out: ClassInvalidJSON.
func Do(ctx context.Context, c *http.Client, provider string, req *http.Request, out any) error {
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req.WithContext(ctx))
	if err != nil {
		return transportError(ctx, provider, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		pe := &reputation.ProviderError{Provider: provider, Status: resp.StatusCode}
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			pe.Class = reputation.ClassStatus429
			pe.RetryAfter = RetryAfter(resp.Header.Get("Retry-After"), time.Now())
		case resp.StatusCode >= 500:
			pe.Class = reputation.ClassStatus5xx
		default:
			pe.Class = reputation.ClassStatus4xx
		}
		// A short error text helps the operator; never more than a line.
		if b, _ := io.ReadAll(io.LimitReader(resp.Body, 256)); len(b) > 0 {
			pe.Err = errors.New(firstLine(string(b)))
		}
		return pe
	}
	if resp.ContentLength > MaxBody {
		return &reputation.ProviderError{Provider: provider, Class: reputation.ClassTooLarge, Status: resp.StatusCode,
			Err: fmt.Errorf("content-length %d over the %d-byte cap", resp.ContentLength, MaxBody)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return transportError(ctx, provider, fmt.Errorf("read body: %w", err))
	}
	if len(body) > MaxBody {
		return &reputation.ProviderError{Provider: provider, Class: reputation.ClassTooLarge, Status: resp.StatusCode,
			Err: fmt.Errorf("body over the %d-byte cap", MaxBody)}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return &reputation.ProviderError{Provider: provider, Class: reputation.ClassInvalidJSON, Status: resp.StatusCode, Err: err}
	}
	return nil
}

// transportError classifies a failure to get or read a response.
func transportError(ctx context.Context, provider string, err error) error {
	class := reputation.ClassConnection
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		class = reputation.ClassTimeout
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		class = reputation.ClassCancelled
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			class = reputation.ClassTimeout
		}
	}
	return &reputation.ProviderError{Provider: provider, Class: class, Err: err}
}

// RetryAfter reads a Retry-After header value: delay-seconds or an HTTP
// date, relative to now. Anything else, and dates in the past, give 0.
func RetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if s, err := strconv.ParseInt(h, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		const maxSeconds = int64(24 * time.Hour / time.Second)
		return time.Duration(min(s, maxSeconds)) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}
