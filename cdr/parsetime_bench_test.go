package cdr

import (
	"testing"
	"time"
)

// BenchmarkParseTime compares the fixed-format reader with time.Parse on
// the same cdr_csv time.
func BenchmarkParseTime(b *testing.B) {
	const s = "2026-12-02 01:43:59"
	b.Run("digits", func(b *testing.B) {
		for b.Loop() {
			if _, err := parseTime(s, time.UTC); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("time.ParseInLocation", func(b *testing.B) {
		for b.Loop() {
			if _, err := time.ParseInLocation(time.DateTime, s, time.UTC); err != nil {
				b.Fatal(err)
			}
		}
	})
}
