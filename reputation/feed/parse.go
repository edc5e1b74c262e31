package feed

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Format names a feed file layout.
type Format string

// The formats.
const (
	// JSON is a JSON array of reports, an object holding one (under
	// "data", "reports", "results", "items" or "complaints"), or one
	// report object per line. A report has number, created_date,
	// violation_date, consumer_state, subject and robocall ("yes"/"no");
	// the FTC API's hyphenated names and JSON:API "attributes" are read too.
	JSON Format = "json"
	// FTC is the US FTC "Do Not Call reported calls" CSV: header
	// Company_Phone_Number, Created_Date, Violation_Date, Consumer_City,
	// Consumer_State, Consumer_Area_Code, Subject,
	// Recorded_Message_Or_Robocall.
	FTC Format = "ftc"
)

// ParseFormat reads a format name.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case JSON, FTC:
		return f, nil
	case "csv":
		return FTC, nil
	}
	return "", fmt.Errorf("feed format %q: want json or ftc", s)
}

// RowError is one rejected row.
type RowError struct {
	// Line is the line the row ends on.
	Line int
	Err  error
}

func (e RowError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

func (e RowError) Unwrap() error { return e.Err }

// Stats count one parse or import.
type Stats struct {
	// Rows read, Accepted and Rejected.
	Rows, Accepted, Rejected int
	// Errors holds the first MaxErrors rejected rows.
	Errors []RowError
	// Numbers is how many distinct numbers the accepted rows name.
	Numbers int
	// Elapsed is the time taken.
	Elapsed time.Duration
}

// MaxErrors is how many rejected rows Stats keeps.
const MaxErrors = 100

func (s *Stats) reject(line int, err error) {
	s.Rows++
	s.Rejected++
	if len(s.Errors) < MaxErrors {
		s.Errors = append(s.Errors, RowError{Line: line, Err: err})
	}
}

// ErrSyntax reports a file that cannot be read as its format at all (not
// JSON, no FTC header, cut off in the middle): nothing of it is used.
var ErrSyntax = errors.New("feed syntax error")

// parse reads reports from r, calling fn with each good one and its key.
// progress, when not nil, is called now and then with the stats so far.
func parse(r io.Reader, f Format, region string, st *Stats, fn func(Report, uint64), progress func(Stats)) error {
	switch f {
	case JSON:
		return parseJSON(r, region, st, fn, progress)
	case FTC:
		return parseFTC(r, region, st, fn, progress)
	}
	return fmt.Errorf("feed format %q: want json or ftc", f)
}

// progressEvery is how many rows pass between progress calls.
const progressEvery = 50_000

// lineCounter counts the lines of what passes through it, so a decoder's
// offset can be turned into a line number.
type lineCounter struct {
	r        io.Reader
	read     int64   // bytes read
	newlines []int64 // offsets of newlines not yet counted
	line     int     // newlines before the first queued one
}

func (c *lineCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for i := 0; i < n; {
		j := bytes.IndexByte(p[i:n], '\n')
		if j < 0 {
			break
		}
		c.newlines = append(c.newlines, c.read+int64(i+j))
		i += j + 1
	}
	c.read += int64(n)
	return n, err
}

// lineAt returns the 1-based line of offset; offsets must not decrease.
func (c *lineCounter) lineAt(off int64) int {
	k := 0
	for k < len(c.newlines) && c.newlines[k] < off {
		k++
	}
	c.line += k
	c.newlines = c.newlines[k:]
	return c.line + 1
}

// flexString is a JSON string, number or boolean, as text.
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
		return nil
	}
	if string(b) == "null" {
		*s = ""
		return nil
	}
	*s = flexString(b)
	return nil
}

type jsonRow struct {
	Number         flexString `json:"number"`
	CompanyNumber  flexString `json:"company_phone_number"`
	CompanyNumberH flexString `json:"company-phone-number"`
	Phone          flexString `json:"phone"`
	Created        flexString `json:"created_date"`
	CreatedH       flexString `json:"created-date"`
	Violation      flexString `json:"violation_date"`
	ViolationH     flexString `json:"violation-date"`
	State          flexString `json:"consumer_state"`
	StateH         flexString `json:"consumer-state"`
	Subject        flexString `json:"subject"`
	Robocall       flexString `json:"robocall"`
	RobocallFTC    flexString `json:"recorded_message_or_robocall"`
	RobocallFTCH   flexString `json:"recorded-message-or-robocall"`
	Attributes     *jsonRow   `json:"attributes"`
}

