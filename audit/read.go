package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// Files lists the log files in dir in log order. Files a break set aside
// (renamed with a ".broken-TIME" suffix) are not among them.
func Files(dir string) ([]string, error) {
	names, err := filepath.Glob(filepath.Join(dir, filePrefix+"*"+fileSuffix))
	if err != nil {
		return nil, fmt.Errorf("list log files: %w", err)
	}
	sort.Strings(names) // names start with the zero-padded first seq
	return names, nil
}

// ReadHead reads the head file of a log directory (HeadFile). It returns
// nil, nil when there is none.
func ReadHead(dir string) (*Checkpoint, error) {
	cp, err := ReadCheckpointFile(filepath.Join(dir, HeadFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return cp, err
}

// ReadCheckpointFile reads a file holding one checkpoint line, such as a
// head file kept elsewhere.
func ReadCheckpointFile(path string) (*Checkpoint, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	cp, _, err := parseCheckpoint(bytes.TrimSuffix(data, []byte("\n")))
	if err != nil {
		return nil, fmt.Errorf("read checkpoint %s: %w", path, err)
	}
	return cp, nil
}

// LastCheckpoint reads the last line of a log file, which must be a
// checkpoint: every file but the newest ends with the checkpoint that
// sealed it at rotation. It is what the files after it continue from
// (VerifyOptions.After) when it is archived. A file holding one
// checkpoint line (a head file) works as well.
func LastCheckpoint(path string) (*Checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read last checkpoint: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read last checkpoint: %w", err)
	}
	// A checkpoint line is a few hundred bytes; read the tail.
	const tail = 4096
	off := max(st.Size()-tail, 0)
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
		return nil, fmt.Errorf("read last checkpoint: %w", err)
	}
	buf = bytes.TrimSuffix(buf, []byte("\n"))
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
		buf = buf[i+1:]
	} else if off > 0 {
		return nil, fmt.Errorf("read last checkpoint %s: last line longer than %d bytes", path, tail)
	}
	cp, _, err := parseCheckpoint(buf)
	if err != nil {
		return nil, fmt.Errorf("read last checkpoint %s: the last line is not a checkpoint: %w", path, err)
	}
	return cp, nil
}

// Scan calls fn with every record of files, in order, without verifying
// them (run Verify for that). Checkpoint, gap and break lines are skipped,
// and so is a partial last line. It stops at the first line it cannot
// read, or when fn returns an error.
func Scan(files []string, fn func(Record) error) error {
	for _, name := range files {
		if err := scanFile(name, fn); err != nil {
			return err
		}
	}
	return nil
}

func scanFile(name string, fn func(Record) error) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("scan: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	for lineNo := 1; ; lineNo++ {
		line, err := readLine(br)
		if err == io.EOF {
			return nil // a partial last line is not a record yet
		}
		if err != nil {
			return fmt.Errorf("scan %s:%d: %w", name, lineNo, err)
		}
		body := line[:len(line)-1]
		typ, err := entryType(body)
		if err != nil {
			return fmt.Errorf("scan %s:%d: %w: %w", name, lineNo, ErrMalformed, err)
		}
		if typ != TypeRecord {
			continue
		}
		canon, _, err := splitSeal(body, "hash", 64)
		if err != nil {
			return fmt.Errorf("scan %s:%d: %w: %w", name, lineNo, ErrMalformed, err)
		}
		var rec Record
		if err := json.Unmarshal(canon, &rec); err != nil {
			return fmt.Errorf("scan %s:%d: %w: %w", name, lineNo, ErrMalformed, err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}

// peekEntry reads what Open needs from a line it does not trust: its type,
// seq and checkpoint number, zero where they do not read.
func peekEntry(line []byte) (typ string, seq, n uint64) {
	var e struct {
		Type string `json:"type"`
		Seq  uint64 `json:"seq"`
		N    uint64 `json:"n"`
	}
	if json.Unmarshal(line, &e) != nil {
		return "", 0, 0
	}
	return e.Type, e.Seq, e.N
}

// highest reads files without trusting them and returns the highest seq and
// checkpoint number any line states, so a log continuing after them never
// reuses one.
func highest(files []string) (seq, n uint64) {
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		br := bufio.NewReaderSize(f, 64<<10)
		for {
			line, err := readLine(br)
			if len(line) > 0 {
				_, s, c := peekEntry(bytes.TrimSuffix(line, []byte("\n")))
				seq, n = max(seq, s), max(n, c)
			}
			if err != nil {
				break // the end, or a line too long to be an entry
			}
		}
		f.Close()
	}
	return seq, n
}
