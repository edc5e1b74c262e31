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

	"github.com/callscreen/callscreen/reputation/lists/numset"
)

// RedisStore keeps the feed in Redis, shared by every instance.
//
// Keys:
//
//	callscreen:feed:<tenant>:<bucket>  hash    E.164 number → packed value (decimal)
//	callscreen:feed:tenants            set     tenants with data
//	callscreen:feed:version            string  bumped by every write
//	callscreen:feed:lock               string  the importer's lock
//
// Numbers are spread over Buckets hashes per tenant so a Redis Cluster
// spreads them over its nodes and no one hash grows huge. Writes are
// multi-field HSET/HDEL commands (1,000 fields each) sent in pipelines.
type RedisStore struct {
	rdb    redis.UniversalClient
	prefix string
}

var (
	_ Store  = (*RedisStore)(nil)
	_ Locker = (*RedisStore)(nil)
)

// Buckets is how many hashes hold one tenant's numbers.
const Buckets = 64

// NewRedisStore returns a RedisStore on rdb; prefix "" is "callscreen:feed".
func NewRedisStore(rdb redis.UniversalClient, prefix string) *RedisStore {
	if prefix == "" {
		prefix = "callscreen:feed"
	}
	return &RedisStore{rdb: rdb, prefix: prefix}
}

func bucketOf(k uint64) int { return int((k * 0x9E3779B97F4A7C15) >> 58) } // top 6 bits: 64 buckets

func (s *RedisStore) bucketKey(tenant string, b int) string {
	return s.prefix + ":" + url.QueryEscape(tenant) + ":" + strconv.Itoa(b)
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

// Load implements Store. The version is read first, so a write racing the
// load makes the next Version differ and the data load again.
func (s *RedisStore) Load(ctx context.Context, fn func(string, Record) error) (string, error) {
	version, err := s.Version(ctx)
	if err != nil {
		return "", err
	}
	tenants, err := s.rdb.SMembers(ctx, s.tenantsKey()).Result()
	if err != nil {
		return "", fmt.Errorf("feed load: %w", err)
	}
	for _, t := range tenants {
		for b := range Buckets {
			key := s.bucketKey(t, b)
			var cursor uint64
			for {
				kv, next, err := s.rdb.HScan(ctx, key, cursor, "", 10000).Result()
				if err != nil {
					return "", fmt.Errorf("feed load %s: %w", key, err)
				}
				for i := 0; i+1 < len(kv); i += 2 {
					k, ok := numset.Encode(kv[i])
					v, err := strconv.ParseUint(kv[i+1], 10, 32)
					if !ok || err != nil || !value(v).valid() {
						continue // damaged: skip
					}
					if err := fn(t, Record{k, uint32(v)}); err != nil {
						return "", err
					}
				}
				if next == 0 {
					break
				}
				cursor = next
			}
		}
	}
	return version, nil
}

// Pipelining: fields per command, commands per round trip.
const (
	writeFields   = 1000
	writeCommands = 32
)

// Write implements Store.
func (s *RedisStore) Write(ctx context.Context, tenant string, puts []Record, dels []uint64) (string, error) {
	var putsBy [Buckets][]any
	var delsBy [Buckets][]string
	pipe := s.rdb.Pipeline()
	queued := 0
	send := func() error {
		if queued == 0 {
			return nil
		}
		_, err := pipe.Exec(ctx)
		queued = 0
		return err
	}
	queue := func(cmd func()) error {
		cmd()
		if queued++; queued >= writeCommands {
			return send()
		}
		return nil
	}
	num := make([]byte, 0, 16)
	for _, r := range puts {
		b := bucketOf(r.Key)
		num = append(num[:0], numset.Decode(r.Key)...)
		putsBy[b] = append(putsBy[b], string(num), strconv.FormatUint(uint64(r.Value), 10))
		if len(putsBy[b]) == 2*writeFields {
			args := putsBy[b]
			putsBy[b] = make([]any, 0, 2*writeFields)
			if err := queue(func() { pipe.HSet(ctx, s.bucketKey(tenant, b), args...) }); err != nil {
				return "", fmt.Errorf("feed write: %w", err)
			}
		}
	}
	for _, k := range dels {
		b := bucketOf(k)
		delsBy[b] = append(delsBy[b], numset.Decode(k))
		if len(delsBy[b]) == writeFields {
			fields := delsBy[b]
			delsBy[b] = nil
			if err := queue(func() { pipe.HDel(ctx, s.bucketKey(tenant, b), fields...) }); err != nil {
				return "", fmt.Errorf("feed write: %w", err)
			}
		}
	}
	for b := range Buckets {
		if args := putsBy[b]; len(args) > 0 {
			if err := queue(func() { pipe.HSet(ctx, s.bucketKey(tenant, b), args...) }); err != nil {
				return "", fmt.Errorf("feed write: %w", err)
			}
		}
		if fields := delsBy[b]; len(fields) > 0 {
			if err := queue(func() { pipe.HDel(ctx, s.bucketKey(tenant, b), fields...) }); err != nil {
				return "", fmt.Errorf("feed write: %w", err)
			}
		}
	}
	pipe.SAdd(ctx, s.tenantsKey(), tenant)
	ver := pipe.Incr(ctx, s.versionKey())
	queued++
	if err := send(); err != nil {
		return "", fmt.Errorf("feed write: %w", err)
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
