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
// IsValidNumberForRegion for the default region, GetRegionCodeForNumber,
// IsValidNumberForRegion for the region found), from the library's own
// metadata compiled into one digit classifier per default region: ten
// table steps instead of microseconds of regular expressions. Tests
// compare the two on every area code, every exchange of the area codes
// whose validity depends on it, and fuzzed text; Parse falls back to the
// library whenever a classifier cannot be built.
type nanpPlan struct {
	// possible is IsPossibleNumber of a country code 1 number with ten
	// national digits: for country code 1 the library decides it from the
	// length alone, with the main region's (US) general description.
	possible bool
	// ids are the NANP regions in the library's order, the order
	// GetRegionCodeForNumber tries them in.
	ids []string
	// groups are the classifiers' expression groups; lead, general and
	// types index them per region (lead -1: the region has no leading
	// digits and is found by validity).
	groups               [][]string
	lead, general, types []int
	classifiers          sync.Map // default region key → func() (*digitClassifier, error)
}

// nanpDigits is the length of a NANP national significant number.
const nanpDigits = 10

var nanpPlanOnce = sync.OnceValues(buildNANPPlan)

// buildNANPPlan reads the library's metadata for country code 1. An error
// (metadata of an unexpected shape) leaves Parse on the library.
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
	cc := int32(1)
	nn := uint64(2_000_000_000)
	plan := &nanpPlan{
		possible: phonenumbers.IsPossibleNumber(&phonenumbers.PhoneNumber{CountryCode: &cc, NationalNumber: &nn}),
		ids:      slices.Clone(ids),
	}
	group := func(exprs []string) int {
		plan.groups = append(plan.groups, exprs)
		return len(plan.groups) - 1
	}
	for _, id := range ids {
		m := meta[id]
		if m == nil || m.GetCountryCode() != 1 {
			return nil, fmt.Errorf("region %s: no NANP metadata", id)
		}
		lead, general, types, err := regionExprs(m)
		if err != nil {
			return nil, fmt.Errorf("region %s: %w", id, err)
		}
		l := -1
		if lead != "" {
			l = group([]string{lead})
		}
		plan.lead = append(plan.lead, l)
		plan.general = append(plan.general, group(general))
		plan.types = append(plan.types, group(types))
	}
	return plan, nil
}

// regionExprs are the expressions the library matches a ten-digit number
// of region m against. Leading digits are matched as a prefix. Validity
// follows getNumberTypeHelper: the general description, then one of the
// number types (premium rate, toll free, shared cost, VoIP, personal,
// pager, UAN, voicemail, fixed line, and mobile unless the metadata says
// mobile and fixed line share a pattern). A description counts when its
// possible lengths, if it lists any, include ten (isNumberPossibleForDesc).
func regionExprs(m *phonenumbers.PhoneMetadata) (lead string, general, types []string, err error) {
	if ld := m.GetLeadingDigits(); ld != "" {
		lead = prefix(ld)
	}
	descs := []*phonenumbers.PhoneNumberDesc{
		m.GetPremiumRate(), m.GetTollFree(), m.GetSharedCost(), m.GetVoip(), m.GetPersonalNumber(),
		m.GetPager(), m.GetUan(), m.GetVoicemail(), m.GetFixedLine(),
	}
	if !m.GetSameMobileAndFixedLinePattern() {
		descs = append(descs, m.GetMobile())
	}
	for _, d := range descs {
		if d == nil {
			return "", nil, nil, errors.New("a number type without description")
		}
		if lengthAllowed(d) {
			types = append(types, whole(d.GetNationalNumberPattern()))
		}
	}
	g := m.GetGeneralDesc()
	if g == nil {
		return "", nil, nil, errors.New("no general description")
	}
	if lengthAllowed(g) {
		general = []string{whole(g.GetNationalNumberPattern())}
	}
	return lead, general, types, nil
}

// lengthAllowed is the library's isNumberPossibleForDesc length test for
// a ten-digit number: no listed lengths, or ten among them.
func lengthAllowed(d *phonenumbers.PhoneNumberDesc) bool {
	return len(d.PossibleLength) == 0 || slices.Contains(d.PossibleLength, nanpDigits)
}

// classifier returns the classifier for numbers read with default region
// region, built on first use (a few milliseconds). Every region outside
// NANP shares one: Parse then skips straight to the region search.
func (p *nanpPlan) classifier(region string) (*digitClassifier, error) {
	def := slices.Index(p.ids, region)
	key := region
	if def < 0 {
		key = ""
	}
	f, ok := p.classifiers.Load(key)
	if !ok {
		f, _ = p.classifiers.LoadOrStore(key, sync.OnceValues(func() (*digitClassifier, error) {
			return compileClassifier(nanpDigits, p.groups, func(m []bool) int32 { return p.classify(def, m) })
		}))
	}
	return f.(func() (*digitClassifier, error))()
}

// classify is what Parse decides from the groups that match, with def the
// index of the default region (-1 outside NANP): (region index + 1) << 1,
// plus 1 when the number is valid there; 0 when no region is found.
func (p *nanpPlan) classify(def int, m []bool) int32 {
	valid := func(i int) bool { return m[p.general[i]] && m[p.types[i]] }
	found := func(i int) int32 {
		c := int32(i+1) << 1
		if valid(i) {
			c |= 1
		}
		return c
	}
	// IsValidNumberForRegion for the default region first.
	if def >= 0 && valid(def) {
		return found(def)
	}
	// GetRegionCodeForNumber: the only region, else the first whose
	// leading digits match or, for a region without them, for which the
	// number is valid.
	if len(p.ids) == 1 {
		return found(0)
	}
	for i := range p.ids {
		if l := p.lead[i]; (l >= 0 && m[l]) || (l < 0 && valid(i)) {
			return found(i)
		}
	}
	return 0
}

// parseNANP finishes Parse for a country code 1 number with the ten
// national digits national, in default region region. ok is false when
// the plan is not available.
func parseNANP(n Number, national, region string) (Number, bool) {
	plan, err := nanpPlanOnce()
	if err != nil {
		return n, false
	}
	if !plan.possible {
		return n, true
	}
	cl, err := plan.classifier(region)
	if err != nil {
		return n, false
	}
	class, ok := cl.classify(national)
	if !ok {
		return n, false
	}
	n.CountryCode = 1
	if len(n.Raw) == 12 && n.Raw[:2] == "+1" && n.Raw[2:] == national {
		n.E164 = n.Raw // already E.164: no copy
	} else {
		n.E164 = "+1" + national
	}
	if class != 0 {
		n.Region = plan.ids[class>>1-1]
		if class&1 == 1 {
			n.Kind = Valid
		}
	}
	return n, true
}
