package service

import (
	"context"
	"fmt"

	"github.com/callscreen/callscreen/admin"
	"github.com/callscreen/callscreen/cdr"
	"github.com/callscreen/callscreen/cdr/cdrdb"
	"github.com/callscreen/callscreen/config"
	"github.com/callscreen/callscreen/outbound"
	"github.com/callscreen/callscreen/outbound/monitor"
	"github.com/callscreen/callscreen/outbound/webhook"
)

// outboundMonitor judges our outbound numbers from the CDRs in the
// background (outbound.cdr_file or outbound.dsn). Nothing here can stop or
// delay screening: a source that cannot be opened or read is logged
// (ERROR) and retried at every refresh, and the server goes on. It starts
// before the admin API, which serves what it judged (Host.Outbound).
type outboundMonitor struct {
	runner
}

// newOutboundMonitor is nil when no CDR source is configured.
func newOutboundMonitor(cfg *config.Config) Component {
	if !cfg.Outbound.Enabled() {
		return nil
	}
	m := &outboundMonitor{}
	m.runner = runner{name: "outbound monitor", run: m.run}
	return m
}

func (m *outboundMonitor) Start(ctx context.Context, h *Host) error {
	cfg := h.Config
	o := cfg.Outbound
	src, name, closeSrc, err := outboundSource(cfg)
	if err != nil {
		h.Log.Error("outbound: not started; screening goes on", "err", err)
		return nil
	}
	var hook monitor.Sender
	if o.Webhook.URL != "" {
		hook = webhook.New(webhook.Options{URL: o.Webhook.URL, Secret: o.Webhook.Secret.Value(), Retries: o.Webhook.Retries, Timeout: o.Webhook.Timeout})
	}
	mon := monitor.New(monitor.Options{
		Source: src, SourceName: name, Aggregator: OutboundOptions(cfg), WindowDays: int(o.Window.Hours() / 24),
		Refresh: o.Refresh, Webhook: hook, Logger: h.Log, Metrics: monitor.NewMetrics(h.Registry),
	})
	h.Outbound = mon
	m.runner.run = func(ctx context.Context, _ *Host) error {
		defer closeSrc()
		mon.Run(ctx)
		return nil
	}
	return m.runner.Start(ctx, h)
}

// run is replaced in Start once the source is open.
func (m *outboundMonitor) run(context.Context, *Host) error { return nil }

// OutboundOptions are the aggregator's settings from cfg.
func OutboundOptions(cfg *config.Config) outbound.Options {
	o := cfg.Outbound
	return outbound.Options{
		Own: cfg.OwnNumbers, Contexts: o.Contexts, Region: cfg.Number.DefaultRegion, Location: o.Location(),
		Thresholds: o.ThresholdsValue(), MaxNumbers: o.MaxNumbers,
	}
}

// outboundSource opens the configured CDR source for following: the
// Master.csv or the database (not connected yet). name says which, without
// the password.
func outboundSource(cfg *config.Config) (src monitor.Source, name string, closeFn func(), err error) {
	o := cfg.Outbound
	if o.DSN.IsSet() {
		r, err := cdrdb.Open(CDRDBOptions(o))
		if err != nil {
			return nil, "", nil, fmt.Errorf("outbound.dsn: %w", err)
		}
		return r, r.Where(), func() { _ = r.Close() }, nil
	}
	f := cdr.NewFollower(o.CDRFile, CDRCSVOptions(o))
	return f, o.CDRFile, func() { _ = f.Close() }, nil
}

// CDRCSVOptions is the Master.csv layout and zone of o.
func CDRCSVOptions(o config.Outbound) cdr.CSVOptions {
	return cdr.CSVOptions{
		Layout:   cdr.Layout{UniqueID: o.CSV.LogUniqueID, UserField: o.CSV.LogUserField, NewColumns: o.CSV.NewCDRColumns},
		Location: o.Location(),
	}
}

// CDRDBOptions is how o reads FreePBX's CDR table.
func CDRDBOptions(o config.Outbound) cdrdb.Options {
	return cdrdb.Options{DSN: o.DSN.Value(), Password: o.Password.Value(), Table: o.Table, Location: o.Location(), Lookback: o.Lookback}
}

var _ admin.Outbound = (*monitor.Monitor)(nil)
