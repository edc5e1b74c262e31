// Package audit is the append-only, tamper-evident decision log and its
// verifier: what a supervisor shows when a caller disputes a block.
//
// Every screened call becomes one Record line. Records are hash-chained:
// each carries the hash of the entry before it (prev) and ends with its
// own hash (seal), so changing, removing, inserting or reordering one
// breaks the chain. Every CheckpointEvery entries and every
// CheckpointInterval, a Checkpoint line signed with an ed25519 key states
// which entry the log had reached; checkpoints are numbered without gaps,
// so an old one copied in or one removed shows. Verify checks all of it
// from seq 1 and names the first bad line.
//
// # Files
//
// One job a file, as Prometheus tsdb/wlog keeps its write-ahead log:
// log.go (options, Open, Commit, Record, Append, Close), write.go (the
// writer's buffer, writing whole lines, disk failures, gaps), sync.go
// (the log's goroutine: group fsync, rotation, head file, shutdown),
// recover.go (Open's reading of the newest files, crash repair, breaks),
// record.go (the entries and their encoding), read.go (listing, scanning,
// head and checkpoint files), verify.go (the verifier), witness.go (the
// off-box copy of the checkpoints), key.go, metrics.go.
//
// # Format
//
// A log is a directory of files named audit-SEQ-DAY.jsonl (SEQ the seq of
// the file's first entry, twelve digits; DAY the UTC day it was opened,
// YYYYMMDD), so the names sort in log order and a file that lost its
// first lines shows. The chain runs across files: the first entry of a
// file links to the last entry of the one before, and every file but the
// newest ends with the checkpoint that sealed it at rotation. Each line is
// one JSON object ending in "\n":
//
//   - canonical bytes: the entry marshalled by Go's encoding/json. Their
//     fields are declared in the order of their JSON keys, so the keys are
//     sorted; strings are escaped the encoding/json way (including \u003c
//     for '<').
//   - record, gap and break lines (the chain entries): canonical bytes
//     with the last '}' replaced by `,"hash":"H"}` where H is the
//     lower-case hex SHA-256 of the canonical bytes. Since the canonical
//     bytes hold prev (the previous entry's H; 64 zeros for seq 1),
//     H_n = SHA-256(canonical_n) chains over every entry before it.
//   - checkpoint line: canonical bytes with `,"sig":"S"}` appended the
//     same way, S the hex ed25519 signature of "callscreen audit
//     checkpoint v1\n" followed by the canonical bytes. A checkpoint names
//     its key by KeyID and states seq and hash of the entry right before
//     it, and its number n (1, 2, 3, ... across the whole log).
//   - a gap entry says how many decisions never reached the log (dropped
//     while the disk failed and memory was full) where they would have
//     been, with the times of the first and last.
//   - a break entry starts the file a log went on in after Open found it
//     damaged (see below).
//
// The seal member is always last, so a verifier recovers the canonical
// bytes exactly by cutting it off, whatever fields later versions add.
// The head file (head.json) holds a copy of the latest durable
// checkpoint: a log that ends before it was cut, and a sealed log that
// goes on past it was given an old one.
//
// # What is kept, and when
//
// The flow calls Commit right before it sends a call's routing variables:
// Commit encodes the record and writes it to the file (write(2), no
// fsync) before it returns, so once a caller has a CALLSCREEN_ID, a crash
// of the process (kill -9, a panic, the OOM killer) loses nothing. The
// record holds the decision as it was about to be sent (its duration runs
// to that moment); a failure to send the routing variables afterwards is
// the flow's to log and count, and a fail-open after a panic is committed
// as a second record with the same id. The
// log's own goroutine fsyncs what was written every FsyncInterval (group
// commit; the fsync runs while calls keep writing). A crash of the machine
// (power loss, kernel panic) can therefore lose what was written since the
// last fsync: with fsync batch at most FsyncInterval (100 ms) of decisions,
// with fsync always the fsync in progress, with fsync none whatever the
// kernel had not written back (typically up to 30 s).
//
// Commit never holds a call for long. A writer stalled in the kernel for
// CommitWait makes it queue the record instead (counted as a late
// commit). A failing disk (full, I/O errors) makes it keep the record in
// memory, up to MaxBacklog bytes; past that decisions are dropped and
// counted, and a gap entry states how many once writing resumes. Writing
// resumes with the first space that returns, in whole lines, as much as
// fits (a disk with room for part of the backlog takes that part). Record
// queues without writing (for tools; the flow's final Record of a
// committed result is skipped), Append waits until durable.
//
// # Damage
//
// Open reads the newest files. A partial last line left by a crash is cut
// (it was never reported written); entries after the last checkpoint get
// one. Anything else that does not verify (a changed byte, two servers
// that wrote the same file, a head cut from a file, a log cut behind its
// head file) never stops the log: Open renames the damaged file and every
// file after it to NAME.broken-TIME (never deleted), starts a new file
// with a break entry stating the last entry that verified (seq and hash,
// also its prev), the reason naming the first bad line, the set-aside
// files, and the highest checkpoint number issued, so no seq and no
// checkpoint number is ever issued twice; logs an error and counts
// callscreen_audit_breaks_total. Verify reads the set-aside files up to
// the last good entry, goes on after the break, and reports every break
// (ErrBreak) unless something worse comes first.
//
// # What the signatures prove
//
// The package must never hold a call, never rewrite a durable line (the
// only cut is a partial last line left by a crash), never delete a log
// file, and never sign with a key it did not load from KeyFile. The
// signing key next to the log proves only that the writer wrote it: whoever
// can read the key can rewrite the log and sign it again. Keep the public
// key elsewhere and verify with it (a log re-signed with a new key then
// fails), and configure a witness: every durable checkpoint is also sent
// to an HTTPS URL or appended to a file on another mount (retried;
// callscreen_audit_witness_lag_seconds says how far behind it is), and
// verifying against what the witness holds catches a log cut back or
// rewritten even with the stolen key.
package audit
