package tokenize

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/fieldguard/pii/tokenize/fpe"
	"github.com/nyaruka/phonenumbers"
	"github.com/stretchr/testify/require"
)

// phoneRef is Phone without validFor: every cycle-walk candidate parsed
// back in full, the area code always measured, validity found through
// IsValidNumber (the implementation before the pre-check, with today's
// rule for which numbers keep their area code). It is the reference the
// fast path must equal.
type phoneRef struct{ Phone }

func (p phoneRef) parse(value string) (phoneParts, bool) {
	region := p.DefaultRegion
	if region == "" {
		region = "ZZ"
	}
	num, err := phonenumbers.Parse(value, strings.ToUpper(region))
	if err != nil {
		return phoneParts{}, false
	}
	pp := phoneParts{
		cc:     num.GetCountryCode(),
		region: phonenumbers.GetRegionCodeForNumber(num),
		nsn:    phonenumbers.GetNationalSignificantNumber(num),
		valid:  phonenumbers.IsValidNumber(num),
		ndc:    phonenumbers.GetLengthOfNationalDestinationCode(num),
	}
	pp.keep = p.keepArea(minorRegion(pp.cc, pp.region), len(pp.nsn), pp.ndc)
	var digits []byte
	var pos []int
	for i := 0; i < len(value); i++ {
		if c := value[i]; c >= '0' && c <= '9' {
			digits = append(digits, c)
			pos = append(pos, i)
		}
	}
	at := strings.LastIndex(string(digits), pp.nsn)
	if at < 0 || pp.nsn == "" {
		return phoneParts{}, false
	}
	pp.pos = pos[at : at+len(pp.nsn)]
	return pp, true
}

