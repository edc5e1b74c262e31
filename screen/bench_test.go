package screen

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/callscreen/callscreen/decision"
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
		Verifier: decision.NewMemoryVerifier(100, nil),
	}
	ctx := context.Background()
	b.Run("same-caller", func(b *testing.B) {
		i := info("+12125551234")
		b.ReportAllocs()
		for b.Loop() {
			f.Run(ctx, nopChannel{}, i)
		}
	})
	b.Run("new-caller", func(b *testing.B) {
		i := info("")
		n := 0
		b.ReportAllocs()
		for b.Loop() {
			n++
			i.CallerNumber = fmt.Sprintf("+1212%03d%04d", 200+(n/10000)%800, n%10000)
			f.Run(ctx, nopChannel{}, i)
		}
	})
}
