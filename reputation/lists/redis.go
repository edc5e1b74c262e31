package lists

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisStore is a Store in Redis, shared by every instance, and a
// Follower: each change is also appended to a change log (a stream) that
// the other instances follow, so they see it within a second.
//
// Keys (one hash tag, so a Redis Cluster keeps them on one node and the
// scripts can touch them together):
//
//	callscreen:{lists}:e:<tenant>   hash   "<list>|<entry>" → metadata JSON
//	callscreen:{lists}:tenants      set    tenants with entries
//	callscreen:{lists}:seq          string change counter
//	callscreen:{lists}:log          stream seq, data (the changes as JSON)
type RedisStore struct {
	rdb    redis.UniversalClient
	prefix string
	opts   RedisOptions
}

// RedisOptions tune a RedisStore; zero values pick the defaults.
type RedisOptions struct {
	// Prefix of every key; "" is "callscreen:{lists}".
	Prefix string
	// LogLength is about how many change batches the log keeps; an
	// instance that falls further behind reloads everything. 0 is 10000.
	LogLength int64
	// Block is how long one read of the change log waits; 0 is 1s.
	Block time.Duration
	// SmallBatch is the most changes of one tenant written to the log one
	// by one; bigger batches are written in bulk and the log tells the
	// other instances to reload the tenant. 0 is 256.
	SmallBatch int
}

var (
	_ Store    = (*RedisStore)(nil)
	_ Follower = (*RedisStore)(nil)
)

// NewRedisStore returns a RedisStore on rdb.
func NewRedisStore(rdb redis.UniversalClient, opts RedisOptions) *RedisStore {
	if opts.Prefix == "" {
		opts.Prefix = "callscreen:{lists}"
	}
	if opts.LogLength <= 0 {
		opts.LogLength = 10000
	}
	if opts.Block <= 0 {
		opts.Block = time.Second
	}
	if opts.SmallBatch <= 0 {
		opts.SmallBatch = 256
	}
	return &RedisStore{rdb: rdb, prefix: opts.Prefix, opts: opts}
}

func (s *RedisStore) entriesKey(tenant string) string {
	return s.prefix + ":e:" + url.QueryEscape(tenant)
}
func (s *RedisStore) tenantsKey() string { return s.prefix + ":tenants" }
func (s *RedisStore) seqKey() string     { return s.prefix + ":seq" }
func (s *RedisStore) logKey() string     { return s.prefix + ":log" }

// applyScript applies field changes to one tenant's hash ("" value
// deletes), records the tenant, and appends one log record, atomically.
// KEYS: entries, tenants, seq, log. ARGV: tenant, log length, record,
// then field, value pairs.
var applyScript = redis.NewScript(`
for i = 4, #ARGV, 2 do
  if ARGV[i+1] == '' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i+1])
  end
end
redis.call('SADD', KEYS[2], ARGV[1])
local seq = redis.call('INCR', KEYS[3])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[2], '*', 'seq', seq, 'data', ARGV[3])
return seq
`)

// logRecord is one change-log record.
type logRecord struct {
	Tenant string `json:"t"`
	// Changes are field, value pairs; an empty value is a deletion.
	Changes [][2]string `json:"c,omitempty"`
	// Resync asks followers to reload the tenant.
	Resync bool `json:"r,omitempty"`
}

// Apply implements Store. Each tenant's changes are applied atomically when
// there are at most SmallBatch of them; bigger batches are written in
// pipelined bulk (not atomic as a whole) and then announced.
func (s *RedisStore) Apply(ctx context.Context, changes []Change) error {
	var order []string
	byTenant := map[string][]Change{}
	for i := range changes {
		if err := checkChange(&changes[i]); err != nil {
			return fmt.Errorf("apply: %w", err)
		}
		t := changes[i].Entry.Tenant
		if _, ok := byTenant[t]; !ok {
			order = append(order, t)
		}
		byTenant[t] = append(byTenant[t], changes[i])
	}
	for _, t := range order {
		var err error
		if cs := byTenant[t]; len(cs) <= s.opts.SmallBatch {
			err = s.applySmall(ctx, t, cs)
		} else {
			err = s.applyBulk(ctx, t, cs)
		}
		if err != nil {
			return fmt.Errorf("apply: tenant %q: %w", t, err)
		}
	}
	return nil
}

func pairsOf(cs []Change) [][2]string {
	out := make([][2]string, len(cs))
	for i := range cs {
		v := ""
		if !cs[i].Delete {
			v = encodeMeta(&cs[i].Entry)
		}
		out[i] = [2]string{field(&cs[i].Entry), v}
	}
	return out
}

func (s *RedisStore) applySmall(ctx context.Context, tenant string, cs []Change) error {
	pairs := pairsOf(cs)
	rec, err := json.Marshal(logRecord{Tenant: tenant, Changes: pairs})
	if err != nil {
		return err
	}
	args := make([]any, 0, 3+2*len(pairs))
	args = append(args, tenant, s.opts.LogLength, string(rec))
	for _, p := range pairs {
		args = append(args, p[0], p[1])
	}
	keys := []string{s.entriesKey(tenant), s.tenantsKey(), s.seqKey(), s.logKey()}
	return applyScript.Run(ctx, s.rdb, keys, args...).Err()
}

// bulkFields is how many fields one HSET or HDEL carries in a bulk write;
// bulkCommands how many commands go in one pipeline round trip.
const (
	bulkFields   = 1000
	bulkCommands = 32
)

