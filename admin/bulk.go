package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/callscreen/callscreen/reputation/feed"
	"github.com/callscreen/callscreen/reputation/feedback"
	"github.com/callscreen/callscreen/reputation/lists"
)

// The bulk side of the API: list imports and exports, agents' reports
// withdrawn and exported, feed imports and pulls. The commands `callscreen
// lists`, `report` and `feed` use it to act through a running server, so a
// change applies to the next call and the files in data_dir stay the
// server's own; they use the same adapters on the stores directly when no
// server runs.

// MaxRowErrors is how many refused rows an import answer lists (the count
// is always complete).
const MaxRowErrors = 100

// RowError is one refused row of an import: its line and why.
type RowError struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
}

// ListImport says how to read the rows of a list import that leave
// something out: the list (allow or block; "" is block) and tenant of
// rows without one, and who added them.
type ListImport struct {
	List, Tenant, AddedBy string
}

// ListImported is what an import stored.
type ListImported struct {
	// Stored is how many entries were stored (and apply).
	Stored int `json:"stored"`
	// Layout is the CSV layout read: native or freepbx.
	Layout string `json:"layout"`
	// Rejected counts the refused rows; Bad lists the first MaxRowErrors.
	Rejected int        `json:"rejected"`
	Bad      []RowError `json:"bad,omitempty"`
}

// ListExport selects what an export writes: the stored entries of Tenant
// ("" the default tenant), or of every tenant with All, in Layout (native,
// the default, or freepbx).
type ListExport struct {
	Tenant string
	All    bool
	Layout string
}

// ListExported counts what an export wrote, and the entries the layout
// cannot hold (the FreePBX layout holds must-block numbers only).
type ListExported struct {
	Written, Skipped int
}

// ListTransfer moves list entries in bulk, as CSV (lists.ReadCSV and
// lists.WriteCSV say the layouts).
//
// Import outcomes: (result, nil) with every good row stored, each batch
// applying to the next call as soon as it is stored, and the refused rows
// counted; (result, error wrapping ErrInvalid) when the CSV cannot be read
// on (its header names no entry column, the input fails): the batches
// before that point stay stored, result.Stored says how many; (result,
// other error) when the store failed, result.Stored likewise.
//
// Export outcomes: (counts, nil) with the entries stored at run time (not
// the list files', which are the operator's own) written; an error
// wrapping ErrInvalid for a layout it does not know, before anything is
// written; any other error: the store or w failed part way.
type ListTransfer interface {
	Import(ctx context.Context, r io.Reader, o ListImport) (ListImported, error)
	Export(ctx context.Context, w io.Writer, o ListExport) (ListExported, error)
}

// ReportStore withdraws and exports agents' reports.
//
// Withdraw outcomes: nil once no report on the number (E.164) stands for
// the tenant, whether there was one or not; any other error: the store
// failed. Export outcomes: nil with tenant's reports written as "csv" or
// "jsonl"; an error wrapping ErrInvalid for another format, before
// anything is written; any other error: the store or w failed.
type ReportStore interface {
	Withdraw(ctx context.Context, tenant, number string) error
	Export(ctx context.Context, w io.Writer, tenant, format string) error
}

// FeedImport says how to read a feed import or pull: its format ("json"
// or "ftc"; "" is the configured one) and the tenant it is for ("" the
// shared feed).
type FeedImport struct {
	Format, Tenant string
}

// FeedLoaded is what a feed import or pull read and what the feed holds
// afterwards.
type FeedLoaded struct {
	Rows     int        `json:"rows"`
	Accepted int        `json:"accepted"`
	Rejected int        `json:"rejected"`
	Bad      []RowError `json:"bad,omitempty"`
	// Numbers is how many distinct numbers the accepted rows name; Held
	// how many the tenant's feed holds now.
	Numbers int     `json:"numbers"`
	Held    int     `json:"held"`
	Seconds float64 `json:"seconds"`
}

