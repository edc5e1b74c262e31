package cdr

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
)

// maxPendingRow bounds a row still being written: cdr_csv builds each
// row in a 1024-byte buffer (cdr/cdr_csv.c, csv_log).
const maxPendingRow = 16 << 10

// MaxListed caps the malformed rows a Stats lists one by one; the rest are
// only counted.
const MaxListed = 20

// Stats counts what a read saw.
type Stats struct {
	// Rows is every row read, malformed ones included.
	Rows int64
	// Malformed rows were skipped; Bad lists the first MaxListed.
	Malformed int64
	Bad       []BadRow
}

// BadRow is one skipped row and why.
type BadRow struct {
	Where string // "line 12", "row 1796175839.13"
	Err   string
}

// Skip counts a malformed row, listing it while fewer than MaxListed are.
func (s *Stats) Skip(where string, err error) {
	s.Malformed++
	if len(s.Bad) < MaxListed {
		s.Bad = append(s.Bad, BadRow{Where: where, Err: err.Error()})
	}
}

// Add adds o's counts to s.
func (s *Stats) Add(o Stats) {
	s.Rows += o.Rows
	s.Malformed += o.Malformed
	for _, b := range o.Bad {
		if len(s.Bad) >= MaxListed {
			break
		}
		s.Bad = append(s.Bad, b)
	}
}

// CSVOptions say how to read a Master.csv.
type CSVOptions struct {
	Layout Layout
	// Location reads the times, which cdr_csv writes without a zone: UTC
	// with usegmtime=yes, else the PBX's local time. nil is UTC.
	Location *time.Location
}

// ReadCSV reads a whole Master.csv from r and calls fn with every good
// row, in file order; rec is reused, so fn copies what it keeps. It
// returns a *LayoutError when the first row does not have the layout's
// columns, fn's error when fn fails, or a read error; malformed rows are
// only counted in Stats.
func ReadCSV(r io.Reader, opts CSVOptions, fn func(rec *Record) error) (Stats, error) {
	p := newParser(opts)
	var st Stats
	_, _, err := p.parse(r, 0, -1, &st, fn)
	return st, err
}

// ReadCSVFile reads the Master.csv at path as ReadCSV does.
func ReadCSVFile(path string, opts CSVOptions, fn func(rec *Record) error) (Stats, error) {
	f, err := os.Open(path)
	if err != nil {
		return Stats{}, err
	}
	defer f.Close()
	return ReadCSV(f, opts, fn)
}

// parser turns cdr_csv rows into Records.
type parser struct {
	layout   Layout
	loc      *time.Location
	ncols    int
	uid, uf  int // column of uniqueid, userfield; -1 when absent
	newCols  int // column of peeraccount; -1 when absent
	seenGood bool
	rec      Record
}

func newParser(opts CSVOptions) *parser {
	p := &parser{layout: opts.Layout, loc: opts.Location, uid: -1, uf: -1, newCols: -1}
	if p.loc == nil {
		p.loc = time.UTC
	}
	n := len(baseColumns)
	if opts.Layout.UniqueID {
		p.uid = n
		n++
	}
	if opts.Layout.UserField {
		p.uf = n
		n++
	}
	if opts.Layout.NewColumns {
		p.newCols = n
		n += 3
	}
	p.ncols = n
	return p
}

// lineCounter counts the newlines read through it.
type lineCounter struct {
	r     io.Reader
	lines int64
}

func (c *lineCounter) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.lines += int64(bytes.Count(b[:n], []byte{'\n'}))
	return n, err
}

// parse reads the rows in r, which starts after line baseLine of the file.
// limit < 0 says that r ends where the data ends; otherwise r holds the
// limit bytes the file had when it was read, and a last row cut inside a
// quoted field is left for the next read. It returns how many bytes and
// lines of r it consumed.
func (p *parser) parse(r io.Reader, baseLine, limit int64, st *Stats, fn func(*Record) error) (consumed, lines int64, err error) {
	lc := &lineCounter{r: r}
	cr := csv.NewReader(bufio.NewReaderSize(lc, 256<<10))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	for {
		start := cr.InputOffset()
		fields, rerr := cr.Read()
		if rerr == io.EOF {
			return cr.InputOffset(), lc.lines, nil
		}
		var pe *csv.ParseError
		if errors.As(rerr, &pe) {
			if limit >= 0 && errors.Is(pe.Err, csv.ErrQuote) && cr.InputOffset() >= limit && limit-start <= maxPendingRow {
				// Cut inside a quoted field by the end of what was
				// written so far: read it again next time. Longer than
				// any row cdr_csv writes, it is a broken quote instead,
				// and holding it back would stop the file for good.
				return start, lc.lines - newlinesIn(r, start, limit), nil
			}
			st.Rows++
			st.Skip(fmt.Sprintf("line %d", baseLine+int64(pe.StartLine)), pe.Err)
			continue
		}
		if rerr != nil {
			return start, 0, rerr
		}
		line, _ := cr.FieldPos(0)
		st.Rows++
		rec, perr := p.record(fields, baseLine+int64(line))
		if perr != nil {
			var le *LayoutError
			if errors.As(perr, &le) && !p.seenGood {
				return start, int64(line) - 1, perr
			}
			st.Skip(fmt.Sprintf("line %d", baseLine+int64(line)), perr)
			continue
		}
		if err := fn(rec); err != nil {
			return cr.InputOffset(), int64(line), err
		}
	}
}

