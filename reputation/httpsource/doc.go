// Package httpsource is the generic HTTP reputation source, so an operator
// can plug in their own service (a CRM, a paid lookup): callscreen POSTs
// {number, name, dialed, profile} as JSON and reads {tier, score, reasons}.
//
// It also holds the HTTP plumbing every provider adapter shares: BaseURL
// checks a configured base URL; Do sends one request under the caller's
// context, caps the body at MaxBody, reads Retry-After on 429, and turns
// every failure into a classified reputation.ProviderError; Get is Do for
// a JSON GET with fixed headers.
//
// It must never read an unbounded body, wait past its context, retry on its
// own (package reputation decides what happens after a failure), or log the
// token.
package httpsource
