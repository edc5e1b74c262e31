// Package callerapi is the CallerAPI reputation provider: one
// GET {url}/api/lookup/{E164} with the X-Auth key per uncached caller,
// mapped to SPAM, BUSINESS (with or without recent spam reports) or
// UNKNOWN with CallerAPI's own fields kept for operators.
//
// It must never send anything but the caller's number and the key, never
// log the key, and never wait past its context: the budget, breaker and
// cache around it live in package reputation.
package callerapi
