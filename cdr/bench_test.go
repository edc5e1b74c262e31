package cdr_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/callscreen/callscreen/cdr"
	"github.com/callscreen/callscreen/internal/cdrgen"
	"github.com/callscreen/callscreen/outbound"
)

func generated(b *testing.B, rows int) []byte {
	b.Helper()
	var buf bytes.Buffer
	if err := cdrgen.Write(&buf, cdrgen.Options{Rows: rows, Numbers: 20, Start: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Days: 7, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkReadCSV streams generated Master.csv rows (100,000 a run)
// through the reader; callscreen-bench cdr does the same with 1,000,000
// rows from a file and reports the peak heap.
func BenchmarkReadCSV(b *testing.B) {
	const rows = 100_000
	data := generated(b, rows)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		st, err := cdr.ReadCSV(bytes.NewReader(data), cdr.CSVOptions{Layout: cdr.DefaultLayout}, func(*cdr.Record) error { return nil })
		if err != nil || st.Rows != rows {
			b.Fatal(st, err)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkReadAndJudge adds the per-number, per-day counting.
func BenchmarkReadAndJudge(b *testing.B) {
	const rows = 100_000
	data := generated(b, rows)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		a := outbound.New(outbound.Options{})
		if _, err := cdr.ReadCSV(bytes.NewReader(data), cdr.CSVOptions{Layout: cdr.DefaultLayout}, func(r *cdr.Record) error {
			a.Add(r)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		if rep := a.Report(); len(rep.Numbers) != 20 {
			b.Fatal(len(rep.Numbers))
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
