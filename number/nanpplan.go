package number

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// nanpPlan answers, for a ten-digit North American national number, what
// Parse's checks through the library answer (IsPossibleNumber,
// IsValidNumberForRegion, GetRegionCodeForNumber), from the library's own
// metadata compiled into digit automata: tens of nanoseconds instead of
// the library's microseconds of regular expressions per call. A test
// compares the two on every area code and on random numbers, and Parse
// falls back to the library whenever the plan could not be built.
type nanpPlan struct {
	// possible is IsPossibleNumber of a country code 1 number with ten
	// national digits: for country code 1 the library decides it from the
	// length alone, with the main region's (US) general description.
	possible bool
	// regions are the NANP regions in the library's order (the order
	// GetRegionCodeForNumber tries them in).
	regions []nanpRegion
	byID    map[string]*nanpRegion
}

type nanpRegion struct {
	id string
	// lead matches the region's leading digits (a prefix); nil when the
	// metadata has none, and the region is then found by validity.
	lead *digitDFA
	// general and types are IsValidNumberForRegion's two tests: the
	// general description, then any number type's description.
	general, types *digitDFA
}

// nanpDigits is the length of a NANP national significant number.
const nanpDigits = 10

var nanpPlanOnce = sync.OnceValues(buildNANPPlan)

// buildNANPPlan compiles the plan from the library's metadata. An error
// (metadata the automata cannot express) leaves Parse on the library.
func buildNANPPlan() (*nanpPlan, error) {
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return nil, err
	}
	// The library keys its metadata by region id, the last entry winning.
	meta := map[string]*phonenumbers.PhoneMetadata{}
	for _, m := range coll.GetMetadata() {
		meta[m.GetId()] = m
	}
	ids := phonenumbers.GetRegionCodesForCountryCode(1)
	if len(ids) == 0 {
		return nil, errors.New("no NANP regions")
	}
	sample := &phonenumbers.PhoneNumber{CountryCode: new(int32(1)), NationalNumber: new(uint64(2_000_000_000))}
	plan := &nanpPlan{possible: phonenumbers.IsPossibleNumber(sample), byID: map[string]*nanpRegion{}}
	plan.regions = make([]nanpRegion, len(ids))
	for i, id := range ids {
		m := meta[id]
		if m == nil || m.GetCountryCode() != 1 {
			return nil, fmt.Errorf("region %s: no NANP metadata", id)
		}
		r, err := compileNANPRegion(m)
		if err != nil {
			return nil, fmt.Errorf("region %s: %w", id, err)
		}
		plan.regions[i] = r
	}
	for i := range plan.regions {
		plan.byID[plan.regions[i].id] = &plan.regions[i]
	}
	return plan, nil
}

// compileNANPRegion follows the library's getNumberTypeHelper: a number is
// valid when it matches the general description and then one of the
// number types (premium rate, toll free, shared cost, VoIP, personal,
// pager, UAN, voicemail, fixed line, and mobile unless the metadata says
// mobile and fixed line share a pattern). A description matches when its
// possible lengths, if listed, include ten and its pattern matches.
func compileNANPRegion(m *phonenumbers.PhoneMetadata) (nanpRegion, error) {
	r := nanpRegion{id: m.GetId()}
	if ld := m.GetLeadingDigits(); ld != "" {
		a, err := compileDigitDFA(nanpDigits, prefix(ld))
		if err != nil {
			return r, fmt.Errorf("leading digits: %w", err)
		}
		r.lead = a
	}
	descs := []*phonenumbers.PhoneNumberDesc{
		m.GetPremiumRate(), m.GetTollFree(), m.GetSharedCost(), m.GetVoip(), m.GetPersonalNumber(),
		m.GetPager(), m.GetUan(), m.GetVoicemail(), m.GetFixedLine(),
	}
	if !m.GetSameMobileAndFixedLinePattern() {
		descs = append(descs, m.GetMobile())
	}
	var types []string
	for _, d := range descs {
		if d == nil {
			return r, errors.New("a number type without description")
		}
		if lengthAllowed(d) {
			types = append(types, whole(d.GetNationalNumberPattern()))
		}
	}
	g := m.GetGeneralDesc()
	if g == nil {
		return r, errors.New("no general description")
	}
	var general []string
	if lengthAllowed(g) {
		general = []string{whole(g.GetNationalNumberPattern())}
	}
	var err error
	if r.general, err = compileDigitDFA(nanpDigits, general...); err != nil {
		return r, fmt.Errorf("general description: %w", err)
	}
	if r.types, err = compileDigitDFA(nanpDigits, types...); err != nil {
		return r, fmt.Errorf("number types: %w", err)
	}
	return r, nil
}

// lengthAllowed is the library's isNumberPossibleForDesc length test for
// a ten-digit number: no listed lengths, or ten among them.
func lengthAllowed(d *phonenumbers.PhoneNumberDesc) bool {
	return len(d.PossibleLength) == 0 || slices.Contains(d.PossibleLength, nanpDigits)
}

// valid is IsValidNumberForRegion for national (ten digits) in r.
func (r *nanpRegion) valid(national string) bool {
	return r.general.match(national) && r.types.match(national)
}

// parseNANP finishes Parse for a country code 1 number with the ten
// national digits national (NPA starting 2–9), reading n's fields as the
// library's checks would. ok is false when the plan is not available.
func parseNANP(n Number, national, region string) (Number, bool) {
	plan, err := nanpPlanOnce()
	if err != nil || len(national) != nanpDigits {
		return n, false
	}
	if !plan.possible {
		return n, true
	}
	n.CountryCode = 1
	n.E164 = "+1" + national
	if r := plan.byID[region]; r != nil && r.valid(national) {
		n.Region, n.Kind = r.id, Valid
		return n, true
	}
	// GetRegionCodeForNumber: the only region, else the first region whose
	// leading digits match or, for a region without them, for which the
	// number is valid.
	if len(plan.regions) == 1 {
		r := &plan.regions[0]
		n.Region = r.id
		if r.valid(national) {
			n.Kind = Valid
		}
		return n, true
	}
	for i := range plan.regions {
		r := &plan.regions[i]
		if (r.lead != nil && r.lead.match(national)) || (r.lead == nil && r.valid(national)) {
			n.Region = r.id
			if r.valid(national) {
				n.Kind = Valid
			}
			return n, true
		}
	}
	return n, true
}
