package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/callscreen/callscreen/decision"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultListen is where the admin server listens unless told otherwise:
// loopback only.
const DefaultListen = "127.0.0.1:8089"

// DefaultMaxBody caps request bodies.
const DefaultMaxBody = 64 << 10

// Errors. Implementations of the interfaces below wrap ErrNotFound and
// ErrInvalid so the API can answer 404 and 400; any other error is a 500
// (or 503 from Ready).
var (
	// ErrTokenRequired: New refuses a non-loopback listen address
	// without a token.
	ErrTokenRequired = errors.New("admin.token is required when admin.listen is not a loopback address")
	// ErrNotFound: the list entry (or other object) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the input is not acceptable; the message says why.
	ErrInvalid = errors.New("invalid input")
	// ErrUnavailable: a feature's backend is not configured.
	ErrUnavailable = errors.New("not available")
	// ErrConflict: the change cannot be made as asked (a list entry that
	// comes from a list file); the message says what to do instead. The
	// API answers 409.
	ErrConflict = errors.New("conflict")
)

// Checker explains the decision callscreen would make for a call, as
// `callscreen check` does. *screen.Flow implements it.
//
// Explain outcomes: (result, nil) with the decision, reasons and every
// source's report; (result, ctx.Err()) when ctx ended first, result holding
// what was known; (nil, error) when no explanation could be made.
type Checker interface {
	Explain(ctx context.Context, info decision.CallInfo) (*decision.Result, error)
}

// ListEntry is one must-pass or must-block list entry as the API shows it.
type ListEntry struct {
	// List is "allow" or "block".
	List string `json:"list"`
	// Value is the entry in list-file syntax: "+12125551234", "+1900*",
	// "+12125550100..+12125550199", "name:*WARRANTY*".
	Value   string    `json:"value"`
	Tenant  string    `json:"tenant,omitempty"`
	Note    string    `json:"note,omitempty"`
	AddedBy string    `json:"added_by,omitempty"`
	Added   time.Time `json:"added,omitzero"`
	Expires time.Time `json:"expires,omitzero"`
}

// ListStore reads and changes the lists the screening flow consults.
//
// Outcomes: Entries returns the entries of one list for a tenant ("" the
// default), none being an empty slice. Add stores the entry and returns it
// normalised (E.164), an error wrapping ErrInvalid for a value the lists
// cannot hold. Remove deletes the entry with that value, an error wrapping
// ErrNotFound when there is none, ErrConflict when the entry comes from a
// list file (the message names the file and line). Any other error: the
// store failed.
type ListStore interface {
	Entries(ctx context.Context, tenant, list string) ([]ListEntry, error)
	Add(ctx context.Context, e ListEntry) (ListEntry, error)
	Remove(ctx context.Context, tenant, list, value string) error
}

// FeedbackReport is an agent's verdict on a caller.
type FeedbackReport struct {
	Tenant     string    `json:"tenant,omitempty"`
	Caller     string    `json:"caller"`
	Spam       bool      `json:"spam"`
	DecisionID string    `json:"decision_id,omitempty"`
	Agent      string    `json:"agent,omitempty"`
	Note       string    `json:"note,omitempty"`
	Time       time.Time `json:"time"`
}

// Feedback takes agents' reports of spam and not spam.
//
// Report outcomes: nil when stored; an error wrapping ErrInvalid for a
// report it cannot use; any other error: the store failed.
type Feedback interface {
	Report(ctx context.Context, r FeedbackReport) error
}

// Query selects recent decisions. Empty fields do not filter.
type Query struct {
	// Caller matches decisions whose caller contains these digits.
	Caller string
	// Result, Reason, Profile and Tenant match exactly.
	Result, Reason, Profile, Tenant string
	// From and To bound the decision time: From <= t < To.
	From, To time.Time
	// Limit caps the answer; newest first.
	Limit int
}

// Decisions answers questions about recent decisions. *Recent implements
// it.
//
// Recent returns matching decisions newest first, at most q.Limit. Stats
// returns counts per profile of decisions made in [from, to), sorted by
// profile. Both fail only when their store does.
type Decisions interface {
	Recent(ctx context.Context, q Query) ([]*decision.Result, error)
	Stats(ctx context.Context, from, to time.Time) ([]ProfileStats, error)
}

