// Package metricslint holds the test that keeps callscreen's metrics
// honest: it builds every package's metrics with its NewMetrics against one
// registry, runs promlint over them, checks the house naming rule
// (callscreen_<area>_<thing>, counters _total, durations _seconds), and
// checks that the Grafana dashboard only queries metrics that exist.
//
// It has no code of its own and must never be imported.
package metricslint
