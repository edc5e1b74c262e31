package cdr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Follower reads a Master.csv that Asterisk keeps appending to. Each Read
// hands over the rows written since the previous one (the whole file the
// first time). It is safe across log rotation:
//
//   - rename (logrotate's default, then Asterisk creates a new file on its
//     next record, cdr_csv opening the file for each record): the rest of
//     the old file is read from the descriptor kept open, then the new file
//     from its start;
//   - copytruncate (the file shrinks below what was read): the file is read
//     again from its start;
//   - the file missing for a moment: nothing to read, no error, once it
//     has been seen.
//
// Only whole lines are taken: a row Asterisk is still writing is read next
// time. A Follower is not safe for concurrent use.
type Follower struct {
	path   string
	opts   CSVOptions
	f      *os.File
	info   fs.FileInfo
	offset int64 // bytes of f consumed
	line   int64 // lines of f consumed
	parser *parser
}

// NewFollower follows the Master.csv at path; nothing is read until Read.
func NewFollower(path string, opts CSVOptions) *Follower {
	return &Follower{path: path, opts: opts}
}

// Path is the file followed.
func (fl *Follower) Path() string { return fl.path }

// Read calls fn with every good row written since the previous Read, in
// file order (rec is reused: fn copies what it keeps). It fails when the
// file cannot be opened and has never been, when its rows do not have the
// layout (*LayoutError; the rows before stay read), or when fn fails;
// malformed rows are counted and skipped. ctx is checked between files.
func (fl *Follower) Read(ctx context.Context, fn func(rec *Record) error) (Stats, error) {
	var st Stats
	info, statErr := os.Stat(fl.path)
	switch {
	case statErr != nil && fl.f == nil:
		return st, fmt.Errorf("cdr file: %w", statErr)
	case statErr == nil && fl.f != nil && !os.SameFile(info, fl.info):
		// Rotated by rename: finish the old file, then start the new one.
		if err := fl.readFrom(&st, fn); err != nil {
			return st, err
		}
		_ = fl.f.Close()
		fl.f = nil
	}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	if fl.f == nil {
		if statErr != nil {
			return st, nil // gone for a moment while being rotated
		}
		f, err := os.Open(fl.path)
		if err != nil {
			return st, fmt.Errorf("cdr file: %w", err)
		}
		// What was opened may already be the next file: use its own info.
		if info, err = f.Stat(); err != nil {
			_ = f.Close()
			return st, fmt.Errorf("cdr file: %w", err)
		}
		fl.f, fl.info, fl.offset, fl.line = f, info, 0, 0
		fl.parser = newParser(fl.opts)
	}
	return st, fl.readFrom(&st, fn)
}

// readFrom reads the whole lines of the open file past the offset.
func (fl *Follower) readFrom(st *Stats, fn func(rec *Record) error) error {
	info, err := fl.f.Stat()
	if err != nil {
		return fmt.Errorf("cdr file: %w", err)
	}
	size := info.Size()
	if size < fl.offset {
		// Truncated in place (copytruncate): start over.
		fl.offset, fl.line = 0, 0
		fl.parser = newParser(fl.opts)
	}
	end, err := lastNewline(fl.f, fl.offset, size)
	if err != nil {
		return fmt.Errorf("cdr file: %w", err)
	}
	if end <= fl.offset {
		return nil
	}
	n := end - fl.offset
	consumed, lines, err := fl.parser.parse(io.NewSectionReader(fl.f, fl.offset, n), fl.line, n, st, fn)
	fl.offset += consumed
	fl.line += lines
	return err
}

// lastNewline returns the offset just past the last '\n' in f[from:size],
// or from when there is none.
func lastNewline(f io.ReaderAt, from, size int64) (int64, error) {
	buf := make([]byte, 64<<10)
	for end := size; end > from; {
		start := max(end-int64(len(buf)), from)
		b := buf[:end-start]
		if _, err := f.ReadAt(b, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return from, nil
}

// Close releases the file.
func (fl *Follower) Close() error {
	if fl.f == nil {
		return nil
	}
	err := fl.f.Close()
	fl.f = nil
	return err
}
