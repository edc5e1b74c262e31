package feed

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"unicode/utf8"
)

// The common JSON feed is one array of flat report objects. parseJSONArray
// reads it fast: one goroutine cuts the array into elements (checking the
// array's own syntax: brackets, commas), workers on every CPU read the
// elements, and the results go to fn in input order. An element the fast
// reader does not understand goes to encoding/json, which decides: a
// report, a rejected row (a value of the wrong shape), or a syntax error
// that fails the whole import.

// jsonBlock is a run of array elements for one worker.
type jsonBlock struct {
	seq   int
	elems [][]byte
	lines []int // the line each element ends on
}

// jsonBlockElems is how many elements one worker job carries.
const jsonBlockElems = 2048

// errJSONSyntax is a syntax error found by the element reader; it carries
// the line.
type errJSONSyntax struct {
	line int
	msg  string
}

func (e *errJSONSyntax) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// jsonSplitter cuts a top-level array into elements.
type jsonSplitter struct {
	r    *bufio.Reader
	buf  []byte // unread input
	eof  bool
	line int // 1-based line of buf[0]
}

// fill reads more input, keeping buf[keep:].
func (s *jsonSplitter) fill(keep int) error {
	if s.eof {
		return io.EOF
	}
	rest := s.buf[keep:]
	nb := make([]byte, len(rest), len(rest)+256<<10)
	copy(nb, rest)
	// One read: take what has arrived, do not wait for a full buffer.
	n, err := s.r.Read(nb[len(rest):cap(nb)])
	s.buf = nb[:len(rest)+n]
	if err == io.EOF {
		s.eof = true
		if n == 0 {
			return io.EOF
		}
		return nil
	}
	return err
}

// skipSpace drops white space, counting lines; it reports false at the
// end of the input.
func (s *jsonSplitter) skipSpace() (bool, error) {
	for {
		i := 0
		for i < len(s.buf) {
			c := s.buf[i]
			if c == '\n' {
				s.line++
			} else if c != ' ' && c != '\t' && c != '\r' {
				break
			}
			i++
		}
		s.buf = s.buf[i:]
		if len(s.buf) > 0 {
			return true, nil
		}
		if err := s.fill(0); err == io.EOF {
			return false, nil
		} else if err != nil {
			return false, err
		}
	}
}

// element returns the next value of the array (an object, string, number,
// literal or nested array), and the line it ends on.
func (s *jsonSplitter) element() ([]byte, int, error) {
	depth, inString, esc := 0, false, false
	i := 0
	line := s.line
	for {
		for ; i < len(s.buf); i++ {
			c := s.buf[i]
			if c == '\n' {
				line++
			}
			if inString {
				switch {
				case esc:
					esc = false
				case c == '\\':
					esc = true
				case c == '"':
					inString = false
					if depth == 0 {
						return s.take(i+1, line)
					}
				}
				continue
			}
			switch c {
			case '"':
				inString = true
			case '{', '[':
				depth++
			case '}', ']':
				if depth == 0 {
					return s.take(i, line) // a scalar ended by the closing bracket
				}
				depth--
				if depth == 0 {
					return s.take(i+1, line)
				}
			case ',', ' ', '\t', '\r', '\n':
				if depth == 0 {
					return s.take(i, line)
				}
			}
		}
		// The element goes on past the buffer: read more, keep it all.
		err := s.fill(0)
		if err == io.EOF {
			if depth == 0 && !inString && i > 0 {
				return s.take(i, line)
			}
			return nil, line, &errJSONSyntax{line, "input ends inside a value"}
		}
		if err != nil {
			return nil, line, err
		}
	}
}

// take cuts n bytes off the input as an element ending on line.
func (s *jsonSplitter) take(n, line int) ([]byte, int, error) {
	if n == 0 {
		return nil, line, &errJSONSyntax{line, fmt.Sprintf("unexpected %q", s.buf[0])}
	}
	e := s.buf[:n:n]
	s.buf = s.buf[n:]
	s.line = line
	return e, line, nil
}

