package main

import (
	"math"
	"slices"
	"time"
)

// percentiles returns the p-th percentiles of ds (0 to 100; 100 is the
// maximum) by nearest rank, sorting a copy once; zeros when ds is empty.
func percentiles(ds []time.Duration, ps ...float64) []time.Duration {
	out := make([]time.Duration, len(ps))
	if len(ds) == 0 {
		return out
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	for i, p := range ps {
		k := int(math.Ceil(float64(len(s))*p/100)) - 1
		out[i] = s[min(max(k, 0), len(s)-1)]
	}
	return out
}
