package admin

import (
	"bytes"
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
)

// Client calls a running server's admin API: what the commands `callscreen
// lists`, `report` and `feed` do through the server, so that a change
// applies to the next call and the server's files stay its own.
//
// Every method takes a context that bounds it; an answer other than
// success is an *APIError with the status and the server's message.
type Client struct {
	base  string
	addr  string
	token string
	http  *http.Client
}

// ErrNoServer: nothing answers at the client's address (connection
// refused, no route, or no answer within the context).
var ErrNoServer = errors.New("no callscreen admin API answers")

// APIError is an answer other than success.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("admin API: %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// DialAddr is the address a command on this host reaches a server
// listening on listen at: a wildcard host (0.0.0.0, [::], "") is reached
// on loopback. ok is false when listen cannot be reached at all: its port
// is chosen at start (0) or it does not parse.
func DialAddr(listen string) (addr string, ok bool) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port == "0" || port == "" {
		return "", false
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port), true
}

// NewClient returns a client of the admin API at addr (host:port),
// sending token, when not "", as the bearer token.
func NewClient(addr, token string) *Client {
	tr := &http.Transport{
		Proxy:                 nil, // the server is on this host or its network, never behind a proxy
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:          2,
		IdleConnTimeout:       30 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &Client{base: "http://" + addr, addr: addr, token: token, http: &http.Client{Transport: tr}}
}

// Addr is the address the client calls.
func (c *Client) Addr() string { return c.addr }

// Ping reports whether a callscreen admin API answers: nil when GET
// /healthz answers "ok"; an error wrapping ErrNoServer when nothing
// answers; another error when something else answers there.
func (c *Client) Ping(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w at %s: %w", ErrNoServer, c.addr, errCause(err))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(b)) != "ok" {
		return fmt.Errorf("%s answers GET /healthz with %d %q: not a callscreen admin API", c.addr, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return nil
}

// errCause drops the method and URL a *url.Error repeats.
func errCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// send sends a request; the caller closes the response's body.
func (c *Client) send(ctx context.Context, method, path string, q url.Values, contentType string, body io.Reader) (*http.Response, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("admin API at %s: %w", c.addr, errCause(err))
	}
	return resp, nil
}

// do sends a request and checks the status is want; the caller closes the
// body of the response it gets.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, contentType string, body io.Reader, want int) (*http.Response, error) {
	resp, err := c.send(ctx, method, path, q, contentType, body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		defer resp.Body.Close()
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, apiError(resp.StatusCode, raw)
	}
	return resp, nil
}

// apiError reads {"error": "..."} from an answer that is not a success.
func apiError(status int, raw []byte) *APIError {
	var body struct {
		Error string `json:"error"`
	}
	msg := strings.TrimSpace(string(raw))
	if json.Unmarshal(raw, &body) == nil && body.Error != "" {
		msg = body.Error
	}
	return &APIError{Status: status, Message: msg}
}

// readJSON decodes a success's body into v.
func readJSON(resp *http.Response, v any) error {
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("admin API: read answer: %w", err)
	}
	return nil
}

func (c *Client) jsonBody(v any) (io.Reader, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(b), nil
}

// AddListEntry puts e on its list (e.List) and returns it as stored.
func (c *Client) AddListEntry(ctx context.Context, e ListEntry) (ListEntry, error) {
	body, err := c.jsonBody(struct {
		Value   string    `json:"value"`
		Tenant  string    `json:"tenant,omitempty"`
		Note    string    `json:"note,omitempty"`
		AddedBy string    `json:"added_by,omitempty"`
		Expires time.Time `json:"expires,omitzero"`
	}{e.Value, e.Tenant, e.Note, e.AddedBy, e.Expires})
	if err != nil {
		return ListEntry{}, err
	}
	resp, err := c.do(ctx, http.MethodPost, "/api/v1/lists/"+url.PathEscape(e.List), nil, "application/json", body, http.StatusCreated)
	if err != nil {
		return ListEntry{}, err
	}
	var out ListEntry
	return out, readJSON(resp, &out)
}

