package stats

import (
	"context"
	"time"
)

// segment is a run of buckets of one resolution, indexes [lo, hi).
type segment struct {
	res    resolution
	lo, hi int64
}

// plan says which buckets make up the range [from, to). A bucket counts
// when it starts within the range. Minute buckets exist from minuteFloor
// (a minute index on an hour boundary) on; before it only hours do, so an
// hour there counts whole when it starts within the range.
//
// With fine false (the caller sums whole hours, e.g. for totals or steps of
// whole hours), the full hours of the range are read as hour buckets and
// only its ragged ends as minutes: in Redis, a week is 168 keys, not 10080.
func plan(from, to time.Time, fine bool, minuteFloor int64) []segment {
	mlo, mhi := ceilDiv(from.Unix(), 60), ceilDiv(to.Unix(), 60)
	if mhi <= mlo {
		return nil
	}
	var minutes []segment
	var out []segment
	hlo, hhi := ceilDiv(mlo, 60), floorDiv(mhi, 60)
	if !fine && hlo < hhi {
		minutes = append(minutes, segment{minute, mlo, hlo * 60}, segment{minute, hhi * 60, mhi})
		out = append(out, segment{hour, hlo, hhi})
	} else {
		minutes = append(minutes, segment{minute, mlo, mhi})
	}
	for _, s := range minutes {
		if s.hi <= s.lo {
			continue
		}
		if s.lo < minuteFloor {
			// No minutes here: the hours that start within it.
			end := min(s.hi, minuteFloor)
			if h := (segment{hour, ceilDiv(s.lo, 60), ceilDiv(end, 60)}); h.hi > h.lo {
				out = append(out, h)
			}
			s.lo = end
		}
		if s.hi > s.lo {
			out = append(out, s)
		}
	}
	return out
}

// scan calls fn for every bucket in [from, to) as plan lays it out, with the
// bucket's start time.
func scan(ctx context.Context, r reader, from, to time.Time, fine bool, minuteFloor int64, fn func(start int64, d Dim, c *Counts)) error {
	for _, s := range plan(from, to, fine, minuteFloor) {
		sec := s.res.seconds()
		if err := r.read(ctx, s.res, s.lo, s.hi, func(idx int64, d Dim, c *Counts) { fn(idx*sec, d, c) }); err != nil {
			return err
		}
	}
	return nil
}
