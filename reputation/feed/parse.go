package feed

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	// elements reads the rest of an array, '[' already read.
	elements := func() error {
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
			for dec.More() {
				var j jsonRow
				if err := dec.Decode(&j); err != nil {
					var te *json.UnmarshalTypeError
					if errors.As(err, &te) {
						st.reject(lc.lineAt(dec.InputOffset()), fmt.Errorf("not a report object: %w", err))
						continue
					}
					return syntax(err)
				}
				one(&j)
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

func parseFTC(r io.Reader, region string, st *Stats, fn func(Report, uint64), progress func(Stats)) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	cr.LazyQuotes = true
	head, err := cr.Read()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: header: %w", ErrSyntax, err)
	}
	head = slices.Clone(head) // the reader reuses its record
	col := map[string]int{}
	for i, h := range head {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	for _, need := range []string{"company_phone_number", "created_date"} {
		if _, ok := col[need]; !ok {
			return fmt.Errorf("%w: header %q: no %s column (want the FTC layout: %s)", ErrSyntax, strings.Join(head, ","), need, strings.Join(ftcColumns, ", "))
		}
	}
	subj, hasSubj := col["subject"]
	// get reads a column. A row with more fields than the header had
	// commas in an unquoted subject: the subject takes the extra fields,
	// and the columns after it are counted from the end.
	get := func(rec []string, name string) string {
		i, ok := col[name]
		if !ok {
			return ""
		}
		if extra := len(rec) - len(head); extra > 0 && hasSubj {
			switch {
			case i == subj:
				return strings.Join(rec[subj:subj+extra+1], ",")
			case i > subj:
				i += extra
			}
		}
		if i < len(rec) {
			return rec[i]
		}
		return ""
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) && !errors.Is(err, io.ErrUnexpectedEOF) {
			st.reject(pe.Line, pe.Err)
			continue
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrSyntax, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		rep, key, err := row(region, get(rec, "company_phone_number"), get(rec, "created_date"), get(rec, "violation_date"),
			get(rec, "consumer_state"), get(rec, "subject"), get(rec, "recorded_message_or_robocall"))
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
}
