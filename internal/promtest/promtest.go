// Package promtest reads metric values from a registry in tests.
package promtest

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Value sums the counter and gauge series of name in g that carry every
// label pair given (name, value, name, value, ...); 0 when there is none.
// A registry that cannot be gathered is a broken test: Value panics.
func Value(g prometheus.Gatherer, name string, labels ...string) float64 {
	sum := 0.0
	for _, m := range series(g, name, labels) {
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return sum
}

// Has reports whether g has a series of name with every label pair given.
func Has(g prometheus.Gatherer, name string, labels ...string) bool {
	return len(series(g, name, labels)) > 0
}

func series(g prometheus.Gatherer, name string, labels []string) []*dto.Metric {
	mfs, err := g.Gather()
	if err != nil {
		panic(err)
	}
	var out []*dto.Metric
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue next
				}
			}
			out = append(out, m)
		}
	}
	return out
}
