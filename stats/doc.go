// Package stats keeps the statistics of screened calls that the
// supervisors' dashboard, GET /api/v1/stats, GET /api/v1/stats/dids and
// `callscreen report dids` show: per-minute and per-hour buckets of
// counts (calls; allowed, blocked, challenged; passed, failed, abandoned;
// intercepted, voicemail; monitored, held blocks and challenges; each
// reason code) by profile and DID.
//
// A Stats is a decision.Recorder. It keeps minute buckets for MinuteKeep
// (48 h) and hour buckets for the Retention (8 days); queries use minutes
// where they have them and hours elsewhere, a bucket counting when it
// starts within the range. At start, Rebuild reads the decision log over
// the retention, so a restart shows the same figures. With Redis, every
// instance also adds its counts to shared per-minute and per-hour hashes
// and queries read their sum, so any instance shows the calls of all;
// when Redis does not answer, a query answers with this instance's own
// figures and says so (Source.Warning), and the counts wait in memory
// until Redis is back. Writes to Redis are idempotent (numbered batches,
// see redis.go), so a write sent again after a failure is counted once.
//
// Junk is what a DID should not have drawn: calls blocked outright, failed
// challenges, and in monitor mode the calls that would have been blocked.
// The junk share is junk over calls; Release says when it is high enough
// for long enough to think of releasing the number.
//
// The package must never block the call path (Record takes a short lock
// and hands Redis writes to a queue that drops rather than waits), never
// let what a trunk sends widen its keys (a dialed number that is not a
// number counts as DIDUnknown, DIDs beyond MaxDIDs as DIDOther), and never
// write to Redis what it rebuilt from the log (another instance's counts
// are already there).
package stats