// FeedLoader feeds the daily spam-report feed.
//
// Import outcomes: (result, nil) with the reports merged into the feed,
// which the next call sees; (result, error wrapping ErrInvalid) when the
// input cannot be read to the end or the format is unknown: the feed is
// unchanged; (result, other error): the store failed, the feed is
// unchanged. Pull is Import of a download of feed.url, with the same
// outcomes, and an error wrapping ErrUnavailable when no feed.url is set.
type FeedLoader interface {
	Import(ctx context.Context, r io.Reader, o FeedImport) (FeedLoaded, error)
	Pull(ctx context.Context, o FeedImport) (FeedLoaded, error)
}

// Applier stores list changes: *lists.Lists (the server's lists, which
// also apply them at once) and every lists.Store implement it.
type Applier interface {
	Apply(ctx context.Context, changes []lists.Change) error
}

var (
	_ Applier = (*lists.Lists)(nil)
	_ Applier = lists.Store(nil)
)

// ListTransfers is the ListTransfer over the screening's lists: imports go
// through apply (a server passes its *lists.Lists, so each batch applies
// to the next call; a command with no server running passes the store),
// exports read store.
func ListTransfers(apply Applier, store lists.Store, region string) ListTransfer {
	if region == "" {
		region = "US"
	}
	return listTransfer{apply: apply, store: store, region: region, batch: importBatch}
}

type listTransfer struct {
	apply  Applier
	store  lists.Store
	region string
	batch  int // changes a store write carries
}

var _ ListTransfer = listTransfer{}

// importBatch is how many changes one store write of an import carries:
// large enough that a Redis store announces a bulk import a few times, not
// once a row, small enough that a batch stays a few MB.
const importBatch = 50_000

func (t listTransfer) Import(ctx context.Context, r io.Reader, o ListImport) (ListImported, error) {
	var res ListImported
	list := lists.List(strings.ToLower(o.List))
	if list != "" && !list.Valid() {
		return res, fmt.Errorf("list %q: want allow or block: %w", o.List, ErrInvalid)
	}
	opts := lists.CSVOptions{Region: t.region, List: list, Tenant: o.Tenant, AddedBy: o.AddedBy, Added: time.Now().UTC().Truncate(time.Second)}
	batch := make([]lists.Change, 0, min(t.batch, 4096))
	var storeErr error
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := t.apply.Apply(ctx, batch); err != nil {
			storeErr = err
			return err
		}
		res.Stored += len(batch)
		batch = batch[:0]
		return nil
	}
	layout, bad, err := lists.ReadCSV(r, opts, func(e lists.Entry) error {
		batch = append(batch, lists.Change{Entry: e})
		if len(batch) == t.batch {
			return flush()
		}
		return nil
	})
	res.Layout, res.Rejected = layout, len(bad)
	for i := range bad {
		if i == MaxRowErrors {
			break
		}
		res.Bad = append(res.Bad, RowError{Line: bad[i].Line, Error: bad[i].Err.Error()})
	}
	if err == nil {
		err = flush()
	}
	switch {
	case err == nil:
		return res, nil
	case storeErr != nil:
		return res, fmt.Errorf("store list entries: %w", storeErr)
	case isTooLarge(err):
		return res, fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	return res, fmt.Errorf("%w: %w", ErrInvalid, err)
}

func (t listTransfer) Export(ctx context.Context, w io.Writer, o ListExport) (ListExported, error) {
	var res ListExported
	if o.Layout == "" {
		o.Layout = lists.LayoutNative
	}
	if o.Layout != lists.LayoutNative && o.Layout != lists.LayoutFreePBX {
		return res, fmt.Errorf("format %q: want %s or %s: %w", o.Layout, lists.LayoutNative, lists.LayoutFreePBX, ErrInvalid)
	}
	tenants := []string{o.Tenant}
	if o.All {
		ts, err := t.store.Tenants(ctx)
		if err != nil {
			return res, fmt.Errorf("list tenants: %w", err)
		}
		tenants = ts
	}
	var loadErr error
	errStop := errors.New("stop")
	entries := func(yield func(*lists.Entry) bool) {
		for _, tenant := range tenants {
			err := t.store.Load(ctx, tenant, func(e lists.Entry) error {
				if !yield(&e) {
					return errStop
				}
				return nil
			})
			if err != nil {
				if !errors.Is(err, errStop) {
					loadErr = fmt.Errorf("load tenant %q: %w", tenant, err)
				}
				return
			}
		}
	}
	var err error
	res.Written, res.Skipped, err = lists.WriteCSV(w, o.Layout, t.region, entries)
	if err == nil {
		err = loadErr
	}
	return res, err
}

