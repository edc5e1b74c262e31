// Package cache keeps provider verdicts so a caller is asked about once per
// TTL, not once per call: L1 is a bounded in-process LRU, L2 is Redis
// shared by every callscreen instance. With no Redis client it is L1 only
// (the embedded default).
//
// Keys are namespaced per tenant and per provider:
//
//	cs:<tenant>:rep:v1:{+12125551234}:callerapi
//
// (the braces around the number are a Redis Cluster hash tag: every
// provider's entry for one number lives in one slot and is read with one
// MGET). Values are a version byte followed by compact JSON; a value of
// another version, or one that does not decode or validate, is a miss and
// is counted, never an error and never a block.
//
// TTLs follow the verdict: spam (tier SPAM, risk high) is kept long
// (cache.ttl.spam, 24h), suspect callers (risk medium, recent reports) for
// cache.ttl.suspect (1h), everything else short (cache.ttl.clean, 15m).
// Errors are never stored: package reputation only hands over answers.
//
// The cache must never fail a call: every Redis failure reads as a miss or
// a skipped write, bounded by a short timeout, and after repeated failures
// L2 is left alone for a while (a breaker) so a stalled Redis does not
// cost every call a timeout.
package cache
