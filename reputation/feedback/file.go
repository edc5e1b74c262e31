package feedback

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// FileName is the feedback file under data_dir.
const FileName = "feedback.jsonl"

// FilePath is the feedback file of a data directory.
func FilePath(dataDir string) string { return filepath.Join(dataDir, FileName) }

// maxLine bounds one line of the file; longer lines are skipped as bad.
const maxLine = 16 << 10

// line is one record of the file: a report put, or one withdrawn.
type line struct {
	Op string `json:"op"` // "put" or "delete"
	Report
}

// FileStore keeps reports in an append-only JSON-lines file, one record
// per report or withdrawal, the latest record per tenant and number
// winning. Several processes may share the file (the CLI appends, serve
// reads): each append is one write of one line, and readers notice the
// file changed (size or modification time, checked at most once a
// second on the call path) and read it again. A damaged line is skipped,
// counted, and never loses the others.
type FileStore struct {
	path string
	mem  *MemoryStore
	m    *Metrics

	mu        sync.Mutex
	seenSize  int64
	seenMod   time.Time
	lastCheck time.Time
	// CheckEvery is how often Get looks at the file for changes.
	checkEvery time.Duration
	now        func() time.Time
}

var _ Store = (*FileStore)(nil)

// OpenFile opens (creating it and its directory if needed) the feedback
// file at path and reads it.
func OpenFile(path string) (*FileStore, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("feedback file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o640)
	if err != nil {
		return nil, fmt.Errorf("feedback file: %w", err)
	}
	f.Close()
	s := &FileStore{path: path, mem: NewMemoryStore(), m: NewMetrics(nil), checkEvery: time.Second, now: time.Now}
	if err := s.reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// SetMetrics makes the store count bad lines in m.
func (s *FileStore) SetMetrics(m *Metrics) {
	s.mu.Lock()
	s.m = m
	s.mu.Unlock()
}

// Path is the file the store keeps.
func (s *FileStore) Path() string { return s.path }

// Put implements Store: one line appended and synced.
func (s *FileStore) Put(ctx context.Context, r Report) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if err := s.append(line{Op: "put", Report: r}); err != nil {
		return err
	}
	return s.mem.Put(ctx, r)
}

// Delete implements Store: a withdrawal line appended and synced.
func (s *FileStore) Delete(ctx context.Context, tenant, number string) error {
	if err := s.append(line{Op: "delete", Report: Report{Tenant: tenant, Number: number, Time: s.now()}}); err != nil {
		return err
	}
	return s.mem.Delete(ctx, tenant, number)
}

// Get implements Store. It reads the file again when another process
// changed it (checked at most once a second).
func (s *FileStore) Get(ctx context.Context, tenant, number string) (Report, bool, error) {
	if err := s.maybeReload(false); err != nil {
		return Report{}, false, err
	}
	return s.mem.Get(ctx, tenant, number)
}

// List implements Store, always from the file as it is now.
func (s *FileStore) List(ctx context.Context, tenant string) ([]Report, error) {
	if err := s.maybeReload(true); err != nil {
		return nil, err
	}
	return s.mem.List(ctx, tenant)
}

func (s *FileStore) append(l line) error {
	b, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("feedback file: encode: %w", err)
	}
	b = append(b, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("feedback file: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("feedback file: append: %w", err)
	}
	// seenSize stays as it was: the next check reads the file again and
	// picks up this line together with any another process appended.
	return nil
}

func (s *FileStore) maybeReload(force bool) error {
	s.mu.Lock()
	now := s.now()
	if !force && now.Sub(s.lastCheck) < s.checkEvery {
		s.mu.Unlock()
		return nil
	}
	s.lastCheck = now
	fi, err := os.Stat(s.path)
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("feedback file: %w", err)
	}
	changed := fi.Size() != s.seenSize || !fi.ModTime().Equal(s.seenMod)
	s.mu.Unlock()
	if !changed {
		return nil
	}
	return s.reload()
}

// reload reads the whole file into a fresh index.
func (s *FileStore) reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("feedback file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("feedback file: %w", err)
	}
	idx := map[string]Report{}
	r := bufio.NewReaderSize(f, 64<<10)
	var offset, complete int64
	for {
		b, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Longer than any record we write: skip to the end of it.
			n := int64(len(b))
			for errors.Is(err, bufio.ErrBufferFull) {
				b, err = r.ReadSlice('\n')
				n += int64(len(b))
			}
			offset += n
			if err == nil {
				complete = offset
				s.m.BadLines.Inc()
				continue
			}
		} else {
			offset += int64(len(b))
		}
		if err == io.EOF {
			// A last line without its newline is a write in progress:
			// not read now, read on the next change.
			break
		}
		if err != nil {
			return fmt.Errorf("feedback file: read: %w", err)
		}
		complete = offset
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			continue
		}
		if len(b) > maxLine {
			s.m.BadLines.Inc()
			continue
		}
		var l line
		if err := json.Unmarshal(b, &l); err != nil {
			s.m.BadLines.Inc()
			continue
		}
		switch l.Op {
		case "put":
			if l.Report.Validate() != nil {
				s.m.BadLines.Inc()
				continue
			}
			idx[memKey(l.Tenant, l.Number)] = l.Report
		case "delete":
			delete(idx, memKey(l.Tenant, l.Number))
		default:
			s.m.BadLines.Inc()
		}
	}
	s.mem.replace(idx)
	if complete == fi.Size() {
		s.seenSize, s.seenMod = fi.Size(), fi.ModTime()
	} else {
		s.seenSize, s.seenMod = -1, time.Time{}
	}
	return nil
}