func (s *RedisStore) applyBulk(ctx context.Context, tenant string, cs []Change) error {
	key := s.entriesKey(tenant)
	pipe := s.rdb.Pipeline()
	queued := 0
	flush := func() error {
		if queued == 0 {
			return nil
		}
		_, err := pipe.Exec(ctx)
		queued = 0
		return err
	}
	pairs := pairsOf(cs)
	for i := 0; i < len(pairs); {
		// A run of puts or of deletes, at most bulkFields long, keeps order.
		del := pairs[i][1] == ""
		j := i
		for j < len(pairs) && j-i < bulkFields && (pairs[j][1] == "") == del {
			j++
		}
		if del {
			fields := make([]string, 0, j-i)
			for _, p := range pairs[i:j] {
				fields = append(fields, p[0])
			}
			pipe.HDel(ctx, key, fields...)
		} else {
			args := make([]any, 0, 2*(j-i))
			for _, p := range pairs[i:j] {
				args = append(args, p[0], p[1])
			}
			pipe.HSet(ctx, key, args...)
		}
		i = j
		if queued++; queued == bulkCommands {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	rec, err := json.Marshal(logRecord{Tenant: tenant, Resync: true})
	if err != nil {
		return err
	}
	keys := []string{key, s.tenantsKey(), s.seqKey(), s.logKey()}
	return applyScript.Run(ctx, s.rdb, keys, tenant, s.opts.LogLength, string(rec)).Err()
}

// Tenants implements Store.
func (s *RedisStore) Tenants(ctx context.Context) ([]string, error) {
	ts, err := s.rdb.SMembers(ctx, s.tenantsKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("tenants: %w", err)
	}
	return ts, nil
}

// Load implements Store.
func (s *RedisStore) Load(ctx context.Context, tenant string, fn func(Entry) error) error {
	key := s.entriesKey(tenant)
	var cursor uint64
	for {
		kv, next, err := s.rdb.HScan(ctx, key, cursor, "", 5000).Result()
		if err != nil {
			return fmt.Errorf("load %s: %w", key, err)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			e, err := decodeStored(tenant, kv[i], kv[i+1])
			if err != nil {
				continue // written by a newer version, or damaged: skip
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// Position implements Follower: "<stream id>/<seq>".
func (s *RedisStore) Position(ctx context.Context) (string, error) {
	var seqCmd *redis.StringCmd
	var lastCmd *redis.XMessageSliceCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		seqCmd = p.Get(ctx, s.seqKey())
		lastCmd = p.XRevRangeN(ctx, s.logKey(), "+", "-", 1)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("position: %w", err)
	}
	seq, _ := seqCmd.Int64()
	id := "0-0"
	if msgs, _ := lastCmd.Result(); len(msgs) > 0 {
		id = msgs[0].ID
	}
	return id + "/" + strconv.FormatInt(seq, 10), nil
}

func parsePos(pos string) (string, int64, error) {
	id, seqText, ok := strings.Cut(pos, "/")
	seq, err := strconv.ParseInt(seqText, 10, 64)
	if !ok || err != nil || id == "" {
		return "", 0, fmt.Errorf("bad change-log position %q: %w", pos, ErrLost)
	}
	return id, seq, nil
}

// Follow implements Follower.
func (s *RedisStore) Follow(ctx context.Context, pos string, fn func(Batch) error) error {
	id, seq, err := parsePos(pos)
	if err != nil {
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		res, err := s.rdb.XRead(ctx, &redis.XReadArgs{
			Streams: []string{s.logKey(), id},
			Count:   100,
			Block:   s.opts.Block,
		}).Result()
		if errors.Is(err, redis.Nil) {
			// Quiet: make sure the store did not restart empty.
			cur, err := s.rdb.Get(ctx, s.seqKey()).Int64()
			if err != nil && !errors.Is(err, redis.Nil) {
				return fmt.Errorf("follow: %w", err)
			}
			if cur < seq {
				return fmt.Errorf("follow: change counter went back from %d to %d: %w", seq, cur, ErrLost)
			}
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("follow: %w", err)
		}
		for _, stream := range res {
			for _, msg := range stream.Messages {
				ms, _ := msg.Values["seq"].(string)
				n, err := strconv.ParseInt(ms, 10, 64)
				if err != nil || n != seq+1 {
					return fmt.Errorf("follow: change %s after %d: %w", ms, seq, ErrLost)
				}
				b, err := decodeRecord(msg.Values["data"])
				if err != nil {
					return fmt.Errorf("follow: change %d: %w", n, err)
				}
				seq, id = n, msg.ID
				b.Pos = id + "/" + strconv.FormatInt(seq, 10)
				if err := fn(b); err != nil {
					return fmt.Errorf("follow: %w", err)
				}
			}
		}
	}
}

func decodeRecord(data any) (Batch, error) {
	text, _ := data.(string)
	var rec logRecord
	if err := json.Unmarshal([]byte(text), &rec); err != nil {
		return Batch{}, fmt.Errorf("decode: %w", err)
	}
	var b Batch
	if rec.Resync {
		b.Resync = []string{rec.Tenant}
	}
	for _, p := range rec.Changes {
		e, err := decodeStored(rec.Tenant, p[0], p[1])
		if err != nil {
			continue
		}
		b.Changes = append(b.Changes, Change{Delete: p[1] == "", Entry: e})
	}
	return b, nil
}