func first(vals ...flexString) string {
	for _, v := range vals {
		if v != "" {
			return string(v)
		}
	}
	return ""
}

func (j *jsonRow) fields() (num, created, violation, state, subject, robocall string) {
	if j.Attributes != nil {
		return j.Attributes.fields()
	}
	return first(j.Number, j.CompanyNumber, j.CompanyNumberH, j.Phone),
		first(j.Created, j.CreatedH), first(j.Violation, j.ViolationH),
		first(j.State, j.StateH), string(j.Subject), first(j.Robocall, j.RobocallFTC, j.RobocallFTCH)
}

// row turns the fields of one row into a report.
func row(region, num, created, violation, state, subject, robocall string) (Report, uint64, error) {
	e164, key, err := normNumber(num, region)
	if err != nil {
		return Report{}, 0, err
	}
	r := Report{Number: e164, State: strings.TrimSpace(state), Subject: strings.TrimSpace(subject), Robocall: parseYesNo(robocall)}
	if r.Created, err = parseDate(created); err != nil {
		return Report{}, 0, fmt.Errorf("created date: %w", err)
	}
	if r.Violation, err = parseDate(violation); err != nil {
		return Report{}, 0, fmt.Errorf("violation date: %w", err)
	}
	if r.Created.IsZero() && r.Violation.IsZero() {
		return Report{}, 0, fmt.Errorf("%w: neither created nor violation date", ErrBadDate)
	}
	return r, key, nil
}

var arrayKeys = map[string]bool{"data": true, "reports": true, "results": true, "items": true, "complaints": true}

func parseJSON(r io.Reader, region string, st *Stats, fn func(Report, uint64), progress func(Stats)) error {
	// A top-level array (the common case) goes to the parallel reader.
	br := bufio.NewReaderSize(r, 256<<10)
	for i := 1; i <= 64<<10; i++ {
		b, err := br.Peek(i)
		if err != nil {
			break
		}
		if c := b[i-1]; c == '[' {
			return parseJSONArray(br, region, st, fn, progress)
		} else if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			break
		}
	}
	return parseJSONStream(br, region, st, fn, progress)
}

// parseJSONStream reads any JSON layout with encoding/json's decoder.
func parseJSONStream(r io.Reader, region string, st *Stats, fn func(Report, uint64), progress func(Stats)) error {
	lc := &lineCounter{r: r}
	dec := json.NewDecoder(lc)
	syntax := func(err error) error {
		return fmt.Errorf("%w at line %d: %w", ErrSyntax, lc.lineAt(dec.InputOffset()), err)
	}
	one := func(j *jsonRow) {
		num, created, violation, state, subject, robocall := j.fields()
		line := lc.lineAt(dec.InputOffset())
		rep, key, err := row(region, num, created, violation, state, subject, robocall)
		if err != nil {
			st.reject(line, err)
		} else {
			st.Rows++
			st.Accepted++
			fn(rep, key)
		}
		if progress != nil && st.Rows%progressEvery == 0 {
			progress(*st)
		}
	}
	// reports reads report objects until the array or the input ends.
	reports := func() error {
		for dec.More() {
			var j jsonRow
			if err := dec.Decode(&j); err != nil {
				var te *json.UnmarshalTypeError
				if errors.As(err, &te) {
					// A well-formed value of the wrong shape: skip the row.
					st.reject(lc.lineAt(dec.InputOffset()), fmt.Errorf("not a report object: %w", err))
					continue
				}
				return syntax(err)
			}
			one(&j)
		}
		return nil
	}
	// elements reads the rest of an array, '[' already read.
	elements := func() error {
		if err := reports(); err != nil {
			return err
		}
		if _, err := dec.Token(); err != nil { // ']'
			return syntax(err)
		}
		return nil
	}
	tok, err := dec.Token()
	if err == io.EOF {
		return nil // empty file: no reports
	}
	if err != nil {
		return syntax(err)
	}
	switch tok {
	case json.Delim('['):
		if err := elements(); err != nil {
			return err
		}
	case json.Delim('{'):
		// Either a wrapper object holding the array, or the first of one
		// report object per line.
		found := false
		var obj map[string]json.RawMessage
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return syntax(err)
			}
			k, _ := kt.(string)
			if arrayKeys[strings.ToLower(k)] && !found {
				t, err := dec.Token()
				if err != nil {
					return syntax(err)
				}
				if t != json.Delim('[') {
					return syntax(fmt.Errorf("%q is not an array", k))
				}
				found = true
				if err := elements(); err != nil {
					return err
				}
				continue
			}
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return syntax(err)
			}
			if obj == nil {
				obj = map[string]json.RawMessage{}
			}
			obj[k] = v
		}
		if _, err := dec.Token(); err != nil { // '}'
			return syntax(err)
		}
		if !found {
			// One report per line: this object was the first.
			b, _ := json.Marshal(obj)
			var j jsonRow
			if err := json.Unmarshal(b, &j); err != nil {
				st.reject(lc.lineAt(dec.InputOffset()), fmt.Errorf("not a report object: %w", err))
			} else {
				one(&j)
			}
			if err := reports(); err != nil {
				return err
			}
		}
	default:
		return syntax(fmt.Errorf("want an array or an object, got %v", tok))
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return syntax(errors.New("data after the report list"))
		}
		return syntax(err)
	}
	return nil
}