// newlinesIn counts the newlines in r[from:to] (a held-back row, at most
// maxPendingRow bytes); r is a ReaderAt when rows can be held back.
func newlinesIn(r io.Reader, from, to int64) int64 {
	ra, ok := r.(io.ReaderAt)
	if !ok || to <= from {
		return 0
	}
	b := make([]byte, to-from)
	n, _ := ra.ReadAt(b, from)
	return int64(bytes.Count(b[:n], []byte{'\n'}))
}

// record fills p.rec from one row's fields.
func (p *parser) record(f []string, line int64) (*Record, error) {
	if len(f) != p.ncols {
		if len(f) == 1 && f[0] == "" {
			return nil, errors.New("empty line")
		}
		if p.seenGood {
			return nil, fmt.Errorf("%d columns, want %d", len(f), p.ncols)
		}
		return nil, &LayoutError{Line: line, Got: len(f), Layout: p.layout}
	}
	p.seenGood = true
	r := &p.rec
	*r = Record{
		Line: line, AccountCode: f[0], Src: f[1], Dst: f[2], DContext: f[3], CLID: f[4],
		Channel: f[5], DstChannel: f[6], LastApp: f[7], LastData: f[8], AMAFlags: f[15],
	}
	var err error
	if r.Start, err = parseTime(f[9], p.loc); err != nil || r.Start.IsZero() {
		return nil, fmt.Errorf("start %q: want YYYY-MM-DD HH:MM:SS", f[9])
	}
	if r.Answer, err = parseTime(f[10], p.loc); err != nil {
		return nil, fmt.Errorf("answer %q: want YYYY-MM-DD HH:MM:SS or nothing", f[10])
	}
	if r.End, err = parseTime(f[11], p.loc); err != nil {
		return nil, fmt.Errorf("end %q: want YYYY-MM-DD HH:MM:SS or nothing", f[11])
	}
	if r.Duration, err = seconds(f[12]); err != nil {
		return nil, fmt.Errorf("duration %q: want whole seconds", f[12])
	}
	if r.BillSec, err = seconds(f[13]); err != nil {
		return nil, fmt.Errorf("billsec %q: want whole seconds", f[13])
	}
	d, ok := ParseDisposition(f[14])
	if !ok {
		return nil, fmt.Errorf("disposition %q: want ANSWERED, NO ANSWER, BUSY, FAILED or CONGESTION", f[14])
	}
	r.Disposition = d
	if p.uid >= 0 {
		r.UniqueID = f[p.uid]
	}
	if p.uf >= 0 {
		r.UserField = f[p.uf]
	}
	if p.newCols >= 0 {
		r.PeerAccount, r.LinkedID = f[p.newCols], f[p.newCols+1]
		if r.Sequence, err = seconds(f[p.newCols+2]); err != nil {
			return nil, fmt.Errorf("sequence %q: want a number", f[p.newCols+2])
		}
	}
	return r, nil
}

// seconds reads a non-negative integer.
func seconds(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, errors.New("bad number")
	}
	return n, nil
}

// parseTime reads "YYYY-MM-DD HH:MM:SS" (cdr_csv's DATE_FORMAT, "%Y-%m-%d
// %T"); "" is the zero time (no answer).
func parseTime(s string, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if len(s) != 19 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, errors.New("bad time")
	}
	num := func(a, b int) int {
		n := 0
		for i := a; i < b; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	y, mo, d, h, mi, sec := num(0, 4), num(5, 7), num(8, 10), num(11, 13), num(14, 16), num(17, 19)
	if y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60 {
		return time.Time{}, errors.New("bad time")
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, 0, loc)
	if t.Day() != d {
		return time.Time{}, errors.New("bad time") // 31 April
	}
	return t, nil
}