// parseJSONArray reads a top-level array; br is positioned at '['.
func parseJSONArray(br *bufio.Reader, region string, st *Stats, fn func(Report, uint64), progress func(Stats)) error {
	sp := &jsonSplitter{r: br, line: 1}
	if ok, err := sp.skipSpace(); err != nil {
		return fmt.Errorf("%w: %w", ErrSyntax, err)
	} else if !ok || sp.buf[0] != '[' {
		return fmt.Errorf("%w: want an array", ErrSyntax)
	}
	sp.buf = sp.buf[1:]

	workers := max(1, min(runtime.GOMAXPROCS(0), 8))
	jobs := make(chan jsonBlock, workers)
	type result struct {
		seq     int
		reports []Report
		keys    []uint64
		bad     []RowError
		err     error
	}
	stop := make(chan struct{})
	defer close(stop)
	splitErr := make(chan error, 1)

	go func() {
		defer close(jobs)
		send := func(b jsonBlock) bool {
			select {
			case jobs <- b:
				return true
			case <-stop:
				return false
			}
		}
		b := jsonBlock{}
		seq := 0
		first := true
		for {
			ok, err := sp.skipSpace()
			if err != nil {
				splitErr <- fmt.Errorf("%w: %w", ErrSyntax, err)
				return
			}
			if !ok {
				splitErr <- fmt.Errorf("%w: line %d: input ends inside the array", ErrSyntax, sp.line)
				return
			}
			if sp.buf[0] == ']' {
				if !first {
					splitErr <- fmt.Errorf("%w: line %d: ']' after ','", ErrSyntax, sp.line)
					return
				}
				sp.buf = sp.buf[1:]
				break
			}
			e, line, err := sp.element()
			if err != nil {
				splitErr <- fmt.Errorf("%w: %w", ErrSyntax, err)
				return
			}
			b.elems = append(b.elems, e)
			b.lines = append(b.lines, line)
			if len(b.elems) == jsonBlockElems {
				b.seq = seq
				seq++
				if !send(b) {
					return
				}
				b = jsonBlock{}
			}
			if ok, err = sp.skipSpace(); err != nil || !ok {
				splitErr <- fmt.Errorf("%w: line %d: input ends inside the array", ErrSyntax, sp.line)
				return
			}
			switch sp.buf[0] {
			case ',':
				sp.buf = sp.buf[1:]
				first = false
				continue
			case ']':
				sp.buf = sp.buf[1:]
			default:
				splitErr <- fmt.Errorf("%w: line %d: want ',' or ']' after a report, got %q", ErrSyntax, sp.line, sp.buf[0])
				return
			}
			break
		}
		if len(b.elems) > 0 {
			b.seq = seq
			if !send(b) {
				return
			}
		}
		// Nothing but white space may follow.
		if ok, err := sp.skipSpace(); err != nil || ok {
			splitErr <- fmt.Errorf("%w: line %d: data after the report list", ErrSyntax, sp.line)
			return
		}
		splitErr <- nil
	}()

	parse := func(b jsonBlock) result {
		res := result{seq: b.seq}
		for i, e := range b.elems {
			j, err := readJSONRow(e)
			if err != nil {
				var se *json.SyntaxError
				if errors.As(err, &se) {
					res.err = fmt.Errorf("%w: line %d: %w", ErrSyntax, b.lines[i], err)
					break
				}
				res.bad = append(res.bad, RowError{Line: b.lines[i], Err: fmt.Errorf("not a report object: %w", err)})
				continue
			}
			num, created, violation, state, subject, robocall := j.fields()
			rep, key, err := row(region, num, created, violation, state, subject, robocall)
			if err != nil {
				res.bad = append(res.bad, RowError{Line: b.lines[i], Err: err})
				continue
			}
			res.reports = append(res.reports, rep)
			res.keys = append(res.keys, key)
		}
		return res
	}
	seq := func(r result) int { return r.seq }
	var firstErr error
	inOrder(workers, jobs, stop, parse, seq, func(r result) {
		if firstErr != nil {
			return
		}
		// Rows before a syntax error in the same block are still
		// counted, as the sequential reader would.
		bi, ri := 0, 0
		for bi < len(r.bad) || ri < len(r.reports) {
			if bi < len(r.bad) {
				st.reject(r.bad[bi].Line, r.bad[bi].Err)
				bi++
				continue
			}
			st.Rows++
			st.Accepted++
			fn(r.reports[ri], r.keys[ri])
			ri++
		}
		if r.err != nil {
			firstErr = r.err
		}
		if progress != nil {
			progress(*st)
		}
	})
	if firstErr != nil {
		return firstErr
	}
	return <-splitErr
}

