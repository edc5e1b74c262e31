package config

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics reports configuration reloads.
type Metrics struct {
	successful prometheus.Gauge
	successAt  prometheus.Gauge
	version    *prometheus.GaugeVec
}

// NewMetrics creates the config metrics and registers them with reg (nil:
// not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		successful: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callscreen_config_last_reload_successful",
			Help: "Whether the last configuration load or reload succeeded (1) or kept the previous configuration (0).",
		}),
		successAt: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callscreen_config_last_reload_success_timestamp_seconds",
			Help: "When the configuration was last loaded successfully.",
		}),
		version: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "callscreen_config_info",
			Help: "The configuration in force: 1 for its version.",
		}, []string{"version"}),
	}
	if reg != nil {
		reg.MustRegister(m.successful, m.successAt, m.version)
	}
	return m
}

// Loaded records a load or reload: the configuration now in force when it
// succeeded (cfg not nil), or a failure (cfg nil, the old one stays).
func (m *Metrics) Loaded(cfg *Config, at time.Time) {
	if m == nil {
		return
	}
	if cfg == nil {
		m.successful.Set(0)
		return
	}
	m.successful.Set(1)
	m.successAt.Set(float64(at.UnixNano()) / 1e9)
	m.version.Reset()
	m.version.WithLabelValues(cfg.Version()).Set(1)
}
