package agi

import (
	"bufio"
	"errors"
)

var errLineTooLong = errors.New("line too long")

// readLine reads one "\n"-terminated line from r and returns it without the
// "\n". The slice is only valid until the next read from r. A line whose
// content is longer than max bytes fails with errLineTooLong as soon as the
// cap is passed (the rest is left unread). At end of stream or on a read
// error the partial line read so far is returned with the error.
func readLine(r *bufio.Reader, max int) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err == nil {
		if len(line)-1 > max {
			return nil, errLineTooLong
		}
		return line[:len(line)-1], nil
	}
	if err != bufio.ErrBufferFull {
		return line, err
	}
	// Longer than the reader's buffer: collect it, but never past max.
	var long []byte
	for {
		if len(long)+len(line) > max+1 {
			return nil, errLineTooLong
		}
		long = append(long, line...)
		if err == nil {
			return long[:len(long)-1], nil
		}
		if err != bufio.ErrBufferFull {
			return long, err
		}
		line, err = r.ReadSlice('\n')
	}
}
