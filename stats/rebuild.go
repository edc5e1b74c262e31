package stats

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/callscreen/callscreen/audit"
)

// RebuildReport says what a rebuild read.
type RebuildReport struct {
	// Files is how many log files were read, Skipped how many were left
	// out for holding only records older than the retention.
	Files, Skipped int
	// Records counts the records counted, Older those before the
	// retention, Unreadable those whose time did not parse.
	Records, Older, Unreadable int
	Took                       time.Duration
}

// errStop ends a scan early.
var errStop = errors.New("stop")

// Rebuild counts the decisions of the decision log in dir that were made
// within the retention and before before, into this instance's memory.
// Calls recorded live have started at or after before (the time serve
// started), so none is counted twice. Shared counters in Redis are not
// touched: they outlive a restart on their own.
//
// A log that cannot be read stops the rebuild with what was counted so
// far and an error saying where; the statistics stay usable.
func (s *Stats) Rebuild(ctx context.Context, dir string, before time.Time) (RebuildReport, error) {
	s.rebuilding.Store(true)
	defer s.rebuilding.Store(false)
	start := time.Now()
	var rep RebuildReport
	files, err := audit.Files(dir)
	if err != nil {
		return rep, fmt.Errorf("stats: rebuild: %w", err)
	}
	oldest := s.now().Add(-s.opts.Retention)
	cutDay := oldest.UTC().Format("20060102")
	for i, f := range files {
		// A file holds records from the day it was opened until the next
		// file's: skip it when the next one was opened before the oldest
		// day kept.
		if i+1 < len(files) {
			if day := fileDay(files[i+1]); day != "" && day < cutDay {
				rep.Skipped++
				continue
			}
		}
		rep.Files++
		err := audit.Scan([]string{f}, func(rec audit.Record) error {
			if ctx.Err() != nil {
				return errStop
			}
			call, ok := FromRecord(&rec)
			switch {
			case !ok:
				rep.Unreadable++
			case call.Time.Before(oldest):
				rep.Older++
			case !call.Time.Before(before):
			default:
				s.add(call, false)
				rep.Records++
			}
			return nil
		})
		if errors.Is(err, errStop) {
			return rep, ctx.Err()
		}
		if err != nil {
			rep.Took = time.Since(start)
			s.m.rebuildRecords.Set(float64(rep.Records))
			return rep, fmt.Errorf("stats: rebuild stopped, %d records counted: %w", rep.Records, err)
		}
	}
	rep.Took = time.Since(start)
	s.m.rebuildRecords.Set(float64(rep.Records))
	s.m.rebuildSeconds.Set(rep.Took.Seconds())
	return rep, nil
}

// fileDay reads DAY from audit-SEQ-DAY.jsonl, "" when the name has none.
func fileDay(path string) string {
	name := strings.TrimSuffix(filepath.Base(path), ".jsonl")
	i := strings.LastIndexByte(name, '-')
	if i < 0 || len(name)-i-1 != 8 {
		return ""
	}
	return name[i+1:]
}
