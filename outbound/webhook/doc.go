// Package webhook delivers outbound-health events to an operator's URL:
// a JSON POST signed with HMAC-SHA256, retried with backoff
// (hashicorp/go-retryablehttp) on network errors, 429 and 5xx.
//
// Each delivery carries three headers: X-Callscreen-Delivery (an id, the
// same on every retry, so a receiver can drop duplicates),
// X-Callscreen-Timestamp (Unix seconds) and X-Callscreen-Signature
// ("sha256=" and the hex HMAC-SHA256, keyed with the shared secret, of the
// timestamp, a ".", and the body). Verify is the receiver's check, the one
// docs/outbound-health.md describes.
//
// The package must never be used on the call path: a delivery can take
// seconds to minutes; callers run it in the background with a context that
// ends at shutdown. The secret is never logged or put in an error.
package webhook