// ftcColumns are the FTC layout's columns, lower-cased.
var ftcColumns = []string{"company_phone_number", "created_date", "violation_date", "consumer_city", "consumer_state", "consumer_area_code", "subject", "recorded_message_or_robocall"}

// ftcLayout is a parsed FTC header.
type ftcLayout struct {
	n       int // header fields
	col     map[string]int
	subj    int
	hasSubj bool
}

func newFTCLayout(line string) (*ftcLayout, error) {
	head, err := splitCSV(strings.TrimPrefix(line, "\ufeff"), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrSyntax, err)
	}
	l := &ftcLayout{n: len(head), col: map[string]int{}}
	for i, name := range head {
		l.col[strings.ToLower(strings.TrimSpace(name))] = i
	}
	for _, need := range []string{"company_phone_number", "created_date"} {
		if _, ok := l.col[need]; !ok {
			return nil, fmt.Errorf("%w: header %q: no %s column (want the FTC layout: %s)", ErrSyntax, line, need, strings.Join(ftcColumns, ", "))
		}
	}
	l.subj, l.hasSubj = l.col["subject"]
	return l, nil
}

// get reads a column. A row with more fields than the header had commas
// in an unquoted subject: the subject takes the extra fields, and the
// columns after it are counted from the end.
func (l *ftcLayout) get(rec []string, name string) string {
	i, ok := l.col[name]
	if !ok {
		return ""
	}
	if extra := len(rec) - l.n; extra > 0 && l.hasSubj {
		switch {
		case i == l.subj:
			return strings.Join(rec[l.subj:l.subj+extra+1], ",")
		case i > l.subj:
			i += extra
		}
	}
	if i < len(rec) {
		return rec[i]
	}
	return ""
}

// ftcBlock is a run of whole lines for one parse worker.
type ftcBlock struct {
	seq       int
	firstLine int
	data      []byte
}

// ftcResult is what a worker found in a block.
type ftcResult struct {
	seq      int
	reports  []Report
	keys     []uint64
	rejected []RowError
	blank    int
}

func (l *ftcLayout) parseBlock(b ftcBlock, region string) ftcResult {
	res := ftcResult{seq: b.seq}
	var fields []string
	data := b.data
	for ln := b.firstLine; len(data) > 0; ln++ {
		i := bytes.IndexByte(data, '\n')
		var raw []byte
		if i < 0 {
			raw, data = data, nil
		} else {
			raw, data = data[:i], data[i+1:]
		}
		raw = bytes.TrimRight(raw, "\r")
		if len(bytes.TrimSpace(raw)) == 0 {
			res.blank++
			continue
		}
		line := string(raw)
		var err error
		fields, err = splitCSV(line, fields[:0])
		if err != nil {
			res.rejected = append(res.rejected, RowError{Line: ln, Err: err})
			continue
		}
		rep, key, err := row(region, l.get(fields, "company_phone_number"), l.get(fields, "created_date"), l.get(fields, "violation_date"),
			l.get(fields, "consumer_state"), l.get(fields, "subject"), l.get(fields, "recorded_message_or_robocall"))
		if err != nil {
			res.rejected = append(res.rejected, RowError{Line: ln, Err: err})
			continue
		}
		res.reports = append(res.reports, rep)
		res.keys = append(res.keys, key)
	}
	return res
}

// ftcBlockSize is how much input one parse job carries.
const ftcBlockSize = 1 << 20