// readJSONRow reads one report object: flat objects of scalars (and a
// JSON:API "attributes" object) by hand, anything else with encoding/json.
func readJSONRow(b []byte) (*jsonRow, error) {
	var j jsonRow
	if readFlat(b, &j, true) {
		return &j, nil
	}
	j = jsonRow{}
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// readFlat reads {"key": scalar, ...} into j; it reports false for
// anything it does not fully understand (then encoding/json decides).
func readFlat(b []byte, j *jsonRow, top bool) bool {
	p := 0
	ws := func() {
		for p < len(b) && (b[p] == ' ' || b[p] == '\t' || b[p] == '\n' || b[p] == '\r') {
			p++
		}
	}
	ws()
	if p >= len(b) || b[p] != '{' {
		return false
	}
	p++
	ws()
	if p < len(b) && b[p] == '}' {
		p++
		ws()
		return p == len(b)
	}
	for {
		ws()
		key, n, ok := readString(b[p:])
		if !ok {
			return false
		}
		p += n
		ws()
		if p >= len(b) || b[p] != ':' {
			return false
		}
		p++
		ws()
		if p >= len(b) {
			return false
		}
		var val []byte
		switch c := b[p]; {
		case c == '"':
			v, n, ok := readString(b[p:])
			if !ok {
				return false
			}
			val, p = v, p+n
		case c == '{':
			if !top || !eqFold(key, "attributes") {
				return false
			}
			end := matchBrace(b[p:])
			if end < 0 {
				return false
			}
			var a jsonRow
			if !readFlat(b[p:p+end], &a, false) {
				return false
			}
			j.Attributes = &a
			p += end
		default:
			q := p
			for q < len(b) && b[q] != ',' && b[q] != '}' && b[q] != ' ' && b[q] != '\t' && b[q] != '\n' && b[q] != '\r' {
				q++
			}
			lit := b[p:q]
			switch string(lit) {
			case "true", "false":
			case "null":
				lit = nil
			default:
				if !json.Valid(lit) || lit[0] == '[' || lit[0] == '"' {
					return false
				}
			}
			val, p = lit, q
		}
		if !j.set(key, val) {
			return false
		}
		ws()
		if p >= len(b) {
			return false
		}
		switch b[p] {
		case ',':
			p++
			continue
		case '}':
			p++
			ws()
			return p == len(b)
		}
		return false
	}
}

// set stores a field the way encoding/json would (keys match without
// regard to case); unknown keys are ignored without copying their values.
func (j *jsonRow) set(key, val []byte) bool {
	var dst *flexString
	switch {
	case eqFold(key, "number"):
		dst = &j.Number
	case eqFold(key, "company_phone_number"):
		dst = &j.CompanyNumber
	case eqFold(key, "company-phone-number"):
		dst = &j.CompanyNumberH
	case eqFold(key, "phone"):
		dst = &j.Phone
	case eqFold(key, "created_date"):
		dst = &j.Created
	case eqFold(key, "created-date"):
		dst = &j.CreatedH
	case eqFold(key, "violation_date"):
		dst = &j.Violation
	case eqFold(key, "violation-date"):
		dst = &j.ViolationH
	case eqFold(key, "consumer_state"):
		dst = &j.State
	case eqFold(key, "consumer-state"):
		dst = &j.StateH
	case eqFold(key, "subject"):
		dst = &j.Subject
	case eqFold(key, "robocall"):
		dst = &j.Robocall
	case eqFold(key, "recorded_message_or_robocall"):
		dst = &j.RobocallFTC
	case eqFold(key, "recorded-message-or-robocall"):
		dst = &j.RobocallFTCH
	case eqFold(key, "attributes"):
		return false // a scalar where an object belongs: let encoding/json say so
	default:
		return true
	}
	*dst = flexString(val)
	return true
}

// eqFold reports whether a, lower-cased in ASCII, is b.
func eqFold(a []byte, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// readString reads a JSON string at the start of b; it returns the text
// (a slice of b when there are no escapes), the bytes taken, and false
// when b does not start with a valid string.
func readString(b []byte) ([]byte, int, bool) {
	if len(b) == 0 || b[0] != '"' {
		return nil, 0, false
	}
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			s := b[1:i]
			if !utf8.Valid(s) {
				return nil, 0, false
			}
			return s, i + 1, true
		case c == '\\':
			// Escapes: let encoding/json decode this string.
			end := i
			for end < len(b) {
				if b[end] == '\\' {
					end += 2
					continue
				}
				if b[end] == '"' {
					break
				}
				end++
			}
			if end >= len(b) {
				return nil, 0, false
			}
			var s string
			if err := json.Unmarshal(b[:end+1], &s); err != nil {
				return nil, 0, false
			}
			return []byte(s), end + 1, true
		case c < 0x20:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// matchBrace returns the length of the object at the start of b, -1 if it
// does not close.
func matchBrace(b []byte) int {
	depth, inString, esc := 0, false, false
	for i, c := range b {
		if inString {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}
