package main

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

// startOutbound starts judging our outbound numbers from the CDRs when
// outbound.cdr_file or outbound.dsn is set, in the background until ctx
// ends, and returns what the admin API serves (nil when off). Nothing here
// can stop or delay screening: a source that cannot be opened or read is
// logged (ERROR) and retried at every refresh, and serve goes on.
func (s *server) startOutbound(ctx context.Context, cfg *config.Config) admin.Outbound {
	o := cfg.Outbound
	if !o.Enabled() {
		return nil
	}
	src, name, closeSrc, err := outboundSource(cfg)
	if err != nil {
		s.log.Error("outbound: not started; screening goes on", "err", err)
		return nil
	}
	var hook monitor.Sender
	if o.Webhook.URL != "" {
		hook = webhook.New(webhook.Options{URL: o.Webhook.URL, Secret: o.Webhook.Secret, Retries: o.Webhook.Retries, Timeout: o.Webhook.Timeout})
	}
	mon := monitor.New(monitor.Options{
		Source: src, SourceName: name, Aggregator: outboundOptions(cfg), WindowDays: int(o.Window.Hours() / 24),
		Refresh: o.Refresh, Webhook: hook, Logger: s.log, Metrics: monitor.NewMetrics(s.reg),
	})
	s.watch(ctx, "outbound monitor", func(ctx context.Context) error {
		defer closeSrc()
		mon.Run(ctx)
		return nil
	})
	return mon
}

// outboundOptions are the aggregator's settings from cfg.
func outboundOptions(cfg *config.Config) outbound.Options {
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
	if o.DSN != "" {
		r, err := cdrdb.Open(dbOptions(o))
		if err != nil {
			return nil, "", nil, fmt.Errorf("outbound.dsn: %w", err)
		}
		return r, r.Where(), func() { _ = r.Close() }, nil
	}
	f := cdr.NewFollower(o.CDRFile, csvOptions(o))
	return f, o.CDRFile, func() { _ = f.Close() }, nil
}

func csvOptions(o config.Outbound) cdr.CSVOptions {
	return cdr.CSVOptions{
		Layout:   cdr.Layout{UniqueID: o.CSV.LogUniqueID, UserField: o.CSV.LogUserField, NewColumns: o.CSV.NewCDRColumns},
		Location: o.Location(),
	}
}

func dbOptions(o config.Outbound) cdrdb.Options {
	return cdrdb.Options{DSN: o.DSN, Password: o.Password, Table: o.Table, Location: o.Location(), Lookback: o.Lookback}
}
