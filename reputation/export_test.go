package reputation

// InFlight returns how many lookups are waiting on a provider request, for
// tests that must know callers have joined a request before it answers.
func (p *Providers) InFlight() int64 { return p.inflight.Load() }