// FeedbackReports is the ReportStore over the agents' report store the
// chain's feedback source reads: a withdrawal applies to the next call.
func FeedbackReports(store feedback.Store) ReportStore { return reportStore{store: store} }

type reportStore struct{ store feedback.Store }

var _ ReportStore = reportStore{}

func (s reportStore) Withdraw(ctx context.Context, tenant, number string) error {
	if err := s.store.Delete(ctx, tenant, number); err != nil {
		return fmt.Errorf("withdraw report: %w", err)
	}
	return nil
}

func (s reportStore) Export(ctx context.Context, w io.Writer, tenant, format string) error {
	if format == "" {
		format = "csv"
	}
	if format != "csv" && format != "jsonl" {
		return fmt.Errorf("export format %q: want csv or jsonl: %w", format, ErrInvalid)
	}
	reports, err := s.store.List(ctx, tenant)
	if err != nil {
		return fmt.Errorf("list reports: %w", err)
	}
	return feedback.Export(w, reports, format)
}

// Feed is the FeedLoader of the feed the chain reads: an import or a pull
// applies to the next call. pull is feed.url with its headers and format.
func Feed(fd *feed.Feed, pull feed.PullOptions) FeedLoader {
	return feedLoader{feed: fd, pull: pull}
}

type feedLoader struct {
	feed *feed.Feed
	pull feed.PullOptions
}

var _ FeedLoader = feedLoader{}

// format reads a format name; "" is the configured one.
func (f feedLoader) format(name string) (feed.Format, error) {
	if name == "" {
		if f.pull.Format == "" {
			return feed.JSON, nil
		}
		return f.pull.Format, nil
	}
	ff, err := feed.ParseFormat(name)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return ff, nil
}

func (f feedLoader) Import(ctx context.Context, r io.Reader, o FeedImport) (FeedLoaded, error) {
	format, err := f.format(o.Format)
	if err != nil {
		return FeedLoaded{}, err
	}
	st, err := f.feed.Import(ctx, r, feed.ImportOptions{Format: format, Tenant: o.Tenant})
	return f.loaded(st, o.Tenant), feedErr(err)
}

func (f feedLoader) Pull(ctx context.Context, o FeedImport) (FeedLoaded, error) {
	if f.pull.URL == "" {
		return FeedLoaded{}, fmt.Errorf("feed.url is not set: %w", ErrUnavailable)
	}
	format, err := f.format(o.Format)
	if err != nil {
		return FeedLoaded{}, err
	}
	p := f.pull
	p.Format, p.Tenant = format, o.Tenant
	st, err := f.feed.Pull(ctx, p)
	if err != nil {
		// A download that failed is the source's fault, not the caller's:
		// not ErrInvalid, so the API answers 500 and logs it.
		return f.loaded(st, o.Tenant), err
	}
	return f.loaded(st, o.Tenant), nil
}

func (f feedLoader) loaded(st feed.Stats, tenant string) FeedLoaded {
	out := FeedLoaded{
		Rows: st.Rows, Accepted: st.Accepted, Rejected: st.Rejected, Numbers: st.Numbers,
		Held: f.feed.Len(tenant), Seconds: st.Elapsed.Seconds(),
	}
	for i, e := range st.Errors {
		if i == MaxRowErrors {
			break
		}
		out.Bad = append(out.Bad, RowError{Line: e.Line, Error: e.Err.Error()})
	}
	return out
}

// feedErr marks an input the feed could not read to the end as the
// caller's fault.
func feedErr(err error) error {
	switch {
	case err == nil:
		return nil
	case isTooLarge(err):
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	case errors.Is(err, feed.ErrSyntax):
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return err
}

// ErrTooLarge: an upload is larger than the API takes (413).
var ErrTooLarge = errors.New("too large")

func isTooLarge(err error) bool {
	var tooBig *http.MaxBytesError
	return errors.As(err, &tooBig)
}
