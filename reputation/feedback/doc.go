// Package feedback keeps what agents say about callers: "this was spam" or
// "this was not spam", per tenant, from `callscreen report` (and later the
// admin API). It is a reputation source early in the chain: a report adds
// caller.reported_spam or caller.reported_ok, which the policy lets block
// a caller or override what providers and the feed say about them.
//
// Reports live in Redis when Redis is configured (every instance sees them
// at once), else in an append-only file under data_dir that `callscreen
// report` and `callscreen serve` share, else (no data_dir) in memory only.
// They are kept, not just applied, so they can be exported and uploaded as
// spam reports.
//
// It must never decide an action (the policy does), never make a report's
// verdict Final (a must-pass or must-block list still has its say), and
// never lose a report because one line of the file is damaged: a bad line
// is skipped and counted.
package feedback
