package promtest

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestValue(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "calls_total", Help: "h"}, []string{"tenant", "outcome"})
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "up", Help: "h"})
	reg.MustRegister(c, g)
	c.WithLabelValues("a", "allow").Add(2)
	c.WithLabelValues("a", "block").Add(3)
	c.WithLabelValues("b", "allow").Add(5)
	g.Set(1)
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
		has    bool
	}{
		{"calls_total", nil, 10, true},
		{"calls_total", []string{"tenant", "a"}, 5, true},
		{"calls_total", []string{"tenant", "a", "outcome", "block"}, 3, true},
		{"calls_total", []string{"tenant", "c"}, 0, false},
		{"up", nil, 1, true},
		{"missing", nil, 0, false},
	} {
		if got := Value(reg, tt.name, tt.labels...); got != tt.want {
			t.Errorf("Value(%s %v) = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
		if got := Has(reg, tt.name, tt.labels...); got != tt.has {
			t.Errorf("Has(%s %v) = %v, want %v", tt.name, tt.labels, got, tt.has)
		}
	}
}
