package mask

// Phone numbers: what a reader takes for a phone number, in the layouts of
// the hinted regions. Validity from phonenumbers' metadata raises the
// confidence; a number in a phone layout (a country code, a trunk prefix
// and groups, an area code in parentheses, the North American 3-3-4) is
// reported even in an unassigned range, with less confidence, since an
// agent must not post it either.

import (
	"slices"

	"github.com/nyaruka/phonenumbers"
)

// phone decides on a phone candidate: start includes a '+' or '(' before
// the first digit.
func (s *scanner) phone(start, first, end int, gs, ge []int, seps uint8, plus bool) {
	t := s.text
	cx := s.context(start)
	pos := cx[catPhone]
	if neg := max(cx[catNonPhone], cx[catIdent]); neg > pos && s.adjacent(neg, start) {
		return
	}
	if id := max(cx[catID], cx[catSSN]); id > pos && s.near(id, start) {
		// Announced as an identifier that failed its check.
		return
	}
	if pos < 0 && (t[first] == '0' || plus) && s.phoneWordAfter(end) {
		// German and Dutch put the verb last: "Sie können mich unter
		// 0664 771622 anrufen", "je kunt me op 0612345678 bellen" (a
		// number written the national way, with its trunk 0).
		pos = end
	}
	ctx := pos >= 0 || cx[catNumber] >= 0
	digits := 0
	for i := range gs {
		digits += ge[i] - gs[i]
	}
	if !plus && len(gs) == 1 && !ctx {
		// Bare digit runs are far more often order numbers and account
		// ids than phone numbers.
		return
	}
	if !plus && t[first] == '0' && digits < 9 && !ctx {
		return
	}
	if seps&sepSlash != 0 && (t[first] != '0' || plus) {
		// "030/1234567" is a German number; "2024/123456" a file number.
		return
	}
	var d [24]byte
	n := 0
	for i := start; i < end; i++ {
		c := t[i]
		if c < '0' || c > '9' {
			continue
		}
		if plus && c == '0' && t[i-1] == '(' && i+1 < end && t[i+1] == ')' {
			continue // "+44 (0)20 …": the trunk prefix is not dialled
		}
		if n == len(d) {
			return
		}
		d[n] = c
		n++
	}
	num := d[:n]
	if !plus && n >= 10 && num[0] == '0' && num[1] == '0' && num[2] != '0' {
		plus, num = true, num[2:] // 0049 30 …: the international prefix
	}
	valid, plausible := false, false
	if plus {
		valid, plausible = intlPhone(num)
		plausible = plausible && (len(gs) > 1 || ctx || t[start] == '+')
	} else {
		paren := seps&sepParen != 0 && t[start] == '('
		for _, r := range s.regions {
			v, p := nationalPhone(r, num, gs, ge, t, paren, ctx)
			valid, plausible = valid || v, plausible || p
			if valid {
				break
			}
		}
		if !plausible && pos >= 0 {
			// Announced by a phone word ("call me on"), a number in a
			// phone layout of another region than the hints: "07911
			// 123456" in a conversation hinted US, "555-0147".
			plausible = phoneShaped(num, gs, ge, paren)
		}
	}
	var conf float64
	switch {
	case valid:
		conf = 0.8
		if ctx {
			conf = 0.95
		}
		if plus {
			conf += 0.04
		}
	case plausible:
		conf = 0.65
		if ctx {
			conf = 0.85
		}
	default:
		return
	}
	s.add(KindPhone, start, end, conf)
}

// phoneWordAfter reports a phone word among the next two words after end,
// on the same line.
func (s *scanner) phoneWordAfter(end int) bool {
	t := s.text
	words := 0
	for j := end; j < len(t) && j-end < 24 && t[j] != '\n'; {
		if !isLetter(t[j]) {
			if isAlnum(t[j]) || t[j] == ',' || t[j] == '.' || t[j] == ';' {
				return false
			}
			j++
			continue
		}
		e := j
		for e < len(t) && isLetter(t[e]) {
			e++
		}
		for _, cw := range ctxIndex[lowerByte(t[j])] {
			if cw.cat == catPhone && !cw.exact && e-j >= len(cw.word) && hasPrefixFold(t[j:e], cw.word) && (e-j == len(cw.word) || len(cw.word) >= 4) {
				return true
			}
		}
		if words++; words == 2 {
			return false
		}
		j = e
	}
	return false
}

