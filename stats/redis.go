package stats

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
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
// its value the count. No command spans two keys, so Cluster needs no hash
// tags: each hash is written by one script call (writeScript) that adds a
// batch of counts and sets the TTL, the keys of a batch in one pipeline.
//
// Writes are idempotent. The counts waiting to be written are sealed into
// a numbered batch; a batch is sent, whole or the keys not yet
// acknowledged, until every key has answered, and no new batch is sealed
// meanwhile. Each hash keeps, in a field of its own (writerField, which
// readers skip), the number of the last batch (and chunk: a key's counts
// go in calls of at most chunkFields fields) of each writer it applied,
// and the script skips one it has already applied. So a pipeline that
// fails half way (in a cluster, a master dies while the others answer; a
// connection drops after Redis ran a command, before the reply) is sent
// again without counting anything twice.
//
// Readers cache a bucket once it can no longer change (Settle after it
// ended). An instance that writes counts into a bucket older than that
// (it was cut off from Redis, or a call outlasted Settle) increments
// PREFIX:gen once those counts are written, and readers that see it change
// drop their cache; a reader that finds no PREFIX:gen (Redis lost its
// data) sets a new one (decimal, so INCR works on it), with the same
// effect.
//
// What can be lost: counts a master acknowledged and had not yet copied to
// its replica when it died (Redis replicates asynchronously: on a LAN
// within a millisecond, so at most the last write, FlushInterval's counts
// of one instance, and usually nothing); counts still waiting in memory
// when the process ends without Close; and counts past maxPending while
// Redis is down, counted in callscreen_stats_dropped_total.

const (
	queueSize     = 8192
	maxPending    = 200000 // fields awaiting a write
	fetchChunk    = 256    // keys per pipeline when reading
	writeTimeout  = 2 * time.Second
	genCheckEvery = time.Second
	sep           = "\x1f"
	// chunkFields bounds the fields of one script call, maxChunks the
	// chunks of one key in a batch (maxPending / chunkFields is less).
	chunkFields = 1000
	maxChunks   = 1024
)

// writeScript adds a batch of counts to one hash, once.
// KEYS[1]: the hash. ARGV[1]: the writer's field, ARGV[2]: the batch's
// number, ARGV[3]: the key's TTL in seconds, then field, count pairs.
// Returns 1 when it added the counts, 0 when the hash had them already.
var writeScript = redis.NewScript(`
local done = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local seq = tonumber(ARGV[2])
if done >= seq then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
for i = 4, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
`)

// writerField is the field of a hash that holds the number of the last
// batch writer applied there. It has one separator, so a reader, which
// wants two, never takes it for a count.
func writerField(writer string) string { return sep + "w:" + writer }

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
	writer  string                      // this instance's writerField
	seq     int64                       // number of the last batch sealed
	pending map[string]map[string]int64 // key → field → count, not yet sealed
	unsent  *batch                      // the batch being written, nil when none
	nfields int                         // fields in pending and unsent
	load    bool                        // send the script in full (Redis lost its script cache)
	bump    bool                        // a late write wants the generation bumped
	failing bool

	rmu     sync.Mutex
	cache   *table
	cached  [2]map[int64]bool
	gen     string
	genRead time.Time
}

// batch is a sealed set of counts with its number: the keys not yet
// written in full.
type batch struct {
	seq  int64
	keys map[string]*keyWrite
}

// keyWrite is one key's counts in a batch, sorted by field, so its chunks
// are the same on every try; next is the first chunk not yet acknowledged.
type keyWrite struct {
	fields []fieldCount
	next   int
}

type fieldCount struct {
	field string
	n     int64
}

// chunk returns the fields of chunk i.
func (kw *keyWrite) chunk(i int) []fieldCount {
	return kw.fields[i*chunkFields : min((i+1)*chunkFields, len(kw.fields))]
}

func (kw *keyWrite) chunks() int { return (len(kw.fields) + chunkFields - 1) / chunkFields }

// seal makes a batch of pending counts.
func seal(seq int64, pending map[string]map[string]int64) *batch {
	b := &batch{seq: seq, keys: make(map[string]*keyWrite, len(pending))}
	for k, fs := range pending {
		if len(fs) == 0 {
			continue
		}
		kw := &keyWrite{fields: make([]fieldCount, 0, len(fs))}
		for f, n := range fs {
			kw.fields = append(kw.fields, fieldCount{f, n})
		}
		sort.Slice(kw.fields, func(i, j int) bool { return kw.fields[i].field < kw.fields[j].field })
		b.keys[k] = kw
	}
	return b
}

