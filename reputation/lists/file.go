package lists

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// LineError is one bad line of a list file. The line is skipped; the rest
// of the file is used.
type LineError struct {
	File string
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }

func (e *LineError) Unwrap() error { return e.Err }

// maxLineLen bounds one line of a list file.
const maxLineLen = 4096

// ParseFile reads a list file: one entry per line (see ParseEntry), blank
// lines and lines starting with '#' ignored, and a '#' after white space
// starting a comment that becomes the entry's note. Bad lines are returned
// as LineErrors and skipped; err is only for a file that cannot be read.
func ParseFile(path string, list List, region string) ([]Entry, []LineError, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s list: %w", list, err)
	}
	defer f.Close()
	entries, bad, err := Parse(f, filepath.Base(path), list, region)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s list %s: %w", list, path, err)
	}
	return entries, bad, nil
}

// stamp is what says a file changed: its size and modification time.
type stamp struct {
	size  int64
	mtime time.Time
}

func stampOf(fi os.FileInfo) stamp { return stamp{size: fi.Size(), mtime: fi.ModTime()} }

// readStable reads the file at path whole, again until its size and
// modification time are the same before and after a read (a writer in the
// middle of a write changes them), at most a few times. It returns the
// contents and the stamp they were read under; unchanged reports whether
// the stamp held over the read.
func readStable(path string) (data []byte, st stamp, unchanged bool, err error) {
	const tries = 5
	for i := range tries {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, stamp{}, false, err
		}
		data, err = os.ReadFile(path)
		if err != nil {
			return nil, stamp{}, false, err
		}
		after, err := os.Stat(path)
		if err != nil {
			return nil, stamp{}, false, err
		}
		if st = stampOf(after); st == stampOf(fi) && int64(len(data)) == st.size {
			return data, st, true, nil
		}
		if i < tries-1 {
			time.Sleep(20 * time.Millisecond) // let the writer's burst end
		}
	}
	return data, st, false, nil
}

// completeLines returns data up to and including its last newline: the
// lines a writer has finished.
func completeLines(data []byte) []byte {
	return data[:bytes.LastIndexByte(data, '\n')+1]
}

// Parse reads list-file syntax from r; name is used in origins and errors.
func Parse(r io.Reader, name string, list List, region string) ([]Entry, []LineError, error) {
	var (
		entries []Entry
		bad     []LineError
	)
	br := bufio.NewReader(r)
	for ln := 1; ; ln++ {
		line, err := readLine(br)
		if err == io.EOF && line == "" {
			break
		}
		if err != nil && err != io.EOF && err != errLongLine {
			return entries, bad, err
		}
		if err == errLongLine {
			bad = append(bad, LineError{File: name, Line: ln, Err: fmt.Errorf("line longer than %d bytes", maxLineLen)})
			continue
		}
		body, note := splitComment(line)
		if body == "" {
			continue
		}
		e, perr := ParseEntry(body, region)
		if perr != nil {
			bad = append(bad, LineError{File: name, Line: ln, Err: perr})
			continue
		}
		e.List = list
		e.Note = note
		e.Origin = fmt.Sprintf("%s:%d", name, ln)
		entries = append(entries, e)
		if err == io.EOF {
			break
		}
	}
	return entries, bad, nil
}

var errLongLine = fmt.Errorf("line too long")

// readLine returns one line without its end of line; a line longer than
// maxLineLen is consumed and reported as errLongLine.
func readLine(br *bufio.Reader) (string, error) {
	var b []byte
	long := false
	for {
		chunk, err := br.ReadSlice('\n')
		if !long {
			b = append(b, chunk...)
			if len(b) > maxLineLen+2 {
				long, b = true, nil
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if long {
			if err == io.EOF {
				return "", errLongLine
			}
			return "", errLongLine
		}
		s := strings.TrimRight(string(b), "\r\n")
		if err == io.EOF {
			if s == "" {
				return "", io.EOF
			}
			return s, io.EOF
		}
		return s, err
	}
}

// splitComment splits a line into its entry and the comment after '#'. A
// '#' is a comment only at the start of the line or after white space, so
// name patterns may contain it.
func splitComment(line string) (body, note string) {
	line = strings.TrimPrefix(line, "\ufeff")
	for i := 0; i < len(line); i++ {
		if line[i] == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t') {
			return strings.TrimSpace(line[:i]), strings.TrimSpace(line[i+1:])
		}
	}
	return strings.TrimSpace(line), ""
}
