package mask

import (
	"regexp"
	"slices"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// phoneValidator is phonenumbers' validity check for one region with its
// patterns compiled once: phonenumbers builds each pattern string and
// looks it up in a locked cache on every call, and matches each pattern
// twice, which made validation most of the scanner's time.
type phoneValidator struct {
	prefix  string // national (trunk) prefix, "0" in most of Europe
	general phoneDesc
	types   []phoneDesc // premium, toll free, …, fixed line, mobile
}

type phoneDesc struct {
	lengths []int32
	re      *regexp.Regexp
}

func (d *phoneDesc) match(nsn []byte) bool {
	if d.re == nil {
		return false
	}
	if len(d.lengths) > 0 && !slices.Contains(d.lengths, int32(len(nsn))) {
		return false
	}
	return d.re.Match(nsn)
}

var (
	metaOnce   sync.Once
	metaByID   map[string]*phonenumbers.PhoneMetadata
	validators sync.Map // region -> *phoneValidator (nil when unknown)
)

func validatorFor(region string) *phoneValidator {
	if v, ok := validators.Load(region); ok {
		return v.(*phoneValidator)
	}
	metaOnce.Do(func() {
		metaByID = map[string]*phonenumbers.PhoneMetadata{}
		coll, err := phonenumbers.MetadataCollection()
		if err != nil || coll == nil {
			return
		}
		for _, m := range coll.GetMetadata() {
			metaByID[m.GetId()] = m
		}
	})
	var pv *phoneValidator
	if m := metaByID[region]; m != nil {
		pv = &phoneValidator{prefix: m.GetNationalPrefix(), general: compileDesc(m.GetGeneralDesc())}
		for _, d := range []*phonenumbers.PhoneNumberDesc{m.GetPremiumRate(), m.GetTollFree(), m.GetSharedCost(),
			m.GetVoip(), m.GetPersonalNumber(), m.GetPager(), m.GetUan(), m.GetVoicemail(), m.GetFixedLine(), m.GetMobile()} {
			if d != nil {
				pv.types = append(pv.types, compileDesc(d))
			}
		}
	}
	v, _ := validators.LoadOrStore(region, pv)
	return v.(*phoneValidator)
}

func compileDesc(d *phonenumbers.PhoneNumberDesc) phoneDesc {
	if d == nil {
		return phoneDesc{}
	}
	re, err := regexp.Compile("^(?:" + d.GetNationalNumberPattern() + ")$")
	if err != nil {
		return phoneDesc{}
	}
	return phoneDesc{lengths: d.PossibleLength, re: re}
}

// validFor reports whether the national significant number nsn is a valid
// number of region, as phonenumbers.IsValidNumberForRegion would. ok is
// false when the region has no metadata here.
func validFor(region string, nsn []byte) (valid, ok bool) {
	pv := validatorFor(region)
	if pv == nil {
		return false, false
	}
	if !pv.general.match(nsn) {
		return false, true
	}
	for i := range pv.types {
		if pv.types[i].match(nsn) {
			return true, true
		}
	}
	return false, true
}
