package lists

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"time"

	"github.com/callscreen/callscreen/internal/csvsafe"

	"github.com/nyaruka/phonenumbers"
)

// The CSV layouts ReadCSV recognises and WriteCSV writes.
const (
	// LayoutNative has a header naming its columns, in any order:
	// tenant, list, entry (list-file syntax), note, added_by, added,
	// expires (RFC 3339 or YYYY-MM-DD). Only entry is required.
	LayoutNative = "native"
	// LayoutFreePBX is the FreePBX Blacklist module's export:
	// "number,description", header optional. Rows go on the block list
	// unless CSVOptions.List says otherwise.
	LayoutFreePBX = "freepbx"
)

// nativeColumns are the native layout's columns in the order WriteCSV
// writes them.
var nativeColumns = []string{"tenant", "list", "entry", "note", "added_by", "added", "expires"}

// CSVOptions say how to read rows that leave something out.
type CSVOptions struct {
	// Region reads numbers in national form; "" is "US".
	Region string
	// List is the list of rows without a list column; "" is block.
	List List
	// Tenant is the tenant of rows without a tenant column (or with an
	// empty one).
	Tenant string
	// AddedBy and Added are set on rows that do not say.
	AddedBy string
	Added   time.Time
	// Origin is recorded on every entry; "" is "csv".
	Origin string
	// OnBad, when set, is told of each bad row as it is found (for
	// progress); the bad rows are also returned at the end.
	OnBad func(LineError)
}

// maxCSVField bounds one CSV field.
const maxCSVField = 1024

// ReadCSV reads list entries from CSV, calling fn with each good row in
// order. It recognises the layout from the header (see LayoutNative,
// LayoutFreePBX; a file without a header is read as FreePBX). A bad row is
// returned as a LineError with its line number and skipped; err is for a
// reader that fails or an fn that does.
func ReadCSV(r io.Reader, opts CSVOptions, fn func(Entry) error) (layout string, bad []LineError, err error) {
	if opts.Region == "" {
		opts.Region = "US"
	}
	if opts.List == "" {
		opts.List = Block
	}
	if opts.Origin == "" {
		opts.Origin = "csv"
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	cols := map[string]int{"number": 0, "description": 1}
	layout = LayoutFreePBX
	first := true
	for {
		rec, rerr := cr.Read()
		if rerr == io.EOF {
			return layout, bad, nil
		}
		line, _ := cr.FieldPos(0)
		var perr *csv.ParseError
		if errors.As(rerr, &perr) {
			bad = append(bad, LineError{File: "csv", Line: perr.Line, Err: perr.Err})
			if opts.OnBad != nil {
				opts.OnBad(bad[len(bad)-1])
			}
			continue
		}
		if rerr != nil {
			return layout, bad, fmt.Errorf("read csv: %w", rerr)
		}
		if first {
			first = false
			if len(rec) > 0 {
				rec[0] = strings.TrimPrefix(rec[0], "\ufeff")
			}
			if h, ok := header(rec); ok {
				if _, native := h["entry"]; native {
					layout, cols = LayoutNative, h
				} else if _, fp := h["number"]; !fp {
					return layout, bad, fmt.Errorf("read csv: header %q has neither an entry nor a number column", strings.Join(rec, ","))
				}
				continue
			}
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" || len(rec) > 0 && strings.HasPrefix(strings.TrimSpace(rec[0]), "#") {
			continue
		}
		e, err := rowEntry(rec, cols, layout, &opts)
		if err != nil {
			bad = append(bad, LineError{File: "csv", Line: line, Err: err})
			if opts.OnBad != nil {
				opts.OnBad(bad[len(bad)-1])
			}
			continue
		}
		if err := fn(e); err != nil {
			return layout, bad, err
		}
	}
}

// header reports whether rec is a header row, and its column positions.
func header(rec []string) (map[string]int, bool) {
	h := map[string]int{}
	for i, c := range rec {
		h[strings.ToLower(strings.TrimSpace(c))] = i
	}
	_, entry := h["entry"]
	_, num := h["number"]
	return h, entry || num
}

func rowEntry(rec []string, cols map[string]int, layout string, opts *CSVOptions) (Entry, error) {
	get := func(name string) string {
		if i, ok := cols[name]; ok && i < len(rec) {
			return csvsafe.Unescape(strings.TrimSpace(rec[i]))
		}
		return ""
	}
	for _, f := range rec {
		if len(f) > maxCSVField {
			return Entry{}, fmt.Errorf("field longer than %d bytes", maxCSVField)
		}
	}
	var (
		e   Entry
		err error
	)
	if layout == LayoutFreePBX {
		e, err = ParseEntry(get("number"), opts.Region)
		if err != nil {
			return Entry{}, err
		}
		e.Note = get("description")
		e.List = opts.List
	} else {
		e, err = ParseEntry(get("entry"), opts.Region)
		if err != nil {
			return Entry{}, err
		}
		e.Note, e.AddedBy = get("note"), get("added_by")
		e.List = opts.List
		if l := List(strings.ToLower(get("list"))); l != "" {
			if !l.Valid() {
				return Entry{}, fmt.Errorf("list %q: want allow or block", l)
			}
			e.List = l
		}
		e.Tenant = get("tenant")
		if e.Added, err = parseTime(get("added")); err != nil {
			return Entry{}, fmt.Errorf("added: %w", err)
		}
		if e.Expires, err = parseTime(get("expires")); err != nil {
			return Entry{}, fmt.Errorf("expires: %w", err)
		}
	}
	if e.Tenant == "" {
		e.Tenant = opts.Tenant
	}
	if e.AddedBy == "" {
		e.AddedBy = opts.AddedBy
	}
	if e.Added.IsZero() {
		e.Added = opts.Added
	}
	e.Origin = opts.Origin
	return e, nil
}

// parseTime reads RFC 3339, "YYYY-MM-DD HH:MM:SS" or "YYYY-MM-DD" (UTC);
// "" is the zero time.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q: want RFC 3339 or YYYY-MM-DD", s)
}

