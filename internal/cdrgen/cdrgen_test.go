package cdrgen

import (
	"bytes"
	"testing"
	"time"

	"github.com/callscreen/callscreen/cdr"
	"github.com/callscreen/callscreen/outbound"
)

// TestGenerated: every generated row reads back as cdr_csv's layout, and
// the aggregator finds one call per three rows.
func TestGenerated(t *testing.T) {
	var buf bytes.Buffer
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if err := Write(&buf, Options{Rows: 3000, Numbers: 5, Start: start, Days: 7, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	a := outbound.New(outbound.Options{})
	st, err := cdr.ReadCSV(&buf, cdr.CSVOptions{Layout: cdr.DefaultLayout}, func(r *cdr.Record) error {
		a.Add(r)
		return nil
	})
	if err != nil || st.Rows != 3000 || st.Malformed != 0 {
		t.Fatalf("%+v %v", st, err)
	}
	rep := a.Report()
	calls := 0
	for _, h := range rep.Numbers {
		calls += h.Calls
		if len(h.Days) != 7 || h.Short == 0 || h.Unreachable == 0 || h.Busy == 0 || h.NoAnswer == 0 {
			t.Errorf("%s: %+v", h.Number, h)
		}
	}
	if len(rep.Numbers) != 5 || calls != 1000 {
		t.Fatalf("%d numbers, %d calls", len(rep.Numbers), calls)
	}
}