// parseFTC reads the FTC CSV: the header here, then blocks of whole lines
// parsed by one worker per CPU, their results passed to fn in input order.
func parseFTC(r io.Reader, region string, st *Stats, fn func(Report, uint64), progress func(Stats)) error {
	br := bufio.NewReaderSize(r, 256<<10)
	head, err := br.ReadString('\n')
	if err != nil && err != io.EOF {
		return fmt.Errorf("%w: header: %w", ErrSyntax, err)
	}
	if strings.TrimSpace(head) == "" {
		return nil // empty file
	}
	layout, err := newFTCLayout(strings.TrimRight(head, "\r\n"))
	if err != nil {
		return err
	}
	workers := max(1, min(runtime.GOMAXPROCS(0), 8))
	jobs := make(chan ftcBlock, workers)
	readErr := make(chan error, 1)
	stop := make(chan struct{})
	defer close(stop)

	// The reader cuts the input into blocks of whole lines.
	go func() {
		defer close(jobs)
		line, seq := 2, 0
		var carry []byte
		for {
			buf := make([]byte, len(carry), ftcBlockSize+len(carry))
			copy(buf, carry)
			n, err := io.ReadFull(br, buf[len(carry):cap(buf)])
			buf = buf[:len(carry)+n]
			last := err == io.EOF || err == io.ErrUnexpectedEOF
			if err != nil && !last {
				readErr <- fmt.Errorf("%w: %w", ErrSyntax, err)
				return
			}
			carry = nil
			if !last {
				if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
					carry, buf = append(carry, buf[i+1:]...), buf[:i+1]
				} else {
					carry, buf = buf, nil // a line longer than a block: keep reading
				}
			}
			if len(buf) > 0 {
				select {
				case jobs <- ftcBlock{seq: seq, firstLine: line, data: buf}:
				case <-stop:
					return
				}
				seq++
				line += bytes.Count(buf, []byte{'\n'})
			}
			if last {
				readErr <- nil
				return
			}
		}
	}()
	parse := func(b ftcBlock) ftcResult { return layout.parseBlock(b, region) }
	seq := func(r ftcResult) int { return r.seq }
	inOrder(workers, jobs, stop, parse, seq, func(r ftcResult) {
		for _, e := range r.rejected {
			st.reject(e.Line, e.Err)
		}
		for i := range r.reports {
			st.Rows++
			st.Accepted++
			fn(r.reports[i], r.keys[i])
		}
		if progress != nil {
			progress(*st)
		}
	})
	if err := <-readErr; err != nil {
		return err
	}
	// Rejections were counted block by block: put them in line order.
	slices.SortFunc(st.Errors, func(a, b RowError) int { return a.Line - b.Line })
	return nil
}

// errQuote reports a quoted field that does not end on its line.
var errQuote = errors.New("unterminated quoted field")

// splitCSV splits one CSV line into fields, appending to dst. Lines
// without quotes (nearly all) are split on commas at once; quoted fields
// follow RFC 4180 within the line ("" is a quote). A quoted field that
// runs past the end of the line is an error: the row is rejected.
func splitCSV(line string, dst []string) ([]string, error) {
	if strings.IndexByte(line, '"') < 0 {
		for {
			i := strings.IndexByte(line, ',')
			if i < 0 {
				return append(dst, line), nil
			}
			dst = append(dst, line[:i])
			line = line[i+1:]
		}
	}
	var b strings.Builder
	for {
		if len(line) == 0 || line[0] != '"' {
			i := strings.IndexByte(line, ',')
			if i < 0 {
				return append(dst, line), nil
			}
			dst = append(dst, line[:i])
			line = line[i+1:]
			continue
		}
		// Quoted field.
		b.Reset()
		line = line[1:]
		for {
			i := strings.IndexByte(line, '"')
			if i < 0 {
				return dst, errQuote
			}
			b.WriteString(line[:i])
			line = line[i+1:]
			if len(line) > 0 && line[0] == '"' {
				b.WriteByte('"')
				line = line[1:]
				continue
			}
			break
		}
		dst = append(dst, b.String())
		switch {
		case len(line) == 0:
			return dst, nil
		case line[0] == ',':
			line = line[1:]
			if len(line) == 0 {
				return append(dst, ""), nil
			}
		default:
			// Text after the closing quote: keep it, as lazy readers do.
			i := strings.IndexByte(line, ',')
			if i < 0 {
				dst[len(dst)-1] += line
				return dst, nil
			}
			dst[len(dst)-1] += line[:i]
			line = line[i+1:]
		}
	}
}
