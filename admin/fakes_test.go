package admin

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// memLists is an in-memory ListStore that is also the reputation source the
// flow consults, so a block added through the API blocks the next call.
type memLists struct {
	mu      sync.Mutex
	entries map[string]ListEntry // list + "|" + tenant + "|" + value
	// origins holds the list file line of entries that come from a file
	// (by value); Remove refuses them with ErrConflict.
	origins map[string]string
	// ahead moves the lists' clock forward, to see entries expire.
	ahead time.Duration
}

var (
	_ ListStore         = (*memLists)(nil)
	_ reputation.Source = (*memLists)(nil)
)

func newMemLists() *memLists { return &memLists{entries: map[string]ListEntry{}} }

func (m *memLists) key(tenant, list, value string) string { return list + "|" + tenant + "|" + value }

func (m *memLists) Entries(_ context.Context, tenant, list string) ([]ListEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []ListEntry
	for _, e := range m.entries {
		if e.List == list && e.Tenant == tenant {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Value < out[j].Value })
	return out, nil
}

func (m *memLists) Add(_ context.Context, e ListEntry) (ListEntry, error) {
	if !strings.HasPrefix(e.Value, "name:") && !strings.HasSuffix(e.Value, "*") && !strings.Contains(e.Value, "..") {
		n := number.Parse(e.Value, "US")
		if n.E164 == "" {
			return e, fmt.Errorf("list entry %q: %w", e.Value, ErrInvalid)
		}
		e.Value = n.E164
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries[m.key(e.Tenant, e.List, e.Value)] = e
	return e, nil
}

func (m *memLists) Remove(_ context.Context, tenant, list, value string) error {
	if n := number.Parse(value, "US"); n.E164 != "" {
		value = n.E164
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if o, ok := m.origins[value]; ok {
		return fmt.Errorf("%s list entry %s comes from %s; edit the file: %w", list, value, o, ErrConflict)
	}
	k := m.key(tenant, list, value)
	if _, ok := m.entries[k]; !ok {
		return fmt.Errorf("%s list entry %q: %w", list, value, ErrNotFound)
	}
	delete(m.entries, k)
	return nil
}

// advance moves the lists' clock forward by d.
func (m *memLists) advance(d time.Duration) {
	m.mu.Lock()
	m.ahead += d
	m.mu.Unlock()
}

// Lookup answers for exact numbers, as the real lists do: a block entry is
// a final SPAM verdict, an allow entry a final one that allows, an expired
// entry nothing; the entry is in the raw data.
func (m *memLists) Lookup(_ context.Context, q reputation.Query) (reputation.Verdict, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now().Add(m.ahead)
	for _, list := range []string{"allow", "block"} {
		e, ok := m.entries[m.key(q.Tenant, list, q.Caller.Key())]
		if !ok || (!e.Expires.IsZero() && !now.Before(e.Expires)) {
			continue
		}
		v := reputation.Verdict{Source: "lists", Final: true, Raw: map[string]string{
			"list": list, "kind": "number", "entry": e.Value, "origin": "admin"}}
		if e.Note != "" {
			v.Raw["note"] = e.Note
		}
		if !e.Expires.IsZero() {
			v.Raw["expires"] = e.Expires.UTC().Format(time.RFC3339)
		}
		if list == "allow" {
			v.Reasons = []policy.Reason{policy.ListAllow}
		} else {
			v.Tier, v.Reasons = policy.TierSpam, []policy.Reason{policy.ListBlock}
		}
		return v, nil
	}
	return reputation.Verdict{Source: "lists"}, nil
}

type memFeedback struct {
	mu      sync.Mutex
	reports []FeedbackReport
}

func (f *memFeedback) Report(_ context.Context, r FeedbackReport) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reports = append(f.reports, r)
	return nil
}

func (f *memFeedback) all() []FeedbackReport {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]FeedbackReport(nil), f.reports...)
}

// checkerFunc adapts a function to a Checker.
type checkerFunc func(ctx context.Context, info decision.CallInfo) (*decision.Result, error)

func (f checkerFunc) Explain(ctx context.Context, info decision.CallInfo) (*decision.Result, error) {
	return f(ctx, info)
}

// newDecision makes a result for the store.
func newDecision(id, caller, profile string, at time.Time, action policy.Action, res policy.Result, ch policy.Outcome, reasons ...policy.Reason) *decision.Result {
	return &decision.Result{
		ID: id, Time: at, Profile: profile, Tenant: "", Caller: caller, CallerRaw: caller, Dialed: "+18005550100",
		CallerName: "Caller " + id,
		Decision:   policy.Decision{Action: action, Mode: policy.ModeEnforce, Tier: policy.TierUnknown, Reasons: reasons, Profile: profile},
		Result:     res, Challenge: ch,
	}
}
