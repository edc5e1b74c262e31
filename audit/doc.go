// Package audit is the append-only, tamper-evident decision log and its
// verifier.
//
// Every screened call becomes one Record line. Records are hash-chained:
// each carries the hash of the one before it (prev) and ends with its own
// hash (seal), so changing, removing, inserting or reordering a record
// breaks the chain. Every CheckpointEvery records and every
// CheckpointInterval, a Checkpoint line signed with an ed25519 key states
// which record the log had reached; checkpoints are numbered without gaps,
// so an old one copied in or one removed shows. Verify checks all of it
// and names the first bad line.
//
// # Format
//
// A log is a directory of files named audit-SEQ-DAY.jsonl (SEQ the first
// seq of the file, twelve digits; DAY the UTC day it was opened,
// YYYYMMDD), so the names sort in log order. The chain runs across files:
// the first record of a file links to the last record of the one before.
// Each line is one JSON object ending in "\n":
//
//   - canonical bytes: the entry (Record or Checkpoint) marshalled by Go's
//     encoding/json. Their fields are declared in the order of their JSON
//     keys, so the keys are sorted; strings are escaped the encoding/json
//     way (including \u003c for '<').
//   - record line: canonical bytes with the last '}' replaced by
//     `,"hash":"H"}` where H is the lower-case hex SHA-256 of the canonical
//     bytes. Since the canonical bytes hold prev (the previous record's H;
//     64 zeros for seq 1), H_n = SHA-256(canonical_n) chains over every
//     record before it.
//   - checkpoint line: canonical bytes with `,"sig":"S"}` appended the same
//     way, S the hex ed25519 signature of "callscreen audit checkpoint
//     v1\n" followed by the canonical bytes. A checkpoint names its key by
//     KeyID and states seq and hash of the record right before it, and its
//     number n (1, 2, 3, ... across the whole log).
//
// The seal member is always last, so a verifier recovers the canonical
// bytes exactly by cutting it off, whatever fields later versions add.
// The head file (head.json) holds a copy of the latest durable checkpoint:
// a log that ends before it was truncated.
//
// # Guarantees
//
// Record never blocks a call: it copies the result onto a bounded queue and
// returns; a full queue (disk failing or too slow) drops the record, counts
// it and says so. One writer goroutine encodes, hashes, writes and fsyncs
// (by default every 100 ms; a record counts as written only once fsynced,
// see Written and Append). A failing disk does not lose what is in memory:
// the writer cuts the file back to its durable size and writes again once
// the disk recovers.
//
// The package must never hold a call, never rewrite a durable line (the
// only cut is a partial last line left by a crash, which was never
// reported written), and never sign with a key it did not load from
// KeyFile. The signing key next to the log proves only that the writer
// wrote it; to detect a rewrite by someone who can read the key, keep the
// public key and head checkpoints elsewhere and verify with --pubkey.
package audit
