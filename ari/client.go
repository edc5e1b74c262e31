package ari

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
	"strings"
	"sync/atomic"
	"time"
)

// Defaults of the ClientConfig's zero fields.
const (
	DefaultTimeout  = 5 * time.Second
	DefaultMaxConns = 32
	// maxBody bounds what is read of a REST answer.
	maxBody = 1 << 20
	// maxRequestBody is Asterisk's limit on a request body (main/http.c).
	maxRequestBody = 40960
)

// ClientConfig is one Asterisk server, as the configuration lists it.
type ClientConfig struct {
	// URL is Asterisk's HTTP server: "http://pbx.example.com:8088", or
	// with http.conf's prefix "http://pbx:8088/asterisk". "/ari" is
	// appended unless the path already ends with it. It must carry no
	// user name, password or api_key.
	URL string
	// Username and Password are the ari.conf user, sent as HTTP Basic
	// auth on every request.
	Username, Password string
	// Timeout bounds every REST call and the WebSocket handshake; 0 is
	// DefaultTimeout.
	Timeout time.Duration
	// MaxConns bounds the HTTP connections to the server (Asterisk's
	// http.conf sessionlimit is 100 by default); 0 is DefaultMaxConns.
	MaxConns int
	// HTTPClient replaces the client's own; its Transport is used as is.
	HTTPClient *http.Client
	// Metrics may be nil.
	Metrics *Metrics
}

// Client talks to one Asterisk server's ARI. It is safe for concurrent use.
type Client struct {
	prefix  string // scheme://host[:port]/[prefix/]ari
	server  string // host:port, for logs and metrics
	user    string
	pass    string
	timeout time.Duration
	http    *http.Client
	metrics *Metrics
	// singles is set once the server answered 404/405 to the plural
	// variables call (Asterisk before 22.10): set one by one from then on.
	singles atomic.Bool
	// tunnel, when set, carries every call instead of HTTP: the websocket
	// Asterisk opened to callscreen (REST over WebSocket, wsrest.go).
	tunnel tunnel
}

