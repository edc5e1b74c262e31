// Package reputation says what is known about a caller: must-pass and
// must-block lists, the daily spam-report feed, caller behaviour, agents'
// reports, a cache, and external providers, each a Source, run as a Chain
// cheapest first. The chain a server builds is
//
//	feedback → lists → feed → behaviour → providers (through the cache)
//
// Providers is the last stage: every enabled provider adapter
// (reputation/callerapi, reputation/youmail, reputation/httpsource), asked
// in parallel under one budget per call (reputation.budget, 400ms), through
// the two-level cache (reputation/cache: in-process L1, Redis L2). A
// number's request to a provider is made once however many calls ask
// (singleflight), runs detached from the calls that wait on it so that a
// caller hanging up never fails the others, and fills the cache even when
// it answers after the budget. Each provider has a circuit breaker and
// honours Retry-After; both live in ProviderStates, by provider name, so
// that the Providers a reload builds anew find them again. Failures are classified (ErrorClass, ProviderError)
// and counted, never cached.
//
// A source that answers from this process's memory says so (Local): the
// lists, the feed, critical numbers, agents' reports kept in memory or in
// the data_dir file, behaviour counters in memory. A caller may ask a
// chain made only of such sources on its own goroutine, without a timer
// (the screening flow does); Redis and the providers make a chain that is
// asked aside, within a deadline.
//
// It knows sources, not calls: it must never touch a channel or decide an
// action (that is package policy's job). Every source failure is reported,
// never fatal: the chain fails open with provider.unavailable, and no
// source may hold a call past its context's deadline.
package reputation