// Stream delivers decisions as they are made. *Recent implements it.
//
// Subscribe returns a channel of events that is closed when ctx ends or
// when the subscriber falls too far behind (it is dropped rather than
// slowing anyone down). Every subscriber receives the same *Event for a
// decision, so it is encoded once however many are listening.
type Stream interface {
	Subscribe(ctx context.Context) <-chan *Event
}

// DefaultStreamMaxSubscribers is Options.StreamMaxSubscribers' default.
const DefaultStreamMaxSubscribers = 50

// Options configures the admin server.
type Options struct {
	// Listen is the address (DefaultListen when ""). A non-loopback
	// address requires Token.
	Listen string
	// Token, when set, is required as "Authorization: Bearer TOKEN" on
	// everything but /healthz and the dashboard's static files.
	Token string
	// Gatherer serves /metrics; nil serves none.
	Gatherer prometheus.Gatherer
	// Checker, Lists, Feedback, Decisions and Stream back the API; a nil
	// one makes its endpoints answer 501.
	Checker   Checker
	Lists     ListStore
	Feedback  Feedback
	Decisions Decisions
	Stream    Stream
	// Stats, when set, answers GET /api/v1/stats and /api/v1/stats/dids
	// (the dashboard's charts and DID table); without it /api/v1/stats
	// falls back to Decisions.Stats.
	Stats Statistics
	// Outbound backs GET /api/v1/outbound; nil answers 501.
	Outbound Outbound
	// Ready reports readiness for /readyz; nil is always ready.
	Ready func(ctx context.Context) error
	// Details returns notes /readyz shows under "ready", one a line
	// (what runs in a way an operator should know about); nil shows none.
	Details func(ctx context.Context) []string
	// Region reads numbers in national form; "" is "US".
	Region string
	// MaxBody caps request bodies; DefaultMaxBody when 0.
	MaxBody int64
	// StreamMaxSubscribers caps the live streams open at once; more are
	// answered 429. DefaultStreamMaxSubscribers when 0.
	StreamMaxSubscribers int

	// ListTransfer, Reports and Feed back the bulk endpoints the commands
	// use through a running server (list imports and exports, reports
	// withdrawn and exported, feed imports and pulls); a nil one makes
	// its endpoints answer 501. MaxUpload caps an import's body;
	// DefaultMaxUpload when 0.
	ListTransfer ListTransfer
	Reports      ReportStore
	Feed         FeedLoader
	MaxUpload    int64

	Logger  *slog.Logger
	Metrics *Metrics
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Server is the admin API, /metrics and the dashboard.
type Server struct {
	opts    Options
	log     *slog.Logger
	m       *Metrics
	handler http.Handler
	token   []byte
	streams atomic.Int64 // live streams open
}

// New checks opts and builds the server. It refuses (ErrTokenRequired) a
// listen address that is not loopback when no token is set.
func New(opts Options) (*Server, error) {
	if opts.Listen == "" {
		opts.Listen = DefaultListen
	}
	if err := CheckAccess(opts.Listen, opts.Token); err != nil {
		return nil, err
	}
	if opts.Region == "" {
		opts.Region = "US"
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.StreamMaxSubscribers <= 0 {
		opts.StreamMaxSubscribers = DefaultStreamMaxSubscribers
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, log: opts.Logger, m: opts.Metrics}
	if opts.Token != "" {
		s.token = tokenDigest(opts.Token)
	}
	s.handler = s.routes()
	return s, nil
}

// CheckAccess checks what New checks of a listen address and token, for a
// configuration check that builds no server: a host:port, and a token
// unless the address is loopback (ErrTokenRequired).
func CheckAccess(listen, token string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("admin: listen %q: %w", listen, err)
	}
	if token == "" && !isLoopback(host) {
		return fmt.Errorf("admin: listen %q: %w", listen, ErrTokenRequired)
	}
	return nil
}

// isLoopback reports whether host names only loopback interfaces.
// "localhost" counts; a name or an empty host (all interfaces) does not.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Handler is the whole admin HTTP surface.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves on l until ctx ends, then shuts down gracefully (live
// streams are ended).
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("admin: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		_ = hs.Close()
	}
	<-errc
	return nil
}

// ListenAndServe listens on Options.Listen and serves until ctx ends.
func (s *Server) ListenAndServe(ctx context.Context) error {
	l, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	return s.Serve(ctx, l)
}
