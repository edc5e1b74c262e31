// Package lists is the must-pass and must-block lists, a reputation.Source
// that runs first in the chain.
//
// Entries match a caller by exact number, number prefix, number range, or
// caller-name pattern (see ParseEntry for the syntax). Must-pass wins over
// everything: Lookup returns list.allow (Final). A must-block number,
// prefix or range returns list.block with tier SPAM (Final); a must-block
// name pattern returns list.block_name with tier SPAM (Final).
//
// The list files (Options.AllowFile, Options.BlockFile) hold one entry per
// line:
//
//	# comment lines and blank lines are ignored
//	+12125551234                 # exact number; the comment is the note
//	(212) 555-1234               # national form, read in Options.Region
//	911                          # short code (2 to 6 digits)
//	+1900*                       # prefix: every number starting +1900
//	+12125550100..+12125550199   # inclusive range of equal-length numbers
//	name:*CAR WARRANTY*          # caller-name glob: * any run, ? one char,
//	                             # case-insensitive, matched on the whole name
//
// File entries apply to every tenant. A bad line is logged with its file and
// line number, counted (callscreen_lists_bad_lines) and skipped; it never
// takes a list down. Reload re-reads the files and swaps the new lists in
// atomically; a file that cannot be read keeps its last good entries. Watch
// reloads on SIGHUP and when a file changes (fsnotify, on the directory, so
// editors that rename a new file into place are seen); a file that changed
// less than Options.Quiet ago is read as possibly half written, so entries
// only disappear once it has been quiet and a pausing writer never lets a
// listed caller through.
//
// Entries added at run time (Apply, Add, Remove; `callscreen lists
// import|add|remove`) carry a tenant, an optional expiry, a note and who
// added them, and live in a Store: RedisStore (shared; a change log lets
// every instance apply another's change within a second), BoltStore
// (data_dir/lists.db without Redis; seen on SIGHUP or restart) or MemStore.
// In memory, exact numbers of each tenant and list sit in a compact set
// (package numset, about 9 bytes a number) with a small copy-on-write
// overlay of recent changes; prefixes, ranges and patterns in maps. ReadCSV
// and WriteCSV read and write the native CSV layout and the FreePBX
// Blacklist export.
//
// Use:
//
//	l, err := lists.New(lists.Options{AllowFile: "allow.txt", BlockFile: "block.txt",
//		Region: "US", Store: lists.NewRedisStore(rdb, lists.RedisOptions{}), Logger: log})
//	go l.Watch(ctx)
//	chain := reputation.Chain{{Name: lists.SourceName, Source: l}, ...}
//
// The package must never block a call: Lookup does no I/O and never fails,
// and a broken file or an unreachable store never empties a list that
// loaded before.
package lists
