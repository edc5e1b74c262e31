package feed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// PullOptions say where and how to fetch the daily report.
type PullOptions struct {
	// URL of the report; Headers are sent with the request (for example
	// Authorization). Header values are secrets: never logged.
	URL     string
	Headers map[string]string
	// Format of the report; "" is JSON.
	Format Format
	// Tenant the reports are for; "" is the shared feed.
	Tenant string
	// Timeout bounds the whole download and import; 0 is 5 minutes.
	Timeout time.Duration
	// MaxBytes bounds the body; 0 is 1 GiB.
	MaxBytes int64
	// Day (YYYY-MM-DD), when set, names the scheduled pull: with a shared
	// store, a day another instance already pulled is not pulled again
	// (ErrAlreadyPulled), so reports are never counted twice.
	Day string
	// IfEmpty pulls only when the feed holds nothing for Tenant, checked
	// under the shared store's lock (ErrAlreadyPulled otherwise).
	IfEmpty bool
	// Client is the HTTP client; nil is one with sane transport timeouts.
	Client *http.Client
}

// ErrAlreadyPulled reports that another instance did the day's pull.
var ErrAlreadyPulled = errors.New("feed already pulled today")

// ErrHTTP reports a pull the server answered with something other than 200.
var ErrHTTP = errors.New("feed server error")

var defaultClient = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	TLSHandshakeTimeout:   10 * time.Second,
	ResponseHeaderTimeout: 60 * time.Second,
	IdleConnTimeout:       90 * time.Second,
}}

// sizedReader is a body whose size the server announced, for sizeHint.
type sizedReader struct {
	io.Reader
	n int
}

func (s *sizedReader) Len() int { return s.n }

// errTooLarge reports a body over MaxBytes.
var errTooLarge = errors.New("feed body larger than the limit")

