package admin

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/callscreen/callscreen/reputation/lists"
)

// Lists is the ListStore of the lists the screening flow consults: entries
// added through the API go to the lists' store (shared through Redis when
// configured) and apply to the next call.
func Lists(l *lists.Lists, region string) ListStore { return listStore{lists: l, region: region} }

type listStore struct {
	lists  *lists.Lists
	region string
}

var _ ListStore = listStore{}

// list reads a list name, any case.
func (ls listStore) list(name string) (lists.List, error) {
	l := lists.List(strings.ToLower(name))
	if !l.Valid() {
		return "", fmt.Errorf("list %q: want allow or block: %w", name, ErrInvalid)
	}
	return l, nil
}

func (ls listStore) Entries(_ context.Context, tenant, list string) ([]ListEntry, error) {
	l, err := ls.list(list)
	if err != nil {
		return nil, err
	}
	out := []ListEntry{}
	for e := range ls.lists.Entries(tenant) {
		if e.List == l {
			out = append(out, listEntry(e))
		}
	}
	return out, nil
}

func (ls listStore) Add(ctx context.Context, in ListEntry) (ListEntry, error) {
	l, err := ls.list(in.List)
	if err != nil {
		return ListEntry{}, err
	}
	e, err := lists.ParseEntry(in.Value, ls.region)
	if err != nil {
		return ListEntry{}, fmt.Errorf("value %q: %w: %w", in.Value, ErrInvalid, err)
	}
	e.Tenant, e.List, e.Note, e.AddedBy, e.Added, e.Expires = in.Tenant, l, in.Note, in.AddedBy, in.Added, in.Expires
	if e.Added.IsZero() {
		e.Added = time.Now().UTC()
	}
	if err := ls.lists.Add(ctx, e); err != nil {
		return ListEntry{}, fmt.Errorf("add list entry: %w", err)
	}
	return listEntry(&e), nil
}

func (ls listStore) Remove(ctx context.Context, tenant, list, value string) error {
	l, err := ls.list(list)
	if err != nil {
		return err
	}
	e, err := lists.ParseEntry(value, ls.region)
	if err != nil {
		return fmt.Errorf("value %q: %w: %w", value, ErrInvalid, err)
	}
	if _, ok := ls.lists.Find(tenant, l, e); !ok {
		return fmt.Errorf("%s list entry %q: %w", l, value, ErrNotFound)
	}
	e.Tenant, e.List = tenant, l
	if err := ls.lists.Remove(ctx, e); err != nil {
		return fmt.Errorf("remove list entry: %w", err)
	}
	return nil
}

func listEntry(e *lists.Entry) ListEntry {
	return ListEntry{
		List: string(e.List), Value: e.String(), Tenant: e.Tenant, Note: e.Note,
		AddedBy: e.AddedBy, Added: e.Added, Expires: e.Expires,
	}
}
