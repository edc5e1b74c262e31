// Package admin is the operators' side of callscreen: the admin HTTP API
// (health, lists, check, feedback, recent decisions with CSV export,
// statistics per profile and per DID with the series of the charts, a live
// stream of decisions), /metrics and the supervisors' dashboard, one page
// embedded in the binary with its charting library (uPlot, vendored under
// ui/vendor with its licence).
//
// It reaches the rest of callscreen only through small interfaces declared
// here (Checker, ListStore, Feedback, Decisions, Stream, Statistics, and
// Outbound for GET /api/v1/outbound and the dashboard's "Outbound health"
// panel, drawn by ui/outbound.js); Recent is the in-memory store of recent
// decisions that implements Decisions and Stream and receives decisions as
// a decision.Recorder, *stats.Stats implements Statistics (the charts and
// the per-DID figures, drawn by ui/stats.js), Lists adapts the screening's
// must-pass and must-block lists to ListStore, and FeedbackStore adapts
// the agents' report store to Feedback.
//
// The bulk endpoints (bulk.go, bulk_api.go) are what the commands
// `callscreen lists`, `report` and `feed` use through a running server:
// list imports and exports as CSV (POST and GET /api/v1/lists.csv),
// reports withdrawn and exported (DELETE and GET /api/v1/feedback), feed
// imports and pulls (POST /api/v1/feed, /api/v1/feed/pull); ListTransfers,
// FeedbackReports and Feed adapt the stores to them, and serve the
// commands directly when no server runs. Client (client.go) is the
// commands' side. Uploads must be text/csv or JSON (a form post from
// another site is refused), are capped (DefaultMaxUpload) and may take
// longer than the server's read timeout; an export that fails part way
// says so in a trailer, so a cut file is never taken for a whole one.
//
// # Access
//
// The server listens on 127.0.0.1:8089 by default. With admin.token set,
// every request but GET /healthz and the page's static files must carry
// "Authorization: Bearer TOKEN" (compared in constant time), else 401.
// New refuses a listen address that is not loopback without a token.
// Without a token, requests naming a host other than a loopback address or
// localhost are refused (DNS rebinding), and so is every request a browser
// marks cross-site. Bodies are JSON only, capped (64 KiB; 413 beyond),
// unknown fields rejected; bad input is a 400 that says what is wrong.
//
// The dashboard asks for the token once and keeps it in sessionStorage (it
// is gone when the tab closes and never sent to another origin); it sends
// it as the Authorization header on every API call, the live stream
// included (read with fetch, not EventSource, which cannot send headers).
// No cookie is used, so there is nothing for another site to ride on. The
// page loads no external script, style or font, and its
// Content-Security-Policy forbids inline script; every value from a call
// (caller names included) is inserted as text, never as HTML.
//
// The package must never block the call path: Recent.Record takes a short
// lock and drops a stream subscriber that cannot keep up rather than wait.
package admin
