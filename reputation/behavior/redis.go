package behavior

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisCounter is a Counter in Redis, shared by every instance. Each call
// is one pipelined round trip carrying two Lua scripts, each atomic: one
// on the caller's keys, one on the dialed number's. A caller's keys share
// a hash tag, as do a dialed number's, so both scripts run on Redis
// Cluster.
//
// Keys (all with TTLs; none grows without bound):
//
//	callscreen:bh:{<tenant>:<caller>}:calls     zset  call times within the burst window (at most the burst cap)
//	callscreen:bh:{<tenant>:<caller>}:flags     zset  challenge/flag times (at most 64)
//	callscreen:bh:{<tenant>:<caller>}:honeypot  string until when the caller is marked (unix ms)
//	callscreen:bh:{<tenant>:<dialed>}:m:<minute> string calls in that minute (2 minutes TTL)
type RedisCounter struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ Counter = (*RedisCounter)(nil)

// NewRedisCounter returns a RedisCounter on rdb; prefix "" is
// "callscreen:bh".
func NewRedisCounter(rdb redis.UniversalClient, prefix string) *RedisCounter {
	if prefix == "" {
		prefix = "callscreen:bh"
	}
	return &RedisCounter{rdb: rdb, prefix: prefix}
}

func (r *RedisCounter) tag(tenant, number string) string {
	return r.prefix + ":{" + url.QueryEscape(tenant) + ":" + number + "}"
}

// callerScript counts a call and reads the caller's counts.
// KEYS: calls, flags, honeypot. ARGV: now ms, burst window ms, burst cap,
// repeat window ms, mark honeypot (0/1), honeypot ms, call id.
// Returns {burst, gray, honeypot}.
var callerScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local burst = 0
local cap = tonumber(ARGV[3])
if cap > 0 then
  local win = tonumber(ARGV[2])
  redis.call('ZADD', KEYS[1], now, ARGV[7])
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - win)
  burst = redis.call('ZCARD', KEYS[1])
  if burst > cap then
    redis.call('ZREMRANGEBYRANK', KEYS[1], 0, burst - cap - 1)
    burst = cap
  end
  redis.call('PEXPIRE', KEYS[1], win)
end
local gray = redis.call('ZCOUNT', KEYS[2], '(' .. (now - tonumber(ARGV[4])), '+inf')
local marked = tonumber(redis.call('GET', KEYS[3]) or '0')
if ARGV[5] == '1' then
  local ttl = tonumber(ARGV[6])
  if marked < now + ttl then
    marked = now + ttl
    redis.call('SET', KEYS[3], marked, 'PX', ttl)
  end
end
local hp = 0
if marked > now then hp = 1 end
return {burst, gray, hp}
`)

// dialedScript counts a call to a dialed number in its minute and reads
// the previous minute. KEYS: this minute, previous minute.
// Returns {this minute, previous minute}.
var dialedScript = redis.NewScript(`
local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('PEXPIRE', KEYS[1], 120000) end
local p = tonumber(redis.call('GET', KEYS[2]) or '0')
return {c, p}
`)

// flagScript records a flag. KEYS: flags. ARGV: now ms, keep ms, id, max.
var flagScript = redis.NewScript(`
local now = tonumber(ARGV[1])
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
local n = redis.call('ZCARD', KEYS[1])
local max = tonumber(ARGV[4])
if n > max then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - max - 1) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return n
`)

// send queues the scripts o needs in one pipeline and runs it; load sends
// the scripts in full (EVAL) instead of by hash (EVALSHA).
func (r *RedisCounter) send(ctx context.Context, o Observation, load bool) (callerRes, dialedRes *redis.Cmd, err error) {
	now := o.Time.UnixMilli()
	pipe := r.rdb.Pipeline()
	eval := func(s *redis.Script, keys []string, args ...any) *redis.Cmd {
		if load {
			return s.Eval(ctx, pipe, keys, args...)
		}
		return s.EvalSha(ctx, pipe, keys, args...)
	}
	if o.Caller != "" {
		t := r.tag(o.Tenant, o.Caller)
		hp := "0"
		if o.Honeypot {
			hp = "1"
		}
		callerRes = eval(callerScript, []string{t + ":calls", t + ":flags", t + ":honeypot"},
			now, max(o.BurstWindow.Milliseconds(), 1), o.BurstCap, o.RepeatWindow.Milliseconds(), hp,
			max(o.HoneypotFor.Milliseconds(), 1), callMember(o, now))
	}
	if o.Dialed != "" {
		t := r.tag(o.Tenant, o.Dialed)
		minute := o.Time.Unix() / 60
		dialedRes = eval(dialedScript, []string{t + ":m:" + strconv.FormatInt(minute, 10), t + ":m:" + strconv.FormatInt(minute-1, 10)})
	}
	_, err = pipe.Exec(ctx)
	return callerRes, dialedRes, err
}

func isNoScript(c *redis.Cmd) bool {
	return c != nil && c.Err() != nil && redis.HasErrorPrefix(c.Err(), "NOSCRIPT")
}

// Observe implements Counter: one pipelined round trip (two when Redis
// has lost its script cache).
func (r *RedisCounter) Observe(ctx context.Context, o Observation) (Counts, error) {
	var c Counts
	if o.Caller == "" && o.Dialed == "" {
		return c, nil
	}
	callerRes, dialedRes, err := r.send(ctx, o, false)
	if err != nil && (isNoScript(callerRes) || isNoScript(dialedRes)) {
		// Redis restarted or flushed its scripts. A script that answered
		// NOSCRIPT did nothing: send exactly those again, in full.
		retry := o
		if !isNoScript(callerRes) {
			retry.Caller = ""
		}
		if !isNoScript(dialedRes) {
			retry.Dialed = ""
		}
		cr, dr, rerr := r.send(ctx, retry, true)
		if retry.Caller != "" {
			callerRes = cr
		}
		if retry.Dialed != "" {
			dialedRes = dr
		}
		err = rerr
	}
	if err != nil {
		return Counts{}, fmt.Errorf("behavior: count: %w", err)
	}
	if callerRes != nil {
		v, err := callerRes.Int64Slice()
		if err != nil || len(v) != 3 {
			return Counts{}, fmt.Errorf("behavior: count: caller script answered %v: %w", callerRes.Val(), err)
		}
		c.Burst, c.Gray, c.Honeypot = int(v[0]), int(v[1]), v[2] == 1
	}
	if dialedRes != nil {
		v, err := dialedRes.Int64Slice()
		if err != nil || len(v) != 2 {
			return Counts{}, fmt.Errorf("behavior: count: dialed script answered %v: %w", dialedRes.Val(), err)
		}
		c.Flood = floodEstimate(int(v[0]), int(v[1]), o.Time)
	}
	return c, nil
}

// Flag implements Counter.
func (r *RedisCounter) Flag(ctx context.Context, tenant, caller, id string, t time.Time, keep time.Duration) error {
	now := t.UnixMilli()
	if id == "" {
		id = strconv.FormatInt(now, 10)
	}
	err := flagScript.Run(ctx, r.rdb, []string{r.tag(tenant, caller) + ":flags"}, now, max(keep.Milliseconds(), 1), id, maxFlags).Err()
	if err != nil {
		return fmt.Errorf("behavior: flag: %w", err)
	}
	return nil
}

// callMember names a call in the caller's call set: its id, or a random
// one.
func callMember(o Observation, now int64) string {
	if o.ID != "" {
		return o.ID
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strconv.FormatInt(now, 10) + "-" + hex.EncodeToString(b[:])
}