// RemoveListEntry takes the entry value off tenant's list.
func (c *Client) RemoveListEntry(ctx context.Context, tenant, list, value string) error {
	q := url.Values{"value": {value}}
	if tenant != "" {
		q.Set("tenant", tenant)
	}
	resp, err := c.do(ctx, http.MethodDelete, "/api/v1/lists/"+url.PathEscape(list), q, "", nil, http.StatusNoContent)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// ImportLists uploads CSV from r (POST /api/v1/lists.csv). When the
// import stops part way, the result says what was stored before.
func (c *Client) ImportLists(ctx context.Context, r io.Reader, o ListImport) (ListImported, error) {
	q := url.Values{}
	for k, v := range map[string]string{"list": o.List, "tenant": o.Tenant, "by": o.AddedBy} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var res ListImported
	return res, c.upload(ctx, "/api/v1/lists.csv", q, "text/csv", r, &res)
}

// ExportLists writes the stored entries as CSV to w (GET
// /api/v1/lists.csv). An export the server cut short is an error, after
// what arrived was written.
func (c *Client) ExportLists(ctx context.Context, w io.Writer, o ListExport) (ListExported, error) {
	q := url.Values{}
	if o.Tenant != "" {
		q.Set("tenant", o.Tenant)
	}
	if o.All {
		q.Set("all", "true")
	}
	if o.Layout != "" {
		q.Set("format", o.Layout)
	}
	resp, err := c.do(ctx, http.MethodGet, "/api/v1/lists.csv", q, "", nil, http.StatusOK)
	if err != nil {
		return ListExported{}, err
	}
	err = c.stream(resp, w)
	var res ListExported
	res.Written, _ = strconv.Atoi(resp.Trailer.Get(trailerWritten))
	res.Skipped, _ = strconv.Atoi(resp.Trailer.Get(trailerSkipped))
	return res, err
}

// stream copies a streamed answer to w and reports the error its trailer
// names, or its end missing.
func (c *Client) stream(resp *http.Response, w io.Writer) error {
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("admin API at %s: export cut short: %w", c.addr, err)
	}
	if msg := resp.Trailer.Get(trailerError); msg != "" {
		return &APIError{Status: resp.StatusCode, Message: msg}
	}
	return nil
}

// Report records an agent's report (POST /api/v1/feedback).
func (c *Client) Report(ctx context.Context, r FeedbackReport) error {
	body, err := c.jsonBody(struct {
		Tenant string `json:"tenant,omitempty"`
		Caller string `json:"caller"`
		Spam   bool   `json:"spam"`
		Agent  string `json:"agent,omitempty"`
		Note   string `json:"note,omitempty"`
	}{r.Tenant, r.Caller, r.Spam, r.Agent, r.Note})
	if err != nil {
		return err
	}
	resp, err := c.do(ctx, http.MethodPost, "/api/v1/feedback", nil, "application/json", body, http.StatusAccepted)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// WithdrawReport withdraws the report on caller for tenant (DELETE
// /api/v1/feedback).
func (c *Client) WithdrawReport(ctx context.Context, tenant, caller string) error {
	q := url.Values{"caller": {caller}}
	if tenant != "" {
		q.Set("tenant", tenant)
	}
	resp, err := c.do(ctx, http.MethodDelete, "/api/v1/feedback", q, "", nil, http.StatusNoContent)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// ExportReports writes tenant's reports as csv or jsonl to w (GET
// /api/v1/feedback).
func (c *Client) ExportReports(ctx context.Context, w io.Writer, tenant, format string) error {
	q := url.Values{}
	if tenant != "" {
		q.Set("tenant", tenant)
	}
	if format != "" {
		q.Set("format", format)
	}
	resp, err := c.do(ctx, http.MethodGet, "/api/v1/feedback", q, "", nil, http.StatusOK)
	if err != nil {
		return err
	}
	return c.stream(resp, w)
}

// ImportFeed uploads a feed file from r (POST /api/v1/feed); contentType
// is text/csv for the FTC layout, application/json for JSON.
func (c *Client) ImportFeed(ctx context.Context, r io.Reader, o FeedImport) (FeedLoaded, error) {
	ct := "application/json"
	if o.Format == "ftc" || o.Format == "csv" {
		ct = "text/csv"
	}
	var res FeedLoaded
	return res, c.upload(ctx, "/api/v1/feed", feedValues(o), ct, r, &res)
}

// PullFeed has the server pull feed.url now (POST /api/v1/feed/pull).
func (c *Client) PullFeed(ctx context.Context, o FeedImport) (FeedLoaded, error) {
	var res FeedLoaded
	return res, c.upload(ctx, "/api/v1/feed/pull", feedValues(o), "", nil, &res)
}

func feedValues(o FeedImport) url.Values {
	q := url.Values{}
	if o.Format != "" {
		q.Set("format", o.Format)
	}
	if o.Tenant != "" {
		q.Set("tenant", o.Tenant)
	}
	return q
}

// upload posts body and decodes the JSON answer into v, a failure's too
// (it says what was stored before the import stopped).
func (c *Client) upload(ctx context.Context, path string, q url.Values, contentType string, body io.Reader, v any) error {
	if body == nil {
		body = http.NoBody
	} else {
		// Hide any Len or WriterTo, so the body streams as it is read.
		body = struct{ io.Reader }{body}
	}
	resp, err := c.send(ctx, http.MethodPost, path, q, contentType, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("admin API at %s: read answer: %w", c.addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		_ = json.Unmarshal(raw, v)
		return apiError(resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("admin API at %s: read answer: %w", c.addr, err)
	}
	return nil
}