// phoneShaped reports a layout a reader takes for a phone number in any
// region, once a phone word announced it: nine to twelve digits in groups
// (of two to five digits, or up to eight after a trunk 0 or an area code
// in parentheses); or the North American local 3-4.
func phoneShaped(d []byte, gs, ge []int, paren bool) bool {
	if groupsAre(gs, ge, 3, 4) && d[0] >= '2' {
		return true
	}
	if len(d) < 9 || len(d) > 12 || len(gs) < 2 {
		return false
	}
	long := 8 // "030 12345678"
	if d[0] != '0' && !paren {
		long = 5 // "11 98765-4321", "612 34 56 78": an area code first
		if ge[0]-gs[0] > 3 {
			return false
		}
	}
	for i := range gs {
		if n := ge[i] - gs[i]; n < 2 || n > long || i > 0 && n > 6 && len(gs) > 2 {
			return false
		}
	}
	return true
}

var supportedCC = phonenumbers.GetSupportedCallingCodes()

// intlPhone checks digits after a '+': a known calling code followed by a
// valid number, or at least one of a length the code's main region uses.
func intlPhone(d []byte) (valid, plausible bool) {
	for l := 1; l <= 3 && l < len(d); l++ {
		cc := atoi(d[:l])
		if !supportedCC[cc] {
			continue
		}
		nsn := d[l:]
		if metadataValid(cc, nsn) {
			return true, true
		}
		regions := phonenumbers.GetRegionCodesForCountryCode(cc)
		if len(regions) == 0 {
			return false, false
		}
		pv := validatorFor(regions[0])
		return false, pv != nil && slices.Contains(pv.general.lengths, int32(len(nsn)))
	}
	return false, false
}

// nationalPhone checks digits written without a calling code against one
// region hint: valid in its metadata (after the trunk prefix), or
// plausible in a phone layout of that region.
func nationalPhone(region string, d []byte, gs, ge []int, t string, paren, ctx bool) (valid, plausible bool) {
	if region == "US" || region == "CA" {
		nsn := d
		if len(d) == 11 && d[0] == '1' {
			nsn = d[1:]
		}
		if len(nsn) != 10 || nsn[0] < '2' {
			return false, false
		}
		valid = nsn[3] >= '2' && metadataValid(1, nsn)
		// 415-555-2671, (415) 555 2671, 1-415-555-2671, 415.555.2671.
		nanp := groupsAre(gs, ge, 3, 3, 4) || groupsAre(gs, ge, 1, 3, 3, 4) && d[0] == '1'
		return valid, nanp || ctx && len(gs) == 1
	}
	pv := validatorFor(region)
	if pv == nil {
		return false, false
	}
	nsn := d
	trunk := pv.prefix != "" && len(d) > len(pv.prefix) && string(d[:len(pv.prefix)]) == pv.prefix
	if trunk {
		nsn = d[len(pv.prefix):]
	}
	valid, _ = validFor(region, nsn)
	if !valid && trunk {
		// Regions where the leading zero belongs to the number.
		valid, _ = validFor(region, d)
	}
	if valid && !trunk && pv.prefix != "" && !ctx && !trunkOptional[region] {
		// "4406 5605 0509" in Germany: a national number is written with
		// its trunk 0 (or with +49).
		valid = false
	}
	lenOK := slices.Contains(pv.general.lengths, int32(len(nsn)))
	plausible = lenOK && (trunk && len(gs) >= 2 || paren || ctx)
	return valid, plausible
}

// trunkOptional are the regions where national numbers are commonly
// written without their trunk prefix: "(11) 98765-4321", "98765 43210".
var trunkOptional = map[string]bool{"BR": true, "IN": true, "MX": true, "AR": true, "CO": true, "RU": true, "KZ": true, "BY": true, "CN": true}

func metadataValid(cc int, nsn []byte) bool {
	if len(nsn) < 4 || len(nsn) > 14 {
		return false
	}
	zeros := int32(0)
	for zeros < int32(len(nsn))-1 && nsn[zeros] == '0' {
		zeros++
	}
	// The main region of the calling code first, with precompiled
	// patterns; then, for shared codes (+1 has 25 regions), every region
	// through phonenumbers.
	regions := phonenumbers.GetRegionCodesForCountryCode(cc)
	if len(regions) == 0 {
		return false
	}
	if valid, ok := validFor(regions[0], nsn); ok && (valid || len(regions) == 1) {
		return valid
	}
	c32 := int32(cc)
	nn := uint64(0)
	for _, c := range nsn {
		nn = nn*10 + uint64(c-'0')
	}
	num := &phonenumbers.PhoneNumber{CountryCode: &c32, NationalNumber: &nn}
	if zeros > 0 {
		t := true
		num.ItalianLeadingZero = &t
		num.NumberOfLeadingZeros = &zeros
	}
	return phonenumbers.IsValidNumber(num)
}

func atoi(b []byte) int {
	x := 0
	for _, c := range b {
		x = x*10 + int(c-'0')
	}
	return x
}
