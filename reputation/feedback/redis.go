package feedback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/callscreen/callscreen/redisconn"
)

// RedisStore keeps reports in one Redis hash per tenant,
// cs:<tenant>:fb:v1, field = E.164 number, value = the report as JSON.
// Every instance sharing the Redis sees a report as soon as it is made.
type RedisStore struct {
	rdb redis.UniversalClient
}

var _ Store = (*RedisStore)(nil)

// NewRedisStore returns the store over rdb.
func NewRedisStore(rdb redis.UniversalClient) *RedisStore { return &RedisStore{rdb: rdb} }

// Key is the hash that holds tenant's reports.
func Key(tenant string) string { return redisconn.Key(tenant, "fb", "v1") }

// Put implements Store.
func (s *RedisStore) Put(ctx context.Context, r Report) error {
	if err := r.Validate(); err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("feedback redis: encode: %w", err)
	}
	if err := s.rdb.HSet(ctx, Key(r.Tenant), r.Number, b).Err(); err != nil {
		return fmt.Errorf("feedback redis: put: %w", err)
	}
	return nil
}

// Get implements Store. A value that does not decode is an error naming
// the key, not a silent miss.
func (s *RedisStore) Get(ctx context.Context, tenant, number string) (Report, bool, error) {
	b, err := s.rdb.HGet(ctx, Key(tenant), number).Bytes()
	if errors.Is(err, redis.Nil) {
		return Report{}, false, nil
	}
	if err != nil {
		return Report{}, false, fmt.Errorf("feedback redis: get: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return Report{}, false, fmt.Errorf("feedback redis: %s field %s: %w", Key(tenant), number, err)
	}
	if err := r.Validate(); err != nil {
		return Report{}, false, fmt.Errorf("feedback redis: %s field %s: %w", Key(tenant), number, err)
	}
	return r, true, nil
}

// Delete implements Store.
func (s *RedisStore) Delete(ctx context.Context, tenant, number string) error {
	if err := s.rdb.HDel(ctx, Key(tenant), number).Err(); err != nil {
		return fmt.Errorf("feedback redis: delete: %w", err)
	}
	return nil
}

// List implements Store. Values that do not decode are skipped.
func (s *RedisStore) List(ctx context.Context, tenant string) ([]Report, error) {
	m, err := s.rdb.HGetAll(ctx, Key(tenant)).Result()
	if err != nil {
		return nil, fmt.Errorf("feedback redis: list: %w", err)
	}
	out := make([]Report, 0, len(m))
	for _, v := range m {
		var r Report
		if json.Unmarshal([]byte(v), &r) != nil || r.Validate() != nil {
			continue
		}
		out = append(out, r)
	}
	sortReports(out)
	return out, nil
}
