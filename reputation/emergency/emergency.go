package emergency

import (
	"context"
	"fmt"
	"strings"

	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/lists"
)

// Source is the emergency and critical numbers list. It is immutable and
// safe for concurrent use.
type Source struct {
	exact    map[string]string // key → entry as configured
	prefixes []lists.Entry
	ranges   []lists.Entry
}

var _ reputation.Local = (*Source)(nil)

// SourceName is the name the list reports under in a chain.
const SourceName = "emergency"

// New builds the list from policy.DefaultEmergency and numbers (exact
// numbers, short codes, "+1800555*" prefixes, "A..B" ranges; national
// forms read in region). A bad entry is an error naming it: a critical
// number silently dropped is worse than refusing to start.
func New(numbers []string, region string) (*Source, error) {
	if region == "" {
		region = "US"
	}
	s := &Source{exact: map[string]string{}}
	for _, d := range policy.DefaultEmergency {
		s.exact[d] = d
	}
	for i, in := range numbers {
		in = strings.TrimSpace(in)
		e, err := lists.ParseEntry(in, region)
		if err != nil {
			return nil, fmt.Errorf("emergency[%d] %q: %w", i, in, err)
		}
		switch e.Kind {
		case lists.Number:
			s.exact[e.Value] = in
		case lists.Prefix:
			s.prefixes = append(s.prefixes, e)
		case lists.Range:
			s.ranges = append(s.ranges, e)
		default:
			return nil, fmt.Errorf("emergency[%d] %q: want a number, prefix or range", i, in)
		}
	}
	return s, nil
}

// Match reports whether n is on the list, and the entry it matched.
func (s *Source) Match(n number.Number) (string, bool) {
	for _, k := range []string{n.E164, n.Digits} {
		if k == "" {
			continue
		}
		if e, ok := s.exact[k]; ok {
			return e, true
		}
	}
	if k := n.E164; k != "" {
		for _, p := range s.prefixes {
			if strings.HasPrefix(k, p.Value) {
				return p.String(), true
			}
		}
		for _, r := range s.ranges {
			if len(k) == len(r.Value) && k >= r.Value && k <= r.High {
				return r.String(), true
			}
		}
	}
	return "", false
}

// Local reports true: critical numbers are matched in memory.
func (s *Source) Local() bool { return true }

// Lookup returns emergency.exempt, Final, when the caller or the dialed
// number is on the list, and an empty verdict otherwise. It never fails
// and answers even when ctx has ended.
func (s *Source) Lookup(_ context.Context, q reputation.Query) (reputation.Verdict, error) {
	for _, side := range []struct {
		name string
		n    number.Number
	}{{"caller", q.Caller}, {"dialed", q.Dialed}} {
		if e, ok := s.Match(side.n); ok {
			return reputation.Verdict{
				Verdict: policy.Verdict{Reasons: []policy.Reason{policy.EmergencyExempt}},
				Source:  SourceName,
				Final:   true,
				Raw:     map[string]string{"emergency_" + side.name: e},
			}, nil
		}
	}
	return reputation.Verdict{Source: SourceName}, nil
}
