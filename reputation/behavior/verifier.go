package behavior

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/callscreen/callscreen/decision"
	"github.com/redis/go-redis/v9"
)

// RedisVerifier is decision.Verifier in Redis: a caller who passed a
// challenge is remembered by every instance, with a TTL.
//
// Key: callscreen:verified:<tenant>:<caller> = "1", PX ttl.
type RedisVerifier struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ decision.Verifier = (*RedisVerifier)(nil)

// NewRedisVerifier returns a RedisVerifier on rdb; prefix "" is
// "callscreen:verified".
func NewRedisVerifier(rdb redis.UniversalClient, prefix string) *RedisVerifier {
	if prefix == "" {
		prefix = "callscreen:verified"
	}
	return &RedisVerifier{rdb: rdb, prefix: prefix}
}

func (v *RedisVerifier) key(tenant, caller string) string {
	return v.prefix + ":" + url.QueryEscape(tenant) + ":" + caller
}

// Verified implements decision.Verifier.
func (v *RedisVerifier) Verified(ctx context.Context, tenant, caller string) (bool, error) {
	if caller == "" {
		return false, nil
	}
	n, err := v.rdb.Exists(ctx, v.key(tenant, caller)).Result()
	if err != nil {
		return false, fmt.Errorf("verified: %w", err)
	}
	return n == 1, nil
}

// MarkVerified implements decision.Verifier. A ttl under a millisecond
// forgets the caller.
func (v *RedisVerifier) MarkVerified(ctx context.Context, tenant, caller string, ttl time.Duration) error {
	if caller == "" {
		return nil
	}
	var err error
	if ttl < time.Millisecond {
		err = v.rdb.Del(ctx, v.key(tenant, caller)).Err()
	} else {
		err = v.rdb.Set(ctx, v.key(tenant, caller), "1", ttl).Err()
	}
	if err != nil {
		return fmt.Errorf("mark verified: %w", err)
	}
	return nil
}
