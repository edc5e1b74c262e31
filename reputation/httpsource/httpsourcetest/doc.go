// Package httpsourcetest provides real HTTP servers on loopback that
// behave like reputation providers, well and badly: slow, 5xx, 429 with
// Retry-After, invalid JSON, a 10 MB body, a body that trickles, a port
// where nothing listens. Provider adapter tests and the provider stage
// tests share it, and ReadmeExamples checks the example answers of a
// provider's README against the adapter.
//
// It is for tests only and must never be imported by production code.
package httpsourcetest
