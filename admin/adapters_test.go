package admin

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/feedback"
	"github.com/callscreen/callscreen/reputation/lists"
)

// TestListsAdapter: the API's view of real lists: what it adds applies to
// the next lookup, what it removes stops applying, and each refusal wraps
// the error the API turns into its status.
func TestListsAdapter(t *testing.T) {
	dir := t.TempDir()
	block := filepath.Join(dir, "block.txt")
	if err := os.WriteFile(block, []byte("+12125550666\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := lists.New(lists.Options{BlockFile: block, Store: lists.NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	ls := Lists(l, "US")
	ctx := context.Background()
	blocked := func(tenant, caller string) bool {
		v, _ := l.Lookup(ctx, reputation.Query{Tenant: tenant, Caller: number.Parse(caller, "US"), Profile: policy.Default()})
		return v.Final && v.Tier == policy.TierSpam
	}

	got, err := ls.Add(ctx, ListEntry{List: "Block", Value: "(212) 555-0142", Tenant: "acme", AddedBy: "ops"})
	if err != nil || got.Value != "+12125550142" || got.List != "block" || got.Added.IsZero() {
		t.Fatalf("Add = %+v, %v", got, err)
	}
	if !blocked("acme", "+12125550142") || blocked("globex", "+12125550142") {
		t.Fatal("the entry added through the API does not apply to acme's next call alone")
	}
	if es, err := ls.Entries(ctx, "acme", "block"); err != nil || len(es) != 1 || es[0].AddedBy != "ops" {
		t.Fatalf("Entries = %+v, %v", es, err)
	}
	if es, err := ls.Entries(ctx, "", "block"); err != nil || len(es) != 1 || es[0].Value != "+12125550666" {
		t.Fatalf("Entries of tenant \"\" (the file) = %+v, %v", es, err)
	}

	for _, tt := range []struct {
		name                string
		tenant, list, value string
		want                error
	}{
		{"a list that does not exist", "acme", "grey", "+12125550142", ErrInvalid},
		{"a value that is no entry", "acme", "block", "call me", ErrInvalid},
		{"an entry that is not there", "acme", "block", "+12125550143", ErrNotFound},
		{"another tenant's entry", "globex", "block", "+12125550142", ErrNotFound},
		{"the other list", "acme", "allow", "+12125550142", ErrNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := ls.Remove(ctx, tt.tenant, tt.list, tt.value); !errors.Is(err, tt.want) {
				t.Errorf("Remove: %v; want %v", err, tt.want)
			}
		})
	}
	if _, err := ls.Add(ctx, ListEntry{List: "block", Value: "x"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Add of a bad value: %v", err)
	}
	if err := ls.Remove(ctx, "acme", "block", "+1 212 555 0142"); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if blocked("acme", "+12125550142") {
		t.Fatal("the entry removed through the API still applies")
	}
}

// TestFeedbackAdapter: an agent's report reaches the store the chain reads,
// and a report it cannot use wraps ErrInvalid.
func TestFeedbackAdapter(t *testing.T) {
	store := feedback.NewMemoryStore()
	f := FeedbackStore(store, "US")
	ctx := context.Background()
	if err := f.Report(ctx, FeedbackReport{Tenant: "acme", Caller: "(212) 555-0142", Spam: true, Agent: "ann"}); err != nil {
		t.Fatal(err)
	}
	r, ok, err := store.Get(ctx, "acme", "+12125550142")
	if err != nil || !ok || r.Kind != feedback.Spam || r.Agent != "ann" || r.Time.IsZero() {
		t.Fatalf("stored %+v, %v, %v", r, ok, err)
	}
	for _, bad := range []FeedbackReport{{Caller: "anonymous"}, {Caller: "12"}} {
		if err := f.Report(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Report(%+v): %v; want ErrInvalid", bad, err)
		}
	}
}