type limitedReader struct {
	r    io.Reader
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// Pull downloads the report and imports it. Anything short of a complete,
// readable 200 response (a server error, a timeout, a body cut off half
// way) changes nothing: the data from before stays. Bad rows are counted
// and skipped as in Import.
func (f *Feed) Pull(ctx context.Context, o PullOptions) (Stats, error) {
	if o.URL == "" {
		return Stats{}, errors.New("feed: pull: no feed url configured")
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 1 << 30
	}
	client := o.Client
	if client == nil {
		client = defaultClient
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	locker, shared := f.store.(Locker)
	if shared {
		// Hold the lock from before the download, so two instances never
		// import the same day's report.
		unlock, err := locker.Lock(ctx, max(f.opts.LockTTL, o.Timeout))
		if err != nil {
			if errors.Is(err, ErrLocked) {
				f.metrics.Pulls.WithLabelValues("skipped").Inc()
			} else {
				f.metrics.Pulls.WithLabelValues("error").Inc()
			}
			return Stats{}, fmt.Errorf("feed: pull: %w", err)
		}
		defer unlock()
		if o.Day != "" {
			done, err := locker.Pulled(ctx, o.Day)
			if err != nil {
				f.metrics.Pulls.WithLabelValues("error").Inc()
				return Stats{}, fmt.Errorf("feed: pull: %w", err)
			}
			if done {
				f.metrics.Pulls.WithLabelValues("skipped").Inc()
				return Stats{}, fmt.Errorf("feed: pull %s: %w", o.Day, ErrAlreadyPulled)
			}
		}
	}
	if o.IfEmpty {
		if err := f.Refresh(ctx); err != nil {
			f.metrics.Pulls.WithLabelValues("error").Inc()
			return Stats{}, fmt.Errorf("feed: pull: %w", err)
		}
		if f.Len(o.Tenant) > 0 {
			f.metrics.Pulls.WithLabelValues("skipped").Inc()
			return Stats{}, fmt.Errorf("feed: pull at start: %w", ErrAlreadyPulled)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.URL, nil)
	if err != nil {
		return Stats{}, fmt.Errorf("feed: pull: %w", err)
	}
	for k, v := range o.Headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		f.metrics.Pulls.WithLabelValues("error").Inc()
		return Stats{}, fmt.Errorf("feed: pull: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		f.metrics.Pulls.WithLabelValues("error").Inc()
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return Stats{}, fmt.Errorf("feed: pull: %w: %s", ErrHTTP, resp.Status)
	}
	body := io.Reader(resp.Body)
	if resp.ContentLength > 0 {
		body = &sizedReader{Reader: body, n: int(min(resp.ContentLength, o.MaxBytes))}
	}
	st, err := f.doImport(ctx, &limitedReader{r: body, left: o.MaxBytes}, ImportOptions{Format: o.Format, Tenant: o.Tenant}, false)
	if err != nil {
		f.metrics.Pulls.WithLabelValues("error").Inc()
		return st, fmt.Errorf("feed: pull: %w", err)
	}
	if shared && o.Day != "" {
		if err := locker.MarkPulled(ctx, o.Day); err != nil {
			f.log.Warn("feed: pull done but not marked; another instance may pull the same report", "err", err)
		}
	}
	f.metrics.Pulls.WithLabelValues("ok").Inc()
	f.metrics.LastPull.Set(float64(f.now().Unix()))
	return st, nil
}

// Scheduler pulls the report every day at a fixed time (UTC), retrying
// with backoff when a pull fails, until the next day's run.
type Scheduler struct {
	Feed *Feed
	Pull PullOptions
	// At is the time of day (UTC) of the daily pull, from midnight
	// (DefaultAt is 13:30).
	At time.Duration
	// FirstRetry is the wait after the first failure, doubling up to
	// MaxRetry; zeros are 1 minute and 1 hour.
	FirstRetry, MaxRetry time.Duration
	// PullAtStart pulls once at start when the feed is empty.
	PullAtStart bool
	// Now and After are the clock; nil are time.Now and time.After.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
	// Logger, nil discards.
	Logger *slog.Logger
}

// DefaultAt is the default time of the daily pull: 13:30 UTC.
const DefaultAt = 13*time.Hour + 30*time.Minute

// next returns the first daily run after t.
func (s *Scheduler) next(t time.Time) time.Time {
	t = t.UTC()
	midnight := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	n := midnight.Add(s.At)
	if !n.After(t) {
		n = midnight.AddDate(0, 0, 1).Add(s.At)
	}
	return n
}

// Run pulls daily until ctx ends; it returns ctx.Err(). A failed pull is
// logged and retried with backoff; a day another instance already pulled
// (ErrAlreadyPulled) counts as done.
func (s *Scheduler) Run(ctx context.Context) error {
	if s.At < 0 || s.At >= 24*time.Hour {
		return fmt.Errorf("feed: scheduler: time of day %s: want 0 to 24h", s.At)
	}
	if s.FirstRetry <= 0 {
		s.FirstRetry = time.Minute
	}
	if s.MaxRetry <= 0 {
		s.MaxRetry = time.Hour
	}
	now, after, log := s.Now, s.After, s.Logger
	if now == nil {
		now = time.Now
	}
	if after == nil {
		after = time.After
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	wait := func(d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-after(d):
			return true
		}
	}
	// pull tries until it succeeds or the next daily run is due. An
	// instance that finds another pulling (ErrLocked) retries like after a
	// failure, and then finds the day done.
	pull := func(day string, ifEmpty bool, deadline time.Time) {
		backoff := s.FirstRetry
		o := s.Pull
		o.Day, o.IfEmpty = day, ifEmpty
		for attempt := 1; ; attempt++ {
			st, err := s.Feed.Pull(ctx, o)
			switch {
			case err == nil:
				log.Info("feed: pulled", "rows", st.Rows, "accepted", st.Accepted, "rejected", st.Rejected, "numbers", st.Numbers, "took", st.Elapsed.Round(time.Millisecond))
				return
			case errors.Is(err, ErrAlreadyPulled):
				log.Info("feed: another instance already pulled today's report; its import is loaded from the store")
				return
			case ctx.Err() != nil:
				return
			}
			if !now().Add(backoff).Before(deadline) {
				log.Error("feed: pull failed; giving up until the next daily run, keeping the data from before", "attempts", attempt, "err", err)
				return
			}
			log.Warn("feed: pull failed; keeping the data from before and retrying", "attempt", attempt, "in", backoff, "err", err)
			if !wait(backoff) {
				return
			}
			backoff = min(2*backoff, s.MaxRetry)
		}
	}
	if s.PullAtStart && s.Feed.Len(s.Pull.Tenant) == 0 {
		pull("", true, s.next(now()))
	}
	for {
		due := s.next(now())
		if !wait(due.Sub(now())) {
			return ctx.Err()
		}
		pull(due.Format(time.DateOnly), false, s.next(due))
	}
}
