package service

import (
	"testing"

	"github.com/callscreen/callscreen/reputation"
)

// TestLocalChain: without Redis and providers every source of the chain
// answers from memory (the data_dir files included), so the flow asks it
// on the call's goroutine; a provider makes the chain one the flow asks
// aside, within its lookup timeout.
func TestLocalChain(t *testing.T) {
	for _, tt := range []struct {
		name, yaml string
		local      bool
	}{
		{"defaults", base, true},
		{"a provider", base + "providers:\n  http:\n    url: http://127.0.0.1:9/\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.yaml)
			h.start(t)
			src := h.srv.Flow().Source
			if _, ok := src.(reputation.Chain); !ok {
				t.Fatalf("the flow's source is a %T", src)
			}
			if got := reputation.IsLocal(src); got != tt.local {
				for _, s := range src.(reputation.Chain) {
					t.Logf("%s: local %v", s.Name, reputation.IsLocal(s.Source))
				}
				t.Fatalf("local = %v; want %v", got, tt.local)
			}
		})
	}
}
