package reputation

import (
	"context"
	"errors"
	"time"

	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
)

// Query is one reputation lookup: who is calling whom, for which tenant and
// profile.
type Query struct {
	// CallID is the decision id, for logs.
	CallID string
	// Tenant namespaces lists, caches and counters; "" is the default tenant.
	Tenant string
	Caller number.Number
	// Name is the caller ID name, "" when absent.
	Name   string
	Dialed number.Number
	// Profile is the profile the call is screened with; sources read their
	// thresholds from it.
	Profile policy.Profile
	// Time is when the call arrived.
	Time time.Time
}

// Risk is a provider's risk rating.
type Risk string

// The risk ratings; "" is no rating.
const (
	RiskLow    Risk = "low"
	RiskMedium Risk = "medium"
	RiskHigh   Risk = "high"
)

// Verdict is what one source, or the whole chain, says about a caller.
type Verdict struct {
	// Verdict carries the tier, score and reasons the policy reads.
	policy.Verdict
	// Risk is the provider's risk rating, "" when none.
	Risk Risk
	// RecentReports counts spam reports within the profile's report window.
	RecentReports int
	// Source names the source that answered ("lists", "callerapi").
	Source string
	// Raw holds fields an operator may want to see, as the source gave them.
	Raw map[string]string
	// Age is how old the data is (time since the source produced it).
	Age time.Duration
	// Final marks a hard verdict: the chain stops after it.
	Final bool
	// Sources reports every source the chain consulted, in order. Only
	// chains fill it: Chain, and Providers with one report per provider.
	Sources []Report `json:",omitempty"`
}

// Report is one source's part in a chain lookup.
type Report struct {
	Source  string
	Verdict Verdict
	Err     error
	Latency time.Duration
}

// Source is one place reputation comes from: a list, a feed, a behaviour
// counter, a cache, a provider.
//
// Lookup outcomes:
//   - (v, nil): the source answered. A v without reasons and tier means the
//     source knows nothing about the caller. v.Final stops the chain.
//   - (_, ErrNotCovered): the source does not cover this caller (for example
//     a NANP-only provider and an international caller); nothing was sent.
//   - (_, any other error): the source failed; the chain records
//     provider.unavailable for it and goes on (fail-open).
//
// Lookup honours ctx's deadline and never blocks past it.
type Source interface {
	Lookup(ctx context.Context, q Query) (Verdict, error)
}

// Local is a Source that can say it answers from this process's memory:
// no I/O, no waiting on anything but a short lock, whatever ctx says.
// Local reports false when the source is configured to do I/O (a Redis
// store behind it). A caller may ask a local source on its own goroutine
// and without a deadline of its own (the flow does, for a chain of them).
type Local interface {
	Source
	Local() bool
}

// IsLocal reports whether s is a Local source that says it is local.
func IsLocal(s Source) bool {
	l, ok := s.(Local)
	return ok && l.Local()
}

// SourceFunc adapts a function to a Source.
type SourceFunc func(ctx context.Context, q Query) (Verdict, error)

// Lookup calls f.
func (f SourceFunc) Lookup(ctx context.Context, q Query) (Verdict, error) { return f(ctx, q) }

// ErrNotCovered reports that a source does not cover the caller.
var ErrNotCovered = errors.New("caller not covered by source")