func newShared(o Options, m *Metrics, log *slog.Logger) *shared {
	var id [8]byte
	_, _ = rand.Read(id[:])
	return &shared{
		writer: writerField(hex.EncodeToString(id[:])),
		rdb:    o.Redis, prefix: o.Prefix,
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

// flush writes the unsent batch, then what is pending, sealed as the next
// batch; on failure what was not acknowledged is kept for the next try.
// The caller holds wmu.
func (s *shared) flush(ctx context.Context) error {
	for {
		if s.unsent == nil {
			if len(s.pending) == 0 {
				return nil
			}
			s.seq++
			s.unsent = seal(s.seq, s.pending)
			s.pending = map[string]map[string]int64{}
		}
		err := s.send(ctx, s.unsent)
		if err != nil {
			s.m.sharedErrors.WithLabelValues("write").Inc()
			if !s.failing {
				s.log.Warn("stats: cannot write to redis; the counts are kept and written when it answers", "err", err, "pending", s.nfields)
				s.failing = true
			}
			return err
		}
		s.unsent = nil
		if s.failing {
			s.log.Info("stats: writing to redis again")
			s.failing = false
		}
	}
}

// send writes b: a script call per key and chunk of at most chunkFields
// fields, so that no call holds Redis (which runs a script alone) for
// long, whatever piled up while it was down. Each round is one pipeline
// with the next chunk of every key not yet written in full, so a key's
// chunks are applied in order, each once (its number is the batch's times
// maxChunks plus the chunk's). Chunks Redis acknowledged are done; send
// returns an error unless every one was. Calls Redis refused for a script
// it did not have (NOSCRIPT: it restarted or was flushed) are sent again
// at once, in full. When a key went into a bucket readers may have cached,
// the generation is bumped once every key is written, not in the same
// pipeline: a cluster runs a pipeline's commands on their nodes side by
// side, and a reader that saw the new generation before the write would
// cache the bucket without it.
func (s *shared) send(ctx context.Context, b *batch) error {
	loaded := false
	for {
		keys := make([]string, 0, len(b.keys))
		for k := range b.keys {
			keys = append(keys, k)
		}
		if len(keys) == 0 {
			break
		}
		sort.Strings(keys)
		closedM, closedH := s.closedBefore(minute), s.closedBefore(hour)
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(keys))
		for i, k := range keys {
			kw := b.keys[k]
			ttl := s.hourTTL
			res, idx, ok := s.parseKey(k)
			if ok && res == minute {
				ttl = s.minuteTTL
			}
			if ok && ((res == minute && idx < closedM) || (res == hour && idx < closedH)) {
				s.bump = true
			}
			fs := kw.chunk(kw.next)
			args := make([]any, 0, 3+2*len(fs))
			args = append(args, s.writer, b.seq*maxChunks+int64(kw.next), int64(ttl/time.Second))
			for _, fc := range fs {
				args = append(args, fc.field, fc.n)
			}
			if s.load {
				cmds[i] = writeScript.Eval(ctx, pipe, []string{k}, args...)
			} else {
				cmds[i] = writeScript.EvalSha(ctx, pipe, []string{k}, args...)
			}
		}
		_, err := pipe.Exec(ctx)
		noScript, failed := false, 0
		for i, k := range keys {
			kw := b.keys[k]
			switch e := cmds[i].Err(); {
			case e == nil:
				s.nfields -= len(kw.chunk(kw.next))
				if kw.next++; kw.next == kw.chunks() {
					delete(b.keys, k)
				}
			case redis.HasErrorPrefix(e, "NOSCRIPT"):
				noScript = true
				failed++
			default:
				failed++
			}
		}
		if noScript && !loaded {
			s.load, loaded = true, true
			continue
		}
		s.load = false
		switch {
		case failed == 0:
		case err == nil:
			return fmt.Errorf("%d keys not written", failed)
		default:
			return err
		}
	}
	if s.bump {
		if err := s.bumpGen(ctx); err != nil {
			return fmt.Errorf("bump %s: %w", s.genKey(), err)
		}
		s.bump = false
	}
	return nil
}

// bumpGen changes the generation: INCR, or, when the key holds no integer
// (a reader of an earlier version started it as base-36 text), a new
// decimal value.
func (s *shared) bumpGen(ctx context.Context) error {
	pipe := s.rdb.Pipeline()
	incr := pipe.Incr(ctx, s.genKey())
	pipe.Expire(ctx, s.genKey(), s.hourTTL)
	_, err := pipe.Exec(ctx)
	if err != nil && incr.Err() != nil && redis.HasErrorPrefix(incr.Err(), "value is not an integer") {
		err = s.rdb.Set(ctx, s.genKey(), newGen(s.now()), s.hourTTL).Err()
	}
	return err
}

// newGen is a generation a reader starts: decimal, so a writer's INCR
// works on it.
func newGen(now time.Time) string { return strconv.FormatInt(now.UnixNano(), 10) }

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
		gen = newGen(now)
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
