// Package metricslint holds the test that keeps callscreen's metrics
// honest. Like CoreDNS's test/metric_naming_test.go it walks the whole
// tree: every metric any package defines with a prometheus constructor is
// found in the source, linted by promlint and held to the house rules
// (callscreen_<area>_<thing> in the package's own area, counters _total,
// durations _seconds, a help text, built only inside a NewMetrics(reg)
// function and never in the global registry); and the Grafana dashboard
// may only query metrics that exist. A new package is covered without
// being listed anywhere.
//
// It has no code of its own and must never be imported.
package metricslint
