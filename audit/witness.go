package audit

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// Witness keeps copies of the log's checkpoints away from its host, so a
// rewrite of the log by someone who holds the host (and its signing key)
// shows: the witness's checkpoints no longer match, or the log ends before
// them. The log hands it every checkpoint once durable, in order, from one
// goroutine, retrying failures.
type Witness interface {
	// Put stores one checkpoint line (newline included). It returns nil
	// once the witness holds it, an error when it may not; the same line
	// may then come again, so storing it twice must be harmless. It
	// honours ctx.
	Put(ctx context.Context, line []byte) error
}

// FileWitness appends checkpoints to a file, meant to be on another mount
// (NFS, another disk) or synced off the host.
type FileWitness struct {
	Path string
}

var _ Witness = FileWitness{}

// Put appends line to the file and fsyncs it.
func (w FileWitness) Put(ctx context.Context, line []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.OpenFile(w.Path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("witness file: %w", err)
	}
	if _, err := f.Write(line); err != nil {
		f.Close()
		return fmt.Errorf("witness file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("witness file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("witness file: %w", err)
	}
	return nil
}

// HTTPWitness sends checkpoints to a URL. The protocol is two verbs on
// one URL: POST with a checkpoint line as the body (Content-Type
// application/x-ndjson) stores it and answers 2xx; GET answers every
// stored line, oldest first. Token, when set, goes in an
// Authorization: Bearer header.
type HTTPWitness struct {
	URL    string
	Token  string
	Client *http.Client // nil: a client with a 10s timeout
}

var _ Witness = HTTPWitness{}

// WitnessTimeout bounds one request to a witness.
const WitnessTimeout = 10 * time.Second

func (w HTTPWitness) client() *http.Client {
	if w.Client != nil {
		return w.Client
	}
	return &http.Client{Timeout: WitnessTimeout}
}

// Put POSTs line to the URL.
func (w HTTPWitness) Put(ctx context.Context, line []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(line))
	if err != nil {
		return fmt.Errorf("witness: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if w.Token != "" {
		req.Header.Set("Authorization", "Bearer "+w.Token)
	}
	resp, err := w.client().Do(req)
	if err != nil {
		return fmt.Errorf("witness: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("witness: %s answered %s", w.URL, resp.Status)
	}
	return nil
}

// maxWitnessBody bounds what ReadWitness reads from a URL.
const maxWitnessBody = 256 << 20

// ReadWitness reads the checkpoints a witness holds: src is a file of
// checkpoint lines (a FileWitness's) or an http(s) URL answering GET with
// them (an HTTPWitness's; token, when set, is sent as a bearer token).
// Blank lines are skipped; any other line that is not a checkpoint is an
// error naming it.
func ReadWitness(ctx context.Context, src, token string, client *http.Client) ([]*Checkpoint, error) {
	var body io.Reader
	if strings.HasPrefix(src, "https://") || strings.HasPrefix(src, "http://") {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return nil, fmt.Errorf("read witness: %w", err)
		}
		req.Header.Set("Accept", "application/x-ndjson")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if client == nil {
			client = &http.Client{Timeout: time.Minute}
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("read witness: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("read witness: %s answered %s", src, resp.Status)
		}
		body = io.LimitReader(resp.Body, maxWitnessBody)
	} else {
		f, err := os.Open(src)
		if err != nil {
			return nil, fmt.Errorf("read witness: %w", err)
		}
		defer f.Close()
		body = f
	}
	var out []*Checkpoint
	br := bufio.NewReaderSize(body, 64<<10)
	for lineNo := 1; ; lineNo++ {
		line, err := readLine(br)
		line = bytes.TrimSpace(line)
		if len(line) > 0 {
			cp, _, perr := parseCheckpoint(line)
			if perr != nil {
				return nil, fmt.Errorf("read witness %s:%d: %w", src, lineNo, perr)
			}
			out = append(out, cp)
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read witness %s:%d: %w", src, lineNo, err)
		}
	}
}

// witnessSender hands checkpoints to a Witness from its own goroutine, in
// order, retrying with a growing pause; the log never waits for it.
type witnessSender struct {
	w       Witness
	m       *Metrics
	log     *slog.Logger
	mu      sync.Mutex
	pending []pendingCheckpoint // oldest first
	kick    chan struct{}
	stop    chan struct{}
	stopCtx context.Context
	done    chan struct{}
}

type pendingCheckpoint struct {
	line []byte
	at   time.Time
}

// maxWitnessPending bounds the checkpoints waiting for the witness; past
// it the oldest go (each checkpoint covers every entry before it).
const maxWitnessPending = 1024

const (
	witnessRetry    = time.Second
	witnessMaxRetry = time.Minute
)

func newWitnessSender(w Witness, m *Metrics, log *slog.Logger) *witnessSender {
	return &witnessSender{w: w, m: m, log: log, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// add queues a checkpoint line for the witness.
func (s *witnessSender) add(line []byte) {
	s.mu.Lock()
	if len(s.pending) >= maxWitnessPending {
		s.pending = s.pending[1:]
		s.m.witnessSkipped.Inc()
	}
	s.pending = append(s.pending, pendingCheckpoint{line: line, at: time.Now()})
	s.gauges()
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// gauges sets the pending and lag metrics; s.mu is held.
func (s *witnessSender) gauges() {
	s.m.witnessPending.Set(float64(len(s.pending)))
	if len(s.pending) == 0 {
		s.m.witnessOldest.Store(0)
	} else {
		s.m.witnessOldest.Store(s.pending[0].at.UnixNano())
	}
}

func (s *witnessSender) run() {
	defer close(s.done)
	var backoff time.Duration
	var retry <-chan time.Time
	failing := false
	for {
		select {
		case <-s.kick:
		case <-retry:
		case <-s.stop:
			// The last checkpoints, retried until Close's context (at
			// most WitnessTimeout) ends.
			ctx, cancel := context.WithTimeout(s.stopCtx, WitnessTimeout)
			for s.flush(ctx) != nil && ctx.Err() == nil {
				select {
				case <-ctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
			}
			cancel()
			return
		}
		retry = nil
		if err := s.flush(context.Background()); err != nil {
			s.m.witnessErrors.Inc()
			if !failing {
				failing = true
				s.log.Warn("audit witness does not take checkpoints; retrying", "err", err)
			}
			backoff = min(max(2*backoff, witnessRetry), witnessMaxRetry)
			retry = time.After(backoff)
			continue
		}
		if failing {
			failing = false
			s.log.Info("audit witness takes checkpoints again")
		}
		backoff = 0
	}
}

// flush sends the pending checkpoints, oldest first, until one fails.
func (s *witnessSender) flush(ctx context.Context) error {
	for {
		s.mu.Lock()
		if len(s.pending) == 0 {
			s.mu.Unlock()
			return nil
		}
		p := s.pending[0]
		s.mu.Unlock()
		pctx, cancel := context.WithTimeout(ctx, WitnessTimeout)
		err := s.w.Put(pctx, p.line)
		cancel()
		if err != nil {
			return err
		}
		s.m.witnessSent.Inc()
		s.mu.Lock()
		if len(s.pending) > 0 && &s.pending[0].line[0] == &p.line[0] {
			s.pending = s.pending[1:]
		}
		s.gauges()
		s.mu.Unlock()
	}
}

// close sends what is pending until ctx ends, then stops the sender.
func (s *witnessSender) close(ctx context.Context) {
	s.stopCtx = ctx
	close(s.stop)
	select {
	case <-s.done:
	case <-ctx.Done():
	}
}
