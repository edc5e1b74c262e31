// Package monitor keeps the outbound-health report of a running
// `callscreen serve` current: every refresh interval it reads the CDRs
// written since the last refresh (a followed Master.csv or the FreePBX
// table), slides the window, judges the numbers, sets the Prometheus
// gauges (one series set per own number: bounded by the configured numbers
// or outbound.max_numbers), logs an ERROR line when a number becomes
// likely to be labelled spam (INFO when it recovers) and tells the
// webhook. *Monitor implements admin.Outbound for GET /api/v1/outbound.
//
// A CDR source that fails (an unreachable database, a missing file) is
// logged and reported in the status; the last good report stays, and the
// next refresh tries again. The package runs beside the screening, never
// in front of it: it must never block, delay or change an inbound call,
// and nothing in the screening flow may wait for it.
package monitor
