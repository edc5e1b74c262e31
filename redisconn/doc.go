// Package redisconn builds the one Redis client callscreen shares between
// its cache, lists, feed, behaviour counters and agent feedback, from the
// redis.* configuration: a single node, a Sentinel-managed master or a
// Cluster, through go-redis's UniversalClient.
//
// The client is tuned for the call path: every command honours its
// context's deadline (ContextTimeoutEnabled), reads and writes time out
// quickly, nothing is retried (a stalled Redis costs one timeout, not
// three), and a dead server is reconnected in the background.
//
// It must never hold a call waiting on Redis longer than its timeouts, log
// the password, or make Redis a requirement: with no addresses configured
// New returns a nil client and callscreen runs on its embedded defaults.
package redisconn
