// Package feed is the daily spam-report feed: numbers that people reported
// yesterday, stopped today without a per-call fee. It is a
// reputation.Source that runs after the lists.
//
// Reports come from a JSON file (pulled daily from a configured URL, or
// imported) or from the US FTC "Do Not Call reported calls" CSV layout.
// Each number keeps its last report day, how many reports it had, and
// whether any report said robocall, for a retention window (default 30
// days). A number reported within the window gets feed.daily_report (and
// feed.robocall when a report said so), Final: the profile decides block
// or challenge, and no provider is asked.
//
// Lookups read an in-memory compact set (numset, about 9 bytes a number).
// The data is kept in Redis when configured, so one instance pulls and all
// see it, or in the data directory (bbolt) otherwise, so an import is seen
// by `callscreen check` and by a restarted or reloaded `serve`. Imports
// are streamed, batched and pipelined; a malformed row is counted and
// skipped with its line number; a pull that fails (HTTP error, timeout, a
// half-written body) changes nothing, so yesterday's data stays.
//
// The package must never block a call on I/O: Lookup reads memory only and
// never fails.
package feed
