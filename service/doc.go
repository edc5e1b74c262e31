// Package service is the lifecycle of `callscreen serve`: one server, built,
// checked, started, reloaded and closed in the order Caddy's modules use
// (provision, validate, then clean up the old).
//
//	Build(cfg)      every source, store setting, listener and component the
//	                configuration describes; no socket, no file written,
//	                no goroutine
//	Set.Validate    what only the machine can say: the data directory and
//	                the decision log's can be written, the files read
//	Server.Start    lock the data directory (a second server on it is
//	                refused at once, naming the holder's pid), open the
//	                shared parts (Redis, cache, provider states, lists,
//	                feed, agents' reports, behaviour, verified callers,
//	                decision log), build the flow over them, start the
//	                components
//	Server.Reload   load the configuration again, Build, Validate and
//	                provision a whole new set; only then swap its flow in
//	                (atomically: calls in progress finish with the old one)
//	                and let the old set's providers finish in the
//	                background. Any failure keeps the old set and says so
//	                (log, callscreen_config_last_reload_successful 0).
//	                Settings read only at start are named in the log, as
//	                config.RestartKeys derives them from the schema.
//	Server.Close    the CallTakers stop taking calls together and drain
//	                within shutdown_timeout, then the other components
//	                stop, last started first; then the providers finish,
//	                the decision log is sealed, the lock released
//
// `serve --check-config` is Build and Validate: it refuses exactly what
// serve refuses, except what only a running machine can refuse (a port in
// use, a data directory another server holds, a damaged decision log).
//
// What must outlive a reload lives in the shared parts, not in a Set: the
// providers' circuit breakers and Retry-After holds are kept by provider
// name in reputation.ProviderStates, the verdict cache and the lists, feed
// and counters in their stores.
//
// # Components
//
// A Component is one part of the server that works in the background: the
// FastAGI listener, the ARI applications, the admin API, the list and feed
// watchers, the daily feed pull. Its interface is small: Name, Start (with
// a Host: the shared parts, the flow in force, the metrics registry, and
// Fail to stop the server when its work ends by itself) and Stop (take
// nothing new, finish what runs until the context ends). Three optional
// interfaces add to it: CallTaker (a transport: at shutdown all drain
// together, before the rest stops), Detailer (lines for /readyz; a
// NotReady one makes it answer 503) and Describer (fields for the
// "callscreen serving" line). A new part of the server (an ARI outbound
// WebSocket listener, a CDR health scheduler, statistics rebuilt from the
// decision log, a systemd watchdog fed by the accept loop, a decision-log
// witness) is one type implementing Component and one line in components;
// nothing else changes.
//
// The commands that write the server's state (lists, feed, report) go
// through the server's admin API while it runs; with none running they
// find where the state lives with RedisOptions, ListStore, FeedStore and
// LockDataDirFor, so that they write where the server reads. The lock
// file then names the command, and a server that starts meanwhile waits
// for it (at most CommandWait) instead of refusing as it refuses a second
// server.
//
// The package must never decide anything about a call (that is screen and
// policy), never parse a flag (that is cmd/callscreen), and never open a
// socket or write a file before Start.
package service
