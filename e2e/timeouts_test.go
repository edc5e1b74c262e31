package e2e

// callPathSeconds raises, through the environment, the call path's Redis
// timeouts and reputation budget (milliseconds by default: redis 50ms, a
// call's lookups 500ms) to seconds. A test that checks what a call gets
// from Redis-backed checks (shared counters, lists, statistics), or a
// document's output, is not about those timeouts: a busy machine must not
// make its calls fail open.
var callPathSeconds = []string{
	"CALLSCREEN_REDIS_DIAL_TIMEOUT=5s",
	"CALLSCREEN_REDIS_READ_TIMEOUT=5s",
	"CALLSCREEN_REDIS_WRITE_TIMEOUT=5s",
	"CALLSCREEN_REPUTATION_CACHE_L2_TIMEOUT=5s",
	"CALLSCREEN_REPUTATION_BUDGET=3s",
}
