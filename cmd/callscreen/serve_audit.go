package main

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/callscreen/callscreen/audit"
	"github.com/callscreen/callscreen/config"
)

// auditOptions turns the audit configuration into the decision log's
// options, the witness included.
func auditOptions(cfg *config.Config, log *slog.Logger, reg prometheus.Registerer) audit.Options {
	a := cfg.Audit
	o := audit.Options{
		Dir: a.Dir, Fsync: a.Fsync, FsyncInterval: a.FsyncInterval,
		CheckpointEvery: a.CheckpointEvery, CheckpointInterval: a.CheckpointInterval,
		RotateSize: int64(a.RotateSize), KeyFile: a.KeyFile,
		ConfigVersion: cfg.Version(), Logger: log, Metrics: audit.NewMetrics(reg),
	}
	switch {
	case a.Witness.URL != "":
		o.Witness = audit.HTTPWitness{URL: a.Witness.URL, Token: a.Witness.Token}
	case a.Witness.File != "":
		o.Witness = audit.FileWitness{Path: a.Witness.File}
	}
	return o
}
