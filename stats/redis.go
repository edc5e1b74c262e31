package stats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Shared statistics in Redis.
//
// Every instance adds its calls to two hashes: PREFIX:m:MINUTE (kept
// MinuteKeep) and PREFIX:h:HOUR (kept Retention), MINUTE and HOUR being
// Unix time divided by 60 and 3600. A field is PROFILE, DID and a counter
// name (calls, blocked, ..., r:REASON) joined by the unit separator 0x1f;
// its value the count. Writes are HINCRBY and EXPIRE in a pipeline, one key
// at a time: no command spans two keys, so Cluster needs no hash tags.
//
// Readers cache a bucket once it can no longer change (Settle after it
// ended). An instance that writes counts into a bucket older than that
// (it was cut off from Redis, or a call outlasted Settle) increments
// PREFIX:gen, and readers that see it change drop their cache; a reader
// that finds no PREFIX:gen (Redis lost its data) sets a new one, with the
// same effect.

const (
	queueSize     = 8192
	maxPending    = 200000 // fields awaiting a write
	fetchChunk    = 256    // keys per pipeline when reading
	writeTimeout  = 2 * time.Second
	genCheckEvery = time.Second
	sep           = "\x1f"
)

type queued struct {
	d    Dim
	call Call
}

type shared struct {
	rdb                redis.UniversalClient
	prefix             string
	minuteTTL, hourTTL time.Duration
	minuteKeep         time.Duration
	retention          time.Duration
	settle             time.Duration
	flushEvery         time.Duration
	m                  *Metrics
	log                *slog.Logger
	now                func() time.Time

	in chan queued

	wmu     sync.Mutex
	pending map[string]map[string]int64 // key → field → count
	nfields int
	failing bool

	rmu     sync.Mutex
	cache   *table
	cached  [2]map[int64]bool
	gen     string
	genRead time.Time
}

func newShared(o Options, m *Metrics, log *slog.Logger) *shared {
	return &shared{
		rdb: o.Redis, prefix: o.Prefix,
		minuteTTL: o.MinuteKeep + 2*time.Hour, hourTTL: o.Retention + 2*time.Hour,
		minuteKeep: o.MinuteKeep, retention: o.Retention, settle: o.Settle, flushEvery: o.FlushInterval,
		m: m, log: log, now: o.Now,
		in:      make(chan queued, queueSize),
		pending: map[string]map[string]int64{},
		cache:   newTable(),
		cached:  [2]map[int64]bool{{}, {}},
	}
}

func (s *shared) key(res resolution, idx int64) string {
	return s.prefix + ":" + res.String() + ":" + strconv.FormatInt(idx, 10)
}

func (s *shared) genKey() string { return s.prefix + ":gen" }

func field(d Dim, name string) string { return d.Profile + sep + d.DID + sep + name }

func (s *shared) enqueue(d Dim, call *Call) {
	select {
	case s.in <- queued{d: d, call: *call}:
	default:
		s.m.dropped.Inc()
	}
}

func (s *shared) run(ctx context.Context) {
	t := time.NewTicker(s.flushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.wmu.Lock()
			s.drain()
			fctx, cancel := context.WithTimeout(ctx, writeTimeout)
			_ = s.flush(fctx)
			cancel()
			s.wmu.Unlock()
		}
	}
}

func (s *shared) close(ctx context.Context) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.drain()
	if err := s.flush(ctx); err != nil {
		return fmt.Errorf("stats: write to redis at close: %w (%d counts lost)", err, s.nfields)
	}
	return nil
}

// drain moves the queue into pending; the caller holds wmu.
func (s *shared) drain() {
	for {
		select {
		case q := <-s.in:
			s.pend(q)
		default:
			return
		}
	}
}

func (s *shared) pend(q queued) {
	mi := floorDiv(q.call.Time.Unix(), 60)
	keys := [2]string{s.key(minute, mi), s.key(hour, floorDiv(mi, 60))}
	if q.call.Time.Before(s.now().Add(-s.minuteKeep)) {
		keys[0] = ""
	}
	var c Counts
	c.each(&q.call, func(name string, n int64) {
		f := field(q.d, name)
		for _, k := range keys {
			if k == "" {
				continue
			}
			fs := s.pending[k]
			if fs == nil {
				fs = map[string]int64{}
				s.pending[k] = fs
			}
			if _, ok := fs[f]; !ok {
				if s.nfields >= maxPending {
					s.m.dropped.Inc()
					continue
				}
				s.nfields++
			}
			fs[f] += n
		}
	})
}

