package decision

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestMemoryVerifierExpiry(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	m := NewMemoryVerifier(10, func() time.Time { return now })
	if err := m.MarkVerified(ctx, "", "+12125550100", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := m.MarkVerified(ctx, "acme", "+12125550100", 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		after        time.Duration
		tenant       string
		wantVerified bool
	}{
		{0, "", true},
		{59 * time.Minute, "", true},
		{time.Hour, "", false}, // the ttl is exclusive
		{time.Hour, "acme", true},
		{2*time.Hour - time.Second, "acme", true},
		{2 * time.Hour, "acme", false},
		{0, "other", false},
	} {
		now = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC).Add(tc.after)
		got, err := m.Verified(ctx, tc.tenant, "+12125550100")
		if err != nil || got != tc.wantVerified {
			t.Errorf("after %v tenant %q: Verified = %v, %v; want %v", tc.after, tc.tenant, got, err, tc.wantVerified)
		}
	}
	// Reading an expired entry forgets it.
	if n := m.Len(); n != 0 {
		t.Errorf("Len after both expired and were read = %d, want 0", n)
	}
	// A ttl of zero forgets at once.
	now = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	_ = m.MarkVerified(ctx, "", "+12125550101", time.Hour)
	_ = m.MarkVerified(ctx, "", "+12125550101", 0)
	if ok, _ := m.Verified(ctx, "", "+12125550101"); ok {
		t.Error("MarkVerified with ttl 0 did not forget the caller")
	}
}

func TestMemoryVerifierBounded(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryVerifier(3, nil)
	for i := range 5 {
		_ = m.MarkVerified(ctx, "", fmt.Sprintf("+1212555010%d", i), time.Hour)
	}
	if n := m.Len(); n != 3 {
		t.Fatalf("Len = %d, want the bound 3", n)
	}
	for i, want := range []bool{false, false, true, true, true} {
		if ok, _ := m.Verified(ctx, "", fmt.Sprintf("+1212555010%d", i)); ok != want {
			t.Errorf("caller %d verified = %v, want %v (the least recently used go first)", i, ok, want)
		}
	}
}

// The store itself forgets entries after its bound even when nobody reads
// them: expired callers do not hold memory until evicted.
func TestMemoryVerifierSweepsUnreadEntries(t *testing.T) {
	ctx := context.Background()
	const bound = 50 * time.Millisecond
	m := newMemoryVerifier(10, nil, bound)
	start := time.Now()
	_ = m.MarkVerified(ctx, "", "+12125550100", time.Hour)
	// The entry is held until its bound has passed; a machine that stalled
	// this test past it leaves nothing to check (the clock is read after
	// Len, so a true answer here is never a stall).
	if n := m.Len(); n != 1 && time.Since(start) < bound {
		t.Fatalf("Len = %d before the bound, want 1", n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for m.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("entry still held 10s after a 50ms bound")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
