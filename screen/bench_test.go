package screen

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/callscreen/callscreen/reputation"
	"github.com/prometheus/client_golang/prometheus"
)

// nopChannel answers like a fresh channel and does no work: the benchmark
// measures the flow alone.
type nopChannel struct{}

func (nopChannel) Answer(context.Context) error                              { return nil }
func (nopChannel) Play(context.Context, string, string) (string, error)      { return "", nil }
func (nopChannel) SayDigits(context.Context, string, string) (string, error) { return "", nil }
func (nopChannel) ReadDigits(context.Context, string, time.Duration, int) (string, error) {
	return "", nil
}
func (nopChannel) Variable(context.Context, string) (string, bool, error) { return "", false, nil }
func (nopChannel) SetVariables(context.Context, []Var) error              { return nil }
func (nopChannel) Hangup(context.Context) error                           { return nil }

// BenchmarkFlowAllow is the allow path: a source that knows nothing, no
// provider, metrics on, logging at info (nothing written for an allow).
func BenchmarkFlowAllow(b *testing.B) {
	f := &Flow{
		Source:   reputation.Chain{{Name: "lists", Source: lists(nil, []string{"+12125550666"})}},
		Logger:   slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Metrics:  NewMetrics(prometheus.NewRegistry()),
		Verifier: NewMemoryVerifier(100, nil),
	}
	i := info("+12125551234")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		f.Run(ctx, nopChannel{}, i)
	}
}
