package main

import (
	"slices"
	"testing"
	"time"
)

func TestPercentiles(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100 down to 1, unsorted
	}
	tests := []struct {
		name string
		ds   []time.Duration
		ps   []float64
		want []time.Duration
	}{
		{"empty", nil, []float64{50, 99}, ms(0, 0)},
		{"one", ms(7), []float64{0, 50, 100}, ms(7, 7, 7)},
		{"nearest rank of 100", ms(hundred...), []float64{0, 1, 50, 99, 99.9, 100}, ms(1, 1, 50, 99, 100, 100)},
		{"four, lower median", ms(4, 1, 3, 2), []float64{50, 75, 100}, ms(2, 3, 4)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.ds)
			if got := percentiles(tt.ds, tt.ps...); !slices.Equal(got, tt.want) {
				t.Fatalf("percentiles(%v, %v) = %v; want %v", tt.ds, tt.ps, got, tt.want)
			}
			if !slices.Equal(in, tt.ds) {
				t.Fatal("percentiles sorted its input")
			}
		})
	}
}
