package feedback

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
)

// SourceName is the name the source is reported under in the chain.
const SourceName = "feedback"

// Kind is what the agent said.
type Kind string

// The kinds of report.
const (
	Spam    Kind = "spam"
	NotSpam Kind = "not-spam"
)

// ParseKind reads a kind as typed on the command line.
func ParseKind(s string) (Kind, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "spam":
		return Spam, nil
	case "not-spam", "notspam", "not_spam", "ok", "ham":
		return NotSpam, nil
	}
	return "", fmt.Errorf("report kind %q: want spam or not-spam", s)
}

// MaxNote is the longest note kept, in bytes; longer notes are cut.
const MaxNote = 500

// Report is one agent report about a caller.
type Report struct {
	// Tenant is the tenant the report applies to, "" for the default.
	Tenant string `json:"tenant,omitempty"`
	// Number is the caller in E.164.
	Number string `json:"number"`
	Kind   Kind   `json:"kind"`
	// Note is free text from the agent, at most MaxNote bytes.
	Note string `json:"note,omitempty"`
	// Agent names who reported, when known.
	Agent string `json:"agent,omitempty"`
	// DecisionID is the decision (CALLSCREEN_ID) the report is about, when
	// the agent reported from a call.
	DecisionID string `json:"decision_id,omitempty"`
	// Time is when the report was made.
	Time time.Time `json:"time"`
}

// Errors of Report.Validate and the stores.
var (
	// ErrInvalid reports a report that cannot be stored.
	ErrInvalid = errors.New("invalid report")
)

// Validate checks the report and trims the note to MaxNote.
func (r *Report) Validate() error {
	if r.Kind != Spam && r.Kind != NotSpam {
		return fmt.Errorf("report kind %q: want spam or not-spam: %w", r.Kind, ErrInvalid)
	}
	n := number.Parse(r.Number, "")
	if n.E164 == "" || n.E164 != r.Number {
		return fmt.Errorf("report number %q: want an E.164 number such as +12125551234: %w", r.Number, ErrInvalid)
	}
	if r.Time.IsZero() {
		return fmt.Errorf("report time missing: %w", ErrInvalid)
	}
	r.Note = strings.ToValidUTF8(strings.TrimSpace(r.Note), "?")
	if len(r.Note) > MaxNote {
		cut := MaxNote
		for cut > 0 && !utf8.RuneStart(r.Note[cut]) {
			cut--
		}
		r.Note = r.Note[:cut]
	}
	return nil
}

// Store keeps reports, at most one per tenant and number (the latest).
//
// Outcomes: Get returns ok false and a nil error when there is no report;
// any error means the store could not be read or written.
type Store interface {
	// Put stores r, replacing any report for the same tenant and number.
	Put(ctx context.Context, r Report) error
	// Get returns the report for number under tenant.
	Get(ctx context.Context, tenant, number string) (r Report, ok bool, err error)
	// Delete withdraws the report for number under tenant; deleting what
	// does not exist is not an error.
	Delete(ctx context.Context, tenant, number string) error
	// List returns every report of tenant, oldest first.
	List(ctx context.Context, tenant string) ([]Report, error)
}

// Open returns the store the configuration implies: Redis when rdb is not
// nil (redis.addrs set), else the file feedback.jsonl under dataDir, else
// (dataDir "") memory only.
func Open(rdb redis.UniversalClient, dataDir string) (Store, error) {
	switch {
	case rdb != nil:
		return NewRedisStore(rdb), nil
	case dataDir != "":
		return OpenFile(FilePath(dataDir))
	}
	return NewMemoryStore(), nil
}

// DefaultTimeout bounds a lookup on the call path.
const DefaultTimeout = 50 * time.Millisecond

// Source is the reputation source agents' reports feed.
type Source struct {
	store   Store
	timeout time.Duration
	now     func() time.Time
	m       *Metrics
	// local: the store answers from memory and ignores ctx (see Local).
	local bool
}

var _ reputation.Local = (*Source)(nil)

// SourceOptions configure NewSource; zero values select the defaults.
type SourceOptions struct {
	// Timeout bounds one store read (default 50ms).
	Timeout time.Duration
	// Metrics; nil uses unregistered ones. A FileStore counts its bad
	// lines in them too.
	Metrics *Metrics
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// NewSource returns the source over store.
func NewSource(store Store, o SourceOptions) *Source {
	s := &Source{store: store, timeout: o.Timeout, now: o.Now, m: o.Metrics}
	switch store.(type) {
	case *MemoryStore, *FileStore:
		s.local = true
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.m == nil {
		s.m = NewMetrics(nil)
	} else if fs, ok := store.(*FileStore); ok {
		fs.SetMetrics(s.m) // the file's bad lines are counted with the source's metrics
	}
	return s
}

// Lookup returns the agents' word on q.Caller: caller.reported_spam with
// tier SPAM, caller.reported_ok, or nothing. The verdict is never Final. A
// store that cannot be read is an error (the chain fails open).
func (s *Source) Lookup(ctx context.Context, q reputation.Query) (reputation.Verdict, error) {
	key := q.Caller.E164
	if key == "" {
		return reputation.Verdict{}, nil
	}
	var (
		r   Report
		ok  bool
		err error
	)
	if s.local {
		r, ok, err = s.store.Get(ctx, q.Tenant, key) // it ignores ctx: no timer needed
	} else {
		tctx, cancel := context.WithTimeout(ctx, s.timeout)
		r, ok, err = s.store.Get(tctx, q.Tenant, key)
		cancel()
	}
	if err != nil {
		s.m.Lookups.WithLabelValues("error").Inc()
		return reputation.Verdict{}, fmt.Errorf("feedback: %w", err)
	}
	if !ok {
		s.m.Lookups.WithLabelValues("none").Inc()
		return reputation.Verdict{}, nil
	}
	s.m.Lookups.WithLabelValues(string(r.Kind)).Inc()
	return Verdict(r, s.now()), nil
}

// Local reports whether the store answers from this process's memory: a
// MemoryStore, or a FileStore, which also looks at its file (one stat in
// data_dir) at most once a second, I/O of the kind the decision log does
// on every call's goroutine. A Redis store is not local.
func (s *Source) Local() bool { return s.local }

// Verdict is the verdict a report gives.
func Verdict(r Report, now time.Time) reputation.Verdict {
	v := reputation.Verdict{
		Source: SourceName,
		Age:    max(now.Sub(r.Time), 0),
		Raw:    map[string]string{"kind": string(r.Kind), "time": r.Time.UTC().Format(time.RFC3339)},
	}
	if r.Note != "" {
		v.Raw["note"] = r.Note
	}
	if r.Agent != "" {
		v.Raw["agent"] = r.Agent
	}
	if r.DecisionID != "" {
		v.Raw["decision_id"] = r.DecisionID
	}
	if r.Kind == Spam {
		v.Tier = policy.TierSpam
		v.Reasons = []policy.Reason{policy.CallerReportedSpam}
	} else {
		v.Reasons = []policy.Reason{policy.CallerReportedOK}
	}
	return v
}