func (p phoneRef) transform(f numerals, value string, enc bool) (string, error) {
	orig, ok := p.parse(value)
	if !ok {
		return "", fmt.Errorf("%w: not a phone number", ErrFormat)
	}
	if !orig.valid && !p.AllowInvalid {
		if !enc {
			return "", fmt.Errorf("%w: invalid", ErrNotToken)
		}
		return "", fmt.Errorf("%w: invalid", ErrFormat)
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
	valid := func(y []uint16) bool {
		cand, ok := p.parse(putDigits(value, sub, y))
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
	return putDigits(value, sub, y), nil
}

// phoneRegions are the regions TestPhoneTokensUnchanged covers by default
// (phoneRegionsRace under -race, where it would take minutes; the whole set
// runs in every build without -race, and FuzzPhoneTokensUnchanged in the
// fuzz pass):
// calling codes shared by several regions (+1, +44, +7, where the region
// check matters), national prefixes that Parse strips, Italian leading
// zeros, long and short numbers. PII_PHONE_SWEEP=all covers every supported
// region (minutes: the reference walks some small regions for a second a
// token).
var phoneRegions = []string{"US", "CA", "PR", "GB", "JE", "IM", "RU", "KZ", "DE", "FR", "IT", "SM", "JP",
	"AU", "BR", "IN", "CN", "NG", "AR", "MX", "ZA", "SE", "CH", "NL", "ES", "KR", "SG", "HK", "AT", "FI"}

var phoneRegionsRace = []string{"US", "GB", "JE", "IT", "KZ"}

// phoneSamples returns numbers of the regions (every supported one when
// all), written in E.164, international and national form:
// libphonenumber's example numbers of three types and, for each,
// perExample random numbers of the same length and first digit that it
// takes as valid; and the non-geographic calling codes' examples.
func phoneSamples(t *testing.T, all bool, perExample int) []struct{ value, region string } {
	t.Helper()
	regions := phoneRegions
	if raceDetector {
		regions = phoneRegionsRace
	}
	if all {
		regions = nil
		for r := range phonenumbers.GetSupportedRegions() {
			regions = append(regions, r)
		}
		slices.Sort(regions)
	}
	rng := rand.New(rand.NewPCG(12, 34))
	types := []phonenumbers.PhoneNumberType{phonenumbers.FIXED_LINE, phonenumbers.MOBILE, phonenumbers.TOLL_FREE}
	var out []struct{ value, region string }
	add := func(n *phonenumbers.PhoneNumber, region string) {
		out = append(out,
			struct{ value, region string }{phonenumbers.Format(n, phonenumbers.E164), ""},
			struct{ value, region string }{phonenumbers.Format(n, phonenumbers.INTERNATIONAL), region},
			struct{ value, region string }{phonenumbers.Format(n, phonenumbers.NATIONAL), region})
	}
	for _, r := range regions {
		for _, typ := range types {
			ex := phonenumbers.GetExampleNumberForType(r, typ)
			if ex == nil {
				continue
			}
			add(ex, r)
			nsn := phonenumbers.GetNationalSignificantNumber(ex)
			for found, tries := 0, 0; found < perExample && tries < 200; tries++ {
				b := []byte(nsn)
				for i := 1; i < len(b); i++ {
					b[i] = byte('0' + rng.IntN(10))
				}
				n, err := phonenumbers.Parse("+"+fmt.Sprint(ex.GetCountryCode())+string(b), "ZZ")
				if err != nil || !phonenumbers.IsValidNumber(n) {
					continue
				}
				found++
				add(n, r)
			}
		}
	}
	for _, cc := range []int{800, 808, 870, 882, 883} {
		if ex := phonenumbers.GetExampleNumberForNonGeoEntity(cc); ex != nil {
			add(ex, "001")
		}
	}
	return out
}

// TestPhoneTokensUnchanged proves the metadata pre-check (validFor) is an
// optimization only: over numbers of many regions, types and writings,
// with and without KeepAreaCode and AllowInvalid, tokens and reversals
// equal the reference's, errors included. Without the pre-check's
// argument (see validFor) holding, a token would differ here.
func TestPhoneTokensUnchanged(t *testing.T) {
	ctx := context.Background()
	tk := newTestTokenizer(t, nil)
	all := os.Getenv("PII_PHONE_SWEEP") == "all"
	perExample := 0
	if all {
		perExample = 1
	}
	samples := phoneSamples(t, all, perExample)
	if raceDetector {
		// Every tenth: the whole set runs without -race (test.sh runs
		// this test once more without it).
		samples = slices.Collect(func(yield func(struct{ value, region string }) bool) {
			for i := 0; i < len(samples); i += 10 {
				if !yield(samples[i]) {
					return
				}
			}
		})
	} else {
		require.Greater(t, len(samples), 150, "too few samples to mean anything")
	}
	scope := Scope{Tenant: "acme", Field: "Customer.Phone"}
	compared, tokens := 0, 0
	for _, s := range samples {
		for _, opt := range []Phone{{}, {KeepAreaCode: true}, {AllowInvalid: true}} {
			p := opt
			p.DefaultRegion = s.region
			name := fmt.Sprintf("%q region %q %+v", s.value, s.region, opt)
			got, gotErr := tk.Tokenize(ctx, MethodFF1, scope, p, s.value)
			want, wantErr := tk.Tokenize(ctx, MethodFF1, scope, phoneRef{p}, s.value)
			require.Equal(t, want, got, name)
			require.Equal(t, wantErr != nil, gotErr != nil, "%s: %v vs %v", name, gotErr, wantErr)
			compared++
			if gotErr != nil {
				continue
			}
			tokens++
			back, err := tk.Detokenize(ctx, MethodFF1, scope, p, got)
			require.NoError(t, err, name)
			require.Equal(t, s.value, back, name)
			// Reversing a number that is not a token walks too.
			gotR, gotErr := tk.Detokenize(ctx, MethodFF1, scope, p, s.value)
			wantR, wantErr := tk.Detokenize(ctx, MethodFF1, scope, phoneRef{p}, s.value)
			require.Equal(t, wantR, gotR, name)
			require.Equal(t, wantErr != nil, gotErr != nil, name)
		}
	}
	t.Logf("%d samples, %d comparisons, %d tokens", len(samples), compared, tokens)
	require.Greater(t, tokens, compared/2, "most samples must tokenize, or the comparison proves little")
}

// TestValidForIsIsValidNumber checks the pre-check against libphonenumber
// directly: for random digit strings under every supported calling code,
// validFor at the parsed number's region equals IsValidNumber, and at any
// other region of the same calling code it is false.
func TestValidForIsIsValidNumber(t *testing.T) {
	rng := rand.New(rand.NewPCG(56, 78))
	checked, valid := 0, 0
	for cc := range phonenumbers.GetSupportedCallingCodes() {
		for range 40 {
			b := make([]byte, 6+rng.IntN(8))
			for i := range b {
				b[i] = byte('0' + rng.IntN(10))
			}
			if rng.IntN(3) == 0 { // seed some with a region's example prefix
				if ex := phonenumbers.GetExampleNumber(phonenumbers.GetRegionCodeForCountryCode(cc)); ex != nil {
					nsn := phonenumbers.GetNationalSignificantNumber(ex)
					b = []byte(nsn)
					for i := len(b) / 2; i < len(b); i++ {
						b[i] = byte('0' + rng.IntN(10))
					}
				}
			}
			n, err := phonenumbers.Parse(fmt.Sprintf("+%d%s", cc, b), "ZZ")
			if err != nil {
				continue
			}
			region := phonenumbers.GetRegionCodeForNumber(n)
			nsn := phonenumbers.GetNationalSignificantNumber(n)
			want := phonenumbers.IsValidNumber(n)
			require.Equal(t, want, validFor(n.GetCountryCode(), region, []byte(nsn)), "+%d %s", cc, nsn)
			// At another region of the calling code it is never valid.
			for _, other := range phonenumbers.GetRegionCodesForCountryCode(int(cc)) {
				if other != region {
					require.False(t, validFor(n.GetCountryCode(), other, []byte(nsn)), "+%d %s at %s", cc, nsn, other)
				}
			}
			checked++
			if want {
				valid++
			}
		}
	}
	require.Greater(t, checked, 5000)
	require.Greater(t, valid, 500, "too few valid numbers to mean anything")
}

// FuzzPhoneTokensUnchanged compares Phone with the reference on arbitrary
// values, default regions and options: the same token or the same
// failure, and the same reversal.
func FuzzPhoneTokensUnchanged(f *testing.F) {
	f.Add("+44 7911 123456", uint8(1), uint8(0))
	f.Add("(415) 555-2671", uint8(0), uint8(1))
	f.Add("0212345678", uint8(3), uint8(2))
	f.Add("+7 701 123 4567", uint8(4), uint8(0))
	tk := newTestTokenizer(f, nil)
	scope := Scope{Tenant: "acme", Field: "Customer.Phone"}
	regions := append([]string{""}, phoneRegions...)
	f.Fuzz(func(t *testing.T, value string, region, opts uint8) {
		if len(value) > 40 {
			return
		}
		p := Phone{DefaultRegion: regions[int(region)%len(regions)], KeepAreaCode: opts&1 != 0, AllowInvalid: opts&2 != 0}
		ctx := context.Background()
		got, gotErr := tk.Tokenize(ctx, MethodFF1, scope, p, value)
		want, wantErr := tk.Tokenize(ctx, MethodFF1, scope, phoneRef{p}, value)
		if got != want || (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("Tokenize(%q, %+v) = %q, %v; the reference gives %q, %v", value, p, got, gotErr, want, wantErr)
		}
		got, gotErr = tk.Detokenize(ctx, MethodFF1, scope, p, value)
		want, wantErr = tk.Detokenize(ctx, MethodFF1, scope, phoneRef{p}, value)
		if got != want || (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("Detokenize(%q, %+v) = %q, %v; the reference gives %q, %v", value, p, got, gotErr, want, wantErr)
		}
	})
}

// TestPhoneEveryRegion tokenizes example numbers (fixed line and mobile)
// and random valid numbers like them, of every region libphonenumber
// knows, and reverses the tokens: none fails. Before minor regions of
// shared calling codes kept their area code, most numbers of the smaller
// members of the North American plan failed ("cycle-walk did not reach a
// valid value"), as did many of San Marino's before maxPhoneWalk.
func TestPhoneEveryRegion(t *testing.T) {
	ctx := context.Background()
	tk := newTestTokenizer(t, nil)
	var regions []string
	for r := range phonenumbers.GetSupportedRegions() {
		regions = append(regions, r)
	}
	slices.Sort(regions)
	perExample := 2
	if raceDetector {
		perExample = 0
	}
	rng := rand.New(rand.NewPCG(90, 12))
	scope := Scope{Tenant: "acme", Field: "Customer.Phone"}
	checked := 0
	for _, r := range regions {
		for _, typ := range []phonenumbers.PhoneNumberType{phonenumbers.FIXED_LINE, phonenumbers.MOBILE} {
			ex := phonenumbers.GetExampleNumberForType(r, typ)
			if ex == nil {
				continue
			}
			values := []string{phonenumbers.Format(ex, phonenumbers.E164)}
			nsn := phonenumbers.GetNationalSignificantNumber(ex)
			for found, tries := 0, 0; found < perExample && tries < 500; tries++ {
				b := []byte(nsn)
				for i := len(b) / 2; i < len(b); i++ {
					b[i] = byte('0' + rng.IntN(10))
				}
				n, err := phonenumbers.Parse(fmt.Sprintf("+%d%s", ex.GetCountryCode(), b), "ZZ")
				if err != nil || !phonenumbers.IsValidNumber(n) || phonenumbers.GetRegionCodeForNumber(n) != r {
					continue
				}
				found++
				values = append(values, phonenumbers.Format(n, phonenumbers.E164))
			}
			for _, v := range values {
				tok, err := tk.Tokenize(ctx, MethodFF1, scope, Phone{}, v)
				if errors.Is(err, fpe.ErrDomain) {
					continue // fewer than 6 digits to tokenize (a short number of a minor region)
				}
				require.NoError(t, err, "%s %s", r, v)
				n, err := phonenumbers.Parse(tok, "ZZ")
				require.NoError(t, err)
				require.True(t, phonenumbers.IsValidNumber(n), "%s: token %s is a valid number", r, tok)
				orig, err := phonenumbers.Parse(v, "ZZ")
				require.NoError(t, err)
				require.Equal(t, phonenumbers.GetRegionCodeForNumber(orig), phonenumbers.GetRegionCodeForNumber(n), "%s: token %s of %s is of the same region", r, tok, v)
				back, err := tk.Detokenize(ctx, MethodFF1, scope, Phone{}, tok)
				require.NoError(t, err, "%s %s", r, v)
				require.Equal(t, v, back, r)
				checked++
			}
		}
	}
	require.Greater(t, checked, 400)
}

// TestParseKnown: parseKnown takes region and validity from what it is
// told only for the calling code and national significant number it was
// told of; any other number is parsed in full, as parse does.
func TestParseKnown(t *testing.T) {
	p := Phone{DefaultRegion: "GB"}
	for _, value := range []string{"+1 202-555-0100", "+44 7911 123456", "07700 900123", "+1 345 916 1234", "+7 701 123 4567"} {
		full, ok := p.parse(value)
		require.True(t, ok, value)
		got, ok := p.parseKnown(value, &phoneParts{cc: full.cc, nsn: full.nsn, region: full.region})
		require.True(t, ok)
		require.Equal(t, full.region, got.region, value)
		require.Equal(t, full.nsn, got.nsn, value)
		require.True(t, got.valid, value)
		// Told of another number (its digits, or its calling code): the
		// value's own region and validity, not what it was told.
		for _, other := range []phoneParts{
			{cc: full.cc, nsn: "1" + full.nsn[1:] + "9", region: "ZZ"},
			{cc: full.cc + 1, nsn: full.nsn, region: "ZZ"},
		} {
			got, ok := p.parseKnown(value, &other)
			require.True(t, ok)
			require.Equal(t, full, got, value)
		}
	}
}