// flush writes pending; on failure it keeps it for the next try. The
// caller holds wmu.
func (s *shared) flush(ctx context.Context) error {
	if len(s.pending) == 0 {
		return nil
	}
	late := false
	closedM, closedH := s.closedBefore(minute), s.closedBefore(hour)
	pipe := s.rdb.Pipeline()
	for k, fs := range s.pending {
		ttl := s.hourTTL
		res, idx, ok := s.parseKey(k)
		if ok && res == minute {
			ttl = s.minuteTTL
		}
		if ok && ((res == minute && idx < closedM) || (res == hour && idx < closedH)) {
			late = true
		}
		for f, n := range fs {
			pipe.HIncrBy(ctx, k, f, n)
		}
		pipe.Expire(ctx, k, ttl)
	}
	if late {
		pipe.Incr(ctx, s.genKey())
		pipe.Expire(ctx, s.genKey(), s.hourTTL)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		s.m.sharedErrors.WithLabelValues("write").Inc()
		if !s.failing {
			s.log.Warn("stats: cannot write to redis; the counts are kept and written when it answers", "err", err, "pending", s.nfields)
			s.failing = true
		}
		return err
	}
	if s.failing {
		s.log.Info("stats: writing to redis again", "written", s.nfields)
		s.failing = false
	}
	clear(s.pending)
	s.nfields = 0
	return nil
}

func (s *shared) parseKey(k string) (resolution, int64, bool) {
	rest, ok := strings.CutPrefix(k, s.prefix+":")
	if !ok || len(rest) < 3 || rest[1] != ':' {
		return 0, 0, false
	}
	idx, err := strconv.ParseInt(rest[2:], 10, 64)
	if err != nil {
		return 0, 0, false
	}
	switch rest[0] {
	case 'm':
		return minute, idx, true
	case 'h':
		return hour, idx, true
	}
	return 0, 0, false
}

// closedBefore is the first index of res whose bucket may still change.
func (s *shared) closedBefore(res resolution) int64 {
	return floorDiv(s.now().Add(-s.settle).Unix(), res.seconds())
}

// checkGen drops the cache when another instance wrote into a settled
// bucket. The caller holds rmu.
func (s *shared) checkGen(ctx context.Context) error {
	now := s.now()
	if now.Sub(s.genRead) < genCheckEvery && !s.genRead.IsZero() {
		return nil
	}
	gen, err := s.rdb.Get(ctx, s.genKey()).Result()
	if errors.Is(err, redis.Nil) {
		// A Redis that lost its data (restarted empty) has no generation:
		// start one, so every reader drops what it cached from before.
		gen = strconv.FormatInt(now.UnixNano(), 36)
		if err = s.rdb.SetNX(ctx, s.genKey(), gen, s.hourTTL).Err(); err == nil {
			gen, err = s.rdb.Get(ctx, s.genKey()).Result()
		}
	}
	if err != nil {
		return err
	}
	if gen != s.gen {
		s.cache = newTable()
		s.cached = [2]map[int64]bool{{}, {}}
		s.gen = gen
	}
	s.genRead = now
	// Forget what has left the retention.
	s.cache.prune(minute, floorDiv(now.Add(-s.minuteKeep).Unix(), 60))
	s.cache.prune(hour, floorDiv(now.Add(-s.retention).Unix(), 3600))
	for res, lim := range [2]int64{floorDiv(now.Add(-s.minuteKeep).Unix(), 60), floorDiv(now.Add(-s.retention).Unix(), 3600)} {
		for idx := range s.cached[res] {
			if idx < lim {
				delete(s.cached[res], idx)
			}
		}
	}
	return nil
}

var _ reader = (*shared)(nil)

// read answers from the cache for settled buckets and from Redis for the
// rest, caching what has settled.
func (s *shared) read(ctx context.Context, res resolution, lo, hi int64, fn func(idx int64, d Dim, c *Counts)) error {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if err := s.checkGen(ctx); err != nil {
		s.m.sharedErrors.WithLabelValues("read").Inc()
		return fmt.Errorf("stats: read from redis: %w", err)
	}
	closed := s.closedBefore(res)
	var missing []int64
	for idx := lo; idx < hi; idx++ {
		if !s.cached[res][idx] {
			missing = append(missing, idx)
		}
	}
	fresh := newTable()
	for len(missing) > 0 {
		n := min(len(missing), fetchChunk)
		chunk := missing[:n]
		missing = missing[n:]
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.MapStringStringCmd, len(chunk))
		for i, idx := range chunk {
			cmds[i] = pipe.HGetAll(ctx, s.key(res, idx))
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			s.m.sharedErrors.WithLabelValues("read").Inc()
			return fmt.Errorf("stats: read from redis: %w", err)
		}
		for i, idx := range chunk {
			into := fresh
			if idx < closed {
				into = s.cache
				s.cached[res][idx] = true
			}
			for f, v := range cmds[i].Val() {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					continue
				}
				parts := strings.SplitN(f, sep, 3)
				if len(parts) != 3 {
					continue
				}
				into.bucket(res, idx, Dim{Profile: parts[0], DID: parts[1]}).addNamed(parts[2], n)
			}
		}
	}
	s.cache.each(res, lo, hi, fn)
	fresh.each(res, lo, hi, fn)
	return nil
}