// NewClient checks cfg and returns a Client. Errors name the bad field but
// never repeat a password.
func NewClient(cfg ClientConfig) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || cfg.URL == "" {
		return nil, fmt.Errorf("ari client: url: want http(s)://host[:port][/prefix]")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("ari client: url scheme %q: want http or https", u.Scheme)
	case u.Host == "":
		return nil, fmt.Errorf("ari client: url: no host")
	case u.User != nil:
		return nil, fmt.Errorf("ari client: url %s: credentials in the URL are refused; set username and password", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("ari client: url: no query or fragment allowed (never api_key: set username and password)")
	case cfg.Username == "" || cfg.Password == "":
		return nil, fmt.Errorf("ari client: %s: username and password are required", u.Host)
	case strings.ContainsAny(cfg.Username, ":\r\n"):
		return nil, fmt.Errorf("ari client: %s: username %q: must not contain ':' or line breaks", u.Host, cfg.Username)
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("ari client: timeout %s: must not be negative", cfg.Timeout)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if !strings.HasSuffix(u.Path, "/ari") {
		u.Path += "/ari"
	}
	u.RawPath = ""
	c := &Client{
		prefix:  u.Scheme + "://" + u.Host + u.EscapedPath(),
		server:  u.Host,
		user:    cfg.Username,
		pass:    cfg.Password,
		timeout: cfg.Timeout,
		http:    cfg.HTTPClient,
		metrics: cfg.Metrics,
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.http == nil {
		conns := cfg.MaxConns
		if conns <= 0 {
			conns = DefaultMaxConns
		}
		c.http = &http.Client{
			Transport: &http.Transport{
				Proxy:                 http.ProxyFromEnvironment,
				DialContext:           (&net.Dialer{Timeout: c.timeout, KeepAlive: 30 * time.Second}).DialContext,
				MaxConnsPerHost:       conns,
				MaxIdleConnsPerHost:   conns,
				IdleConnTimeout:       90 * time.Second,
				TLSHandshakeTimeout:   c.timeout,
				ResponseHeaderTimeout: c.timeout,
			},
			// Redirects would resend credentials elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return c, nil
}

// Server returns the server's host:port, for logs and metrics.
func (c *Client) Server() string { return c.server }

// Var is one channel variable.
type Var struct {
	Name, Value string
}

// endpoint joins escaped segments (at least one) and a query onto the
// base URL.
func (c *Client) endpoint(query url.Values, segments ...string) string {
	return c.prefix + "/" + relativeURI(query, segments...)
}

// requestBody is body as the JSON a request carries, nil for no body.
func requestBody(op string, body any) ([]byte, error) {
	if body == nil {
		return nil, nil
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if len(b) > maxRequestBody {
		return nil, fmt.Errorf("%s: %w: body of %d bytes exceeds Asterisk's %d", op, ErrBadArgument, len(b), maxRequestBody)
	}
	return b, nil
}

// do runs one REST call within the client's timeout. body, when not nil, is
// sent as JSON; out, when not nil, receives the JSON answer. A status of
// 300 or more is an *Error.
func (c *Client) do(ctx context.Context, op, method string, query url.Values, body, out any, segments ...string) error {
	if c.tunnel != nil {
		return c.doTunnel(ctx, op, method, query, body, out, segments...)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	b, err := requestBody(op, body)
	if err != nil {
		return err
	}
	var rd io.Reader
	if b != nil {
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint(query, segments...), rd)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	req.SetBasicAuth(c.user, c.pass)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		// Asterisk reads a JSON body only with exactly this type.
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.metrics.request(method, 0, time.Since(start))
		return fmt.Errorf("%s: %w", op, scrub(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	c.metrics.request(method, resp.StatusCode, time.Since(start))
	if err != nil {
		return fmt.Errorf("%s: reading answer: %w", op, scrub(err))
	}
	return answer(op, resp.StatusCode, data, out)
}

// answer is do's result for a response's status and body: an *Error for
// a status of 300 or more, else the body decoded into out (when not nil).
func answer(op string, status int, data []byte, out any) error {
	if status >= 300 {
		return fmt.Errorf("%s: %w", op, errorFrom(status, data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s: decoding answer: %w", op, err)
		}
	}
	return nil
}

// errorFrom builds the *Error of a failed call from Asterisk's
// {"message": ...} body.
func errorFrom(status int, body []byte) *Error {
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &m) != nil || m.Message == "" {
		m.Message = http.StatusText(status)
	}
	return &Error{Status: status, Message: m.Message}
}

// scrub drops the URL from a *url.Error: it holds nothing secret, but the
// operation already names what failed and the URL only adds noise.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func checkName(what, s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty %s", ErrBadArgument, what)
	}
	if len(s) > 256 {
		return fmt.Errorf("%w: %s of %d bytes", ErrBadArgument, what, len(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return fmt.Errorf("%w: %s %q contains a control character", ErrBadArgument, what, s)
		}
	}
	return nil
}

func checkValue(s string) error {
	if strings.ContainsAny(s, "\x00\r\n") {
		return fmt.Errorf("%w: value contains NUL or a line break", ErrBadArgument)
	}
	return nil
}

// Answer answers the channel (POST /channels/{id}/answer). Asterisk queues
// it behind a running playback.
func (c *Client) Answer(ctx context.Context, channelID string) error {
	op := "ari answer channel " + channelID
	if err := checkName("channel id", channelID); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return c.do(ctx, op, http.MethodPost, nil, nil, nil, "channels", channelID, "answer")
}

// Play starts one playback of media (such as "sound:callscreen/intro",
// "digits:472") on the channel (POST /channels/{id}/play/{playbackId}).
// The media list travels as a JSON array, so several URIs make one
// playback. It returns when Asterisk accepted the playback (201), not when
// it ends: watch PlaybackFinished. An empty playbackID lets Asterisk choose
// one.
func (c *Client) Play(ctx context.Context, channelID, playbackID string, media []string) (Playback, error) {
	op := "ari play on channel " + channelID
	if err := checkName("channel id", channelID); err != nil {
		return Playback{}, fmt.Errorf("%s: %w", op, err)
	}
	if len(media) == 0 {
		return Playback{}, fmt.Errorf("%s: %w: no media", op, ErrBadArgument)
	}
	for _, m := range media {
		if err := checkName("media", m); err != nil {
			return Playback{}, fmt.Errorf("%s: %w", op, err)
		}
		if !strings.Contains(m, ":") {
			return Playback{}, fmt.Errorf("%s: %w: media %q has no scheme (sound:, digits:, ...)", op, ErrBadArgument, m)
		}
	}
	segs := []string{"channels", channelID, "play"}
	if playbackID != "" {
		if err := checkName("playback id", playbackID); err != nil {
			return Playback{}, fmt.Errorf("%s: %w", op, err)
		}
		segs = append(segs, playbackID)
	}
	var pb Playback
	err := c.do(ctx, op, http.MethodPost, nil, map[string]any{"media": media}, &pb, segs...)
	return pb, err
}

// StopPlayback stops a playback (DELETE /playbacks/{id}). A queued playback
// is cancelled. Stopping a digits:, number: or characters: playback while
// it plays fails with 500 "Could not stop playback"; one that has finished
// is ErrNotFound.
func (c *Client) StopPlayback(ctx context.Context, playbackID string) error {
	op := "ari stop playback " + playbackID
	if err := checkName("playback id", playbackID); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return c.do(ctx, op, http.MethodDelete, nil, nil, nil, "playbacks", playbackID)
}

// Playback returns a playback's state (GET /playbacks/{id}); ErrNotFound
// once it has finished.
func (c *Client) Playback(ctx context.Context, playbackID string) (Playback, error) {
	op := "ari get playback " + playbackID
	if err := checkName("playback id", playbackID); err != nil {
		return Playback{}, fmt.Errorf("%s: %w", op, err)
	}
	var pb Playback
	err := c.do(ctx, op, http.MethodGet, nil, nil, &pb, "playbacks", playbackID)
	return pb, err
}

// Variable reads a channel variable or dialplan function
// (GET /channels/{id}/variable). An unset variable is a 404 *Error with
// message "Provided variable was not found"; a function that cannot be
// read is a 500 "Unable to read provided function".
func (c *Client) Variable(ctx context.Context, channelID, name string) (string, error) {
	op := "ari get variable " + name + " of channel " + channelID
	if err := checkName("channel id", channelID); err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	if err := checkName("variable name", name); err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	var v struct {
		Value string `json:"value"`
	}
	err := c.do(ctx, op, http.MethodGet, url.Values{"variable": {name}}, nil, &v, "channels", channelID, "variable")
	return v.Value, err
}

// SetVariable sets one channel variable (POST /channels/{id}/variable);
// a name ending in ")" writes a function. Asterisk queues it behind a
// running playback.
func (c *Client) SetVariable(ctx context.Context, channelID, name, value string) error {
	op := "ari set variable " + name + " on channel " + channelID
	if err := checkName("channel id", channelID); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := checkName("variable name", name); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := checkValue(value); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return c.do(ctx, op, http.MethodPost, nil, map[string]string{"variable": name, "value": value}, nil, "channels", channelID, "variable")
}

// SetVariables sets several channel variables in one call, the JSON form
// Asterisk 22.10 added (POST /channels/{id}/variables). A server that
// answers 404 (other than "Channel not found") or 405 to it is an older
// Asterisk: the variables are then set one by one, in order, and so on
// every later call of this client.
func (c *Client) SetVariables(ctx context.Context, channelID string, vars []Var) error {
	op := "ari set variables on channel " + channelID
	if err := checkName("channel id", channelID); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if len(vars) == 0 {
		return nil
	}
	for _, v := range vars {
		if err := checkName("variable name", v.Name); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		if err := checkValue(v.Value); err != nil {
			return fmt.Errorf("%s: variable %s: %w", op, v.Name, err)
		}
	}
	if !c.singles.Load() {
		body := struct {
			Variables orderedVars `json:"variables"`
		}{orderedVars(vars)}
		err := c.do(ctx, op, http.MethodPost, nil, body, nil, "channels", channelID, "variables")
		status, _ := statusOf(err)
		legacy := status == http.StatusMethodNotAllowed || (status == http.StatusNotFound && !errors.Is(err, ErrHangup))
		if !legacy {
			return err
		}
		c.singles.Store(true)
	}
	for _, v := range vars {
		if err := c.SetVariable(ctx, channelID, v.Name, v.Value); err != nil {
			return err
		}
	}
	return nil
}

// orderedVars marshals as a JSON object that keeps the list's order (the
// last of two equal names wins, as it would set one by one).
type orderedVars []Var

func (vs orderedVars) MarshalJSON() ([]byte, error) {
	last := make(map[string]int, len(vs))
	for i, v := range vs {
		last[v.Name] = i
	}
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	for i, v := range vs {
		if last[v.Name] != i {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		k, err := json.Marshal(v.Name)
		if err != nil {
			return nil, err
		}
		val, err := json.Marshal(v.Value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(val)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Continue sends the channel back to the dialplan at the priority after
// Stasis() (POST /channels/{id}/continue). It takes effect after a running
// playback ends; StasisEnd follows.
func (c *Client) Continue(ctx context.Context, channelID string) error {
	op := "ari continue channel " + channelID
	if err := checkName("channel id", channelID); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return c.do(ctx, op, http.MethodPost, nil, nil, nil, "channels", channelID, "continue")
}

// Hangup hangs the channel up (DELETE /channels/{id}?reason=...); reason
// is one of Asterisk's names (normal, busy, rejected, ...), "" for normal.
func (c *Client) Hangup(ctx context.Context, channelID, reason string) error {
	op := "ari hang up channel " + channelID
	if err := checkName("channel id", channelID); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if reason == "" {
		reason = "normal"
	}
	return c.do(ctx, op, http.MethodDelete, url.Values{"reason": {reason}}, nil, nil, "channels", channelID)
}

// Channels lists every channel Asterisk has (GET /channels).
func (c *Client) Channels(ctx context.Context) ([]Channel, error) {
	var chans []Channel
	err := c.do(ctx, "ari list channels", http.MethodGet, nil, nil, &chans, "channels")
	return chans, err
}
