package screen_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/internal/flowbench"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/screen"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkFlowServeChain is the allow path of a new caller through the
// chain serve builds without Redis or providers (critical numbers,
// feedback, lists, feed, behaviour), as callscreen-bench flow runs it, on
// a channel that does no work.
func BenchmarkFlowServeChain(b *testing.B) {
	ctx := context.Background()
	local, err := flowbench.New(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer local.Close()
	f := local.Flow(nil, screen.NewMetrics(prometheus.NewRegistry()))
	info := decision.CallInfo{ID: "1712345678.1", Channel: "PJSIP/trunk-00000001", CallerName: "John Q. Public",
		Dialed: "15551230000", Transport: "agi", ScreenedKnown: true, Language: "en"}
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		n++
		info.CallerNumber = fmt.Sprintf("+1212%03d%04d", 200+(n/10000)%800, n%10000)
		if r := f.Run(ctx, screen.NopChannel, info); r.Decision.Action != policy.Allow {
			b.Fatalf("%s: %s %v", info.CallerNumber, r.Decision.Action, r.Decision.Reasons)
		}
	}
}
