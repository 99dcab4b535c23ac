package tokenize

import (
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Phone tokenizes telephone numbers parsed with libphonenumber
// (github.com/nyaruka/phonenumbers): E.164 ("+14155552671") or national
// formats in DefaultRegion ("(415) 555-2671" with "US"). The country code
// is kept, the area code too when KeepAreaCode is set (the national
// destination code as libphonenumber defines it), and the remaining
// subscriber digits are tokenized in place, so spaces, brackets and dashes
// stay where they were.
//
// The area code is also kept, whatever KeepAreaCode says, for a number of
// a region that shares its calling code and is not the code's main region,
// when at least 6 digits are left to tokenize: the Caribbean and Pacific
// members of the North American plan (+1 345 for the Cayman Islands),
// Jersey, Guernsey and the Isle of Man (+44), Kazakhstan (+7), Vatican
// City (+39) and the like. Their numbers are a sliver of the calling
// code's, which a token walking the whole number would reach only after
// tens of thousands of steps, if at all; their area codes name little more
// than the region, which a token keeps anyway.
//
// Tokens are cycle-walked until they parse back, in DefaultRegion, to the
// same country calling code and region with the same number of digits and
// are valid numbers for that region, so a token still looks like a real
// number of the same country. This needs a valid input; set AllowInvalid
// to tokenize numbers libphonenumber does not consider valid, in which
// case tokens only keep the country code and digit count. Numbers with
// fewer than 6 tokenized digits fail with fpe.ErrDomain.
//
// A phone token cannot be told from a phone number: tokens are valid
// numbers by design, so Reverse of a real number (or of a token of another
// field) returns another valid-looking number. Reverse refuses with
// ErrNotToken only a value that is not a valid number of its region
// (without AllowInvalid). In free text, mark tokens with Annotate
// ("PHONE(14):…") so they can be found and told apart.
//
// The cycle-walk follows libphonenumber's metadata: an update of
// github.com/nyaruka/phonenumbers that changes which numbers are valid (or
// which region a number belongs to) can change the tokens of some numbers
// and break the reversal of tokens made before it. Pin the module version,
// and treat an update like a key rotation for phone fields (reverse with
// the old build, tokenize with the new), or use token=stored for them.
type Phone struct {
	DefaultRegion string
	KeepAreaCode  bool
	AllowInvalid  bool
}

// Name returns "PHONE".
func (Phone) Name() string { return "PHONE" }

type phoneParts struct {
	cc     int32
	region string
	nsn    string
	valid  bool
	keep   bool  // the area code is kept (see Phone.keepArea)
	ndc    int   // length of the national destination (area) code, when needed
	pos    []int // byte offsets in the value of the NSN digits
}

// maxPhoneWalk bounds a phone token's cycle-walk. A main region's numbers
// are dense enough for maxWalk in most regions, not in all (San Marino's
// ten-digit numbers are about one in 13,000 of the candidates); the bound
// leaves a failure at below one in a million there, and costs well under
// a second when reached (the metadata pre-check makes a step cheap).
const maxPhoneWalk = 200_000

// minorRegion reports whether region shares the calling code cc and is
// not its main region.
func minorRegion(cc int32, region string) bool {
	return region != "" && region != "001" && phonenumbers.GetRegionCodeForCountryCode(int(cc)) != region
}

// keepArea decides whether a number keeps its area code (ndc digits of a
// national significant number of n): with KeepAreaCode, and in a minor
// region when at least 6 digits are left to tokenize. Tokens make the
// same decision as their number (the walk requires it), so Reverse
// decides as Tokenize did.
func (p Phone) keepArea(minor bool, n, ndc int) bool {
	return p.KeepAreaCode || (minor && n-ndc >= 6)
}

func (p Phone) parse(value string) (phoneParts, bool) {
	return p.parseKnown(value, nil)
}

// parseKnown is parse, told that the number (known.cc, known.nsn) is a
// valid number of known.region (validFor said so): when value parses to
// that calling code and national significant number, its region and
// validity are taken from known instead of found again (both are
// functions of the calling code and national significant number; see
// validFor), which is most of the cost of parsing back a candidate.
func (p Phone) parseKnown(value string, known *phoneParts) (phoneParts, bool) {
	region := p.DefaultRegion
	if region == "" {
		region = "ZZ"
	}
	num, err := phonenumbers.Parse(value, strings.ToUpper(region))
	if err != nil {
		return phoneParts{}, false
	}
	pp := phoneParts{
		cc:  num.GetCountryCode(),
		nsn: phonenumbers.GetNationalSignificantNumber(num),
	}
	if known != nil && pp.cc == known.cc && pp.nsn == known.nsn {
		pp.region, pp.valid = known.region, true
	} else {
		pp.region = phonenumbers.GetRegionCodeForNumber(num)
		// IsValidNumber is IsValidNumberForRegion at GetRegionCodeForNumber,
		// which is already known: finding it again costs as much as the parse.
		pp.valid = phonenumbers.IsValidNumberForRegion(num, pp.region)
	}
	minor := minorRegion(pp.cc, pp.region)
	if p.KeepAreaCode || minor { // formats the number: only when it is used
		pp.ndc = phonenumbers.GetLengthOfNationalDestinationCode(num)
	}
	pp.keep = p.keepArea(minor, len(pp.nsn), pp.ndc)
	// Locate the national significant number among the value's ASCII
	// digits: the last run equal to it (an extension, if any, follows it).
	var digits []byte
	var pos []int
	for i := 0; i < len(value); i++ {
		if c := value[i]; c >= '0' && c <= '9' {
			digits = append(digits, c)
			pos = append(pos, i)
		}
	}
	at := strings.LastIndex(string(digits), pp.nsn)
	clear(digits)
	if at < 0 || pp.nsn == "" {
		return phoneParts{}, false
	}
	pp.pos = pos[at : at+len(pp.nsn)]
	return pp, true
}

// validFor reports whether nsn, a national significant number of the
// calling code cc, is a valid number of region: libphonenumber places it
// in region (several regions share +1, +44, +7, ...) and finds it valid
// there. It is the validity half of a candidate's acceptance, decided from
// metadata alone: a candidate that parses back to the original's calling
// code, region and digit positions has exactly nsn as its national
// significant number (only digits moved, at the same positions), and
// GetRegionCodeForNumber and IsValidNumber are functions of (cc, nsn). So
// it rejects, without the parse, exactly the candidates the parse would
// reject as invalid or of another region; a candidate it passes is still
// parsed back in full.
func validFor(cc int32, region string, nsn []byte) bool {
	if len(nsn) == 0 || len(nsn) > 19 { // beyond uint64; let the full check decide
		return true
	}
	num := phonenumbers.PhoneNumber{CountryCode: &cc}
	// Leading zeros as Parse records them: all but the last digit.
	zeros := int32(0)
	for zeros < int32(len(nsn))-1 && nsn[zeros] == '0' {
		zeros++
	}
	if zeros > 0 {
		italian := true
		num.ItalianLeadingZero = &italian
		num.NumberOfLeadingZeros = &zeros
	}
	var n uint64
	for _, c := range nsn {
		n = n*10 + uint64(c-'0')
	}
	num.NationalNumber = &n
	// Validity at the region first: it is the cheaper test, and the one
	// that fails for most candidates.
	return phonenumbers.IsValidNumberForRegion(&num, region) && phonenumbers.GetRegionCodeForNumber(&num) == region
}

func (p Phone) transform(f numerals, value string, enc bool) (string, error) {
	orig, ok := p.parse(value)
	if !ok {
		return "", fmt.Errorf("%w: not a phone number (set DefaultRegion for national formats)", ErrFormat)
	}
	if !orig.valid && !p.AllowInvalid {
		if !enc {
			return "", fmt.Errorf("%w: phone tokens are valid numbers of their region, and this one is not", ErrNotToken)
		}
		return "", fmt.Errorf("%w: phone number is not valid for its region (see Phone.AllowInvalid)", ErrFormat)
	}
	keep := 0
	if orig.keep {
		keep = orig.ndc
	}
	sub := orig.pos[keep:]
	x := make([]uint16, len(sub))
	for i, q := range sub {
		x[i] = uint16(value[q] - '0')
	}
	defer clear(x)
	// A candidate is acceptable when the string it produces parses back to
	// the same country, region and digit positions (so reversal finds the
	// same digits), and is valid when the original had to be.
	nsn := []byte(orig.nsn)
	defer clear(nsn)
	valid := func(y []uint16) bool {
		var known *phoneParts
		if !p.AllowInvalid {
			for i, d := range y {
				nsn[keep+i] = byte(d) + '0'
			}
			if !validFor(orig.cc, orig.region, nsn) {
				return false
			}
			known = &phoneParts{cc: orig.cc, region: orig.region, nsn: string(nsn)}
		}
		cand, ok := p.parseKnown(putDigits(value, sub, y), known)
		if !ok || cand.cc != orig.cc || cand.region != orig.region || len(cand.nsn) != len(orig.nsn) {
			return false
		}
		if cand.pos[0] != orig.pos[0] || cand.keep != orig.keep || (orig.keep && cand.ndc != orig.ndc) {
			return false
		}
		return cand.valid || p.AllowInvalid
	}
	y, err := f.walk(10, x, enc, valid, maxPhoneWalk)
	if err != nil {
		return "", err
	}
	defer clear(y)
	return putDigits(value, sub, y), nil
}
