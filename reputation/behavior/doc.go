// Package behavior catches a number nobody has reported yet by what it
// does: a reputation.Source that runs after the lists and the feed.
//
// Signals (thresholds from the call's profile; a zero threshold is off):
//
//   - velocity.caller_burst: more than BurstCalls calls from one number
//     within BurstWindow (default 4 in 10 minutes);
//   - velocity.did_flood: the dialed number receives more than
//     FloodPerMinute calls a minute (FloodPerMinuteAfterHours outside the
//     profile's business hours): every caller is challenged during the
//     flood;
//   - caller.neighbor: the caller shares NPA-NXX with the dialed number but
//     is not a known customer (configured, or on the must-pass list);
//   - caller.own_number: the caller ID is one of our own DIDs (spoofed);
//   - velocity.repeat_gray: the caller was challenged or flagged RepeatGray
//     times within RepeatWindow (fed by Record, a decision.Recorder);
//   - caller.honeypot: the caller dialed one of our unassigned honeypot
//     DIDs within HoneypotFor.
//
// Counting goes through a Counter: RedisCounter (shared by every instance,
// atomic through Lua scripts, one pipelined round trip a call) or
// MemoryCounter (bounded LRU, one process). RedisVerifier keeps the
// verified-human memory in Redis for screen.Flow.
//
// The package must never hold a call: counting is bounded by a short
// timeout, and when the counters fail the configuration checks
// (own number, neighbour, honeypot dial) still answer, with
// provider.unavailable added. Record never blocks.
package behavior
