package feed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisStore keeps the feed in Redis, shared by every instance.
//
// A tenant's whole feed is a few packed chunks (12 bytes a number, see
// chunk.go) replaced together in one MULTI/EXEC, so an instance never
// loads half an import. Every key carries the {feed} hash tag: on Redis
// Cluster they live on one node, which MULTI needs.
//
//	callscreen:{feed}:version           string  bumped by every import
//	callscreen:{feed}:tenants           set     tenants with a feed
//	callscreen:{feed}:t:<tenant>:n      string  how many chunks
//	callscreen:{feed}:t:<tenant>:<i>    string  chunk i
//	callscreen:{feed}:lock              string  the importer's lock
//	callscreen:{feed}:pulled:<day>      string  the day's scheduled pull is done
type RedisStore struct {
	rdb    redis.UniversalClient
	prefix string
}

var (
	_ Store  = (*RedisStore)(nil)
	_ Locker = (*RedisStore)(nil)
)

// NewRedisStore returns a RedisStore on rdb; prefix "" is
// "callscreen:{feed}".
func NewRedisStore(rdb redis.UniversalClient, prefix string) *RedisStore {
	if prefix == "" {
		prefix = "callscreen:{feed}"
	}
	return &RedisStore{rdb: rdb, prefix: prefix}
}

func (s *RedisStore) tenantKey(tenant string) string {
	return s.prefix + ":t:" + url.QueryEscape(tenant)
}
func (s *RedisStore) countKey(tenant string) string { return s.tenantKey(tenant) + ":n" }
func (s *RedisStore) chunkKey(tenant string, i int) string {
	return s.tenantKey(tenant) + ":" + strconv.Itoa(i)
}
func (s *RedisStore) tenantsKey() string { return s.prefix + ":tenants" }
func (s *RedisStore) versionKey() string { return s.prefix + ":version" }
func (s *RedisStore) lockKey() string    { return s.prefix + ":lock" }

// Version implements Store.
func (s *RedisStore) Version(ctx context.Context) (string, error) {
	v, err := s.rdb.Get(ctx, s.versionKey()).Result()
	if errors.Is(err, redis.Nil) {
		return "0", nil
	}
	if err != nil {
		return "", fmt.Errorf("feed version: %w", err)
	}
	return v, nil
}

// Load implements Store: one transaction reads the version and every
// chunk, so the records and the version belong together.
func (s *RedisStore) Load(ctx context.Context, fn func(string, Record) error) (string, error) {
	for attempt := 0; ; attempt++ {
		version, tenants, chunks, err := s.read(ctx)
		if errors.Is(err, errRace) && attempt < 5 {
			continue // an import committed between the two reads
		}
		if err != nil {
			return "", fmt.Errorf("feed load: %w", err)
		}
		for i, t := range tenants {
			for _, c := range chunks[i] {
				if err := unchunk(c, func(r Record) error { return fn(t, r) }); err != nil {
					return "", fmt.Errorf("feed load: tenant %q: %w", t, err)
				}
			}
		}
		return version, nil
	}
}

var errRace = errors.New("feed changed while loading")

func (s *RedisStore) read(ctx context.Context) (string, []string, [][][]byte, error) {
	// First the tenants and their chunk counts, then everything in one
	// transaction that also re-reads the counts to detect a change.
	tenants, err := s.rdb.SMembers(ctx, s.tenantsKey()).Result()
	if err != nil {
		return "", nil, nil, err
	}
	counts := make([]int, len(tenants))
	if len(tenants) > 0 {
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.StringCmd, len(tenants))
		for i, t := range tenants {
			cmds[i] = pipe.Get(ctx, s.countKey(t))
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return "", nil, nil, err
		}
		for i, c := range cmds {
			counts[i], _ = c.Int()
		}
	}
	var verCmd *redis.StringCmd
	countCmds := make([]*redis.StringCmd, len(tenants))
	chunkCmds := make([][]*redis.StringCmd, len(tenants))
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		verCmd = p.Get(ctx, s.versionKey())
		for i, t := range tenants {
			countCmds[i] = p.Get(ctx, s.countKey(t))
			for j := range counts[i] {
				chunkCmds[i] = append(chunkCmds[i], p.Get(ctx, s.chunkKey(t, j)))
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return "", nil, nil, err
	}
	version := verCmd.Val()
	if version == "" {
		version = "0"
	}
	out := make([][][]byte, len(tenants))
	for i := range tenants {
		if n, _ := countCmds[i].Int(); n != counts[i] {
			return "", nil, nil, errRace
		}
		for _, c := range chunkCmds[i] {
			b, err := c.Bytes()
			if err != nil {
				return "", nil, nil, errRace // a chunk vanished: an import replaced it
			}
			out[i] = append(out[i], b)
		}
	}
	return version, tenants, out, nil
}

// Replace implements Store: the new chunks, the removal of chunks the old
// feed had beyond them, the count and the version in one MULTI/EXEC.
func (s *RedisStore) Replace(ctx context.Context, tenant string, recs []Record) (string, error) {
	old, err := s.rdb.Get(ctx, s.countKey(tenant)).Int()
	if err != nil && !errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("feed replace: %w", err)
	}
	cs := chunks(recs)
	var ver *redis.IntCmd
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range cs {
			p.Set(ctx, s.chunkKey(tenant, i), c, 0)
		}
		for i := len(cs); i < old; i++ {
			p.Unlink(ctx, s.chunkKey(tenant, i))
		}
		p.Set(ctx, s.countKey(tenant), len(cs), 0)
		p.SAdd(ctx, s.tenantsKey(), tenant)
		ver = p.Incr(ctx, s.versionKey())
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("feed replace: %w", err)
	}
	return strconv.FormatInt(ver.Val(), 10), nil
}

func (s *RedisStore) pulledKey(day string) string { return s.prefix + ":pulled:" + day }

// Pulled implements Locker.
func (s *RedisStore) Pulled(ctx context.Context, day string) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.pulledKey(day)).Result()
	if err != nil {
		return false, fmt.Errorf("feed pulled: %w", err)
	}
	return n == 1, nil
}

// MarkPulled implements Locker; the mark lasts three days.
func (s *RedisStore) MarkPulled(ctx context.Context, day string) error {
	if err := s.rdb.Set(ctx, s.pulledKey(day), "1", 72*time.Hour).Err(); err != nil {
		return fmt.Errorf("feed mark pulled: %w", err)
	}
	return nil
}

// unlockScript deletes the lock only if it is still ours.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// Lock implements Locker.
func (s *RedisStore) Lock(ctx context.Context, ttl time.Duration) (func(), error) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	ok, err := s.rdb.SetNX(ctx, s.lockKey(), token, ttl).Result()
	if err != nil {
		return nil, fmt.Errorf("feed lock: %w", err)
	}
	if !ok {
		return nil, ErrLocked
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = unlockScript.Run(ctx, s.rdb, []string{s.lockKey()}, token).Err()
	}, nil
}
