package lists

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestFind(t *testing.T) {
	l, _, _, _ := newLists(t, nil)
	ctx := context.Background()
	for _, add := range []struct{ tenant, value string }{
		{"acme", "+12125550142"}, {"acme", "+1800*"}, {"acme", "+14155550100..+14155550199"}, {"acme", "name:*ROBOT*"},
		{"", "+12125550143"},
	} {
		e, err := ParseEntry(add.value, "US")
		if err != nil {
			t.Fatal(err)
		}
		e.Tenant, e.List, e.Note = add.tenant, Block, "added"
		if err := l.Add(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	expired, _ := ParseEntry("+12125550144", "US")
	expired.Tenant, expired.List, expired.Expires = "acme", Block, time.Now().Add(-time.Hour)
	if err := l.Add(ctx, expired); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tenant string
		list   List
		value  string
		origin string // "" for none found, else the entry's origin or note
	}{
		{"acme", Block, "+12125550142", "added"},
		{"acme", Block, "(212) 555-0142", "added"}, // national form: the same number
		{"acme", Block, "+1800*", "added"},
		{"acme", Block, "+14155550100..+14155550199", "added"},
		{"acme", Block, "name:*ROBOT*", "added"},
		{"acme", Block, "+12125550144", "expired"},
		{"acme", Allow, "+12125550142", ""},               // the other list
		{"globex", Block, "+12125550142", ""},             // another tenant
		{"acme", Block, "+14155550100..+14155550198", ""}, // another range
		{"acme", Block, "+1900*", ""},                     // a file entry applies to acme, but is not acme's
		{"", Block, "+1900*", "block.txt:3"},              // the files are tenant ""'s
		{"", Block, "+12125559999", "block.txt:2"},        // a file number
		{"", Block, "+13135550100..+13135550199", "block.txt:5"},
		{"", Block, "name:*CAR WARRANTY*", "block.txt:6"},
		{"", Allow, "+12125551000", "allow.txt:2"},
		{"", Block, "+12125550143", "added"}, // stored for tenant ""
		{"", Block, "+12125550000", ""},
	}
	for _, tt := range tests {
		e, err := ParseEntry(tt.value, "US")
		if err != nil {
			t.Fatal(err)
		}
		got, ok := l.Find(tt.tenant, tt.list, e)
		switch {
		case tt.origin == "" && ok:
			t.Errorf("Find(%q, %s, %s) = %+v; want none", tt.tenant, tt.list, tt.value, got)
		case tt.origin == "":
		case !ok:
			t.Errorf("Find(%q, %s, %s): none; want one", tt.tenant, tt.list, tt.value)
		case tt.origin == "expired" && !got.Expired(time.Now()):
			t.Errorf("Find(%q, %s, %s) = %+v; want the expired entry", tt.tenant, tt.list, tt.value, got)
		case tt.origin != "expired" && !strings.HasSuffix(got.Origin, tt.origin) && got.Note != tt.origin:
			t.Errorf("Find(%q, %s, %s) = %+v; want origin or note %q", tt.tenant, tt.list, tt.value, got, tt.origin)
		}
	}
}