// WriteCSV writes entries in layout (LayoutNative or LayoutFreePBX) with a
// header, cells that a spreadsheet would run as a formula escaped with a
// leading apostrophe (ReadCSV removes it again). The FreePBX layout holds exact numbers only, written as FreePBX
// compares them: national digits for numbers of region's country, E.164
// otherwise; skipped counts the entries it cannot hold.
func WriteCSV(w io.Writer, layout, region string, entries iter.Seq[*Entry]) (written, skipped int, err error) {
	cw := csv.NewWriter(w)
	cc := fmt.Sprintf("+%d", phonenumbers.GetCountryCodeForRegion(region))
	switch layout {
	case LayoutNative:
		err = cw.Write(nativeColumns)
	case LayoutFreePBX:
		err = cw.Write([]string{"number", "description"})
	default:
		return 0, 0, fmt.Errorf("write csv: layout %q: want %s or %s", layout, LayoutNative, LayoutFreePBX)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("write csv: %w", err)
	}
	for e := range entries {
		var rec []string
		if layout == LayoutFreePBX {
			if e.Kind != Number || e.List != Block {
				skipped++
				continue
			}
			num := e.Value
			if rest, ok := strings.CutPrefix(num, cc); ok && cc != "+0" {
				num = rest
			}
			rec = []string{num, e.Note}
		} else {
			rec = []string{e.Tenant, string(e.List), e.String(), e.Note, e.AddedBy, formatTime(e.Added), formatTime(e.Expires)}
		}
		if err := cw.Write(csvsafe.Row(rec)); err != nil {
			return written, skipped, fmt.Errorf("write csv: %w", err)
		}
		written++
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return written, skipped, fmt.Errorf("write csv: %w", err)
	}
	return written, skipped, nil
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
