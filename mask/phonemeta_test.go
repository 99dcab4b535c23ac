package mask

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/nyaruka/phonenumbers"
	"github.com/stretchr/testify/require"
)

// TestValidForMatchesPhonenumbers checks the precompiled validator against
// phonenumbers.IsValidNumberForRegion on example numbers and random
// variations of them.
func TestValidForMatchesPhonenumbers(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	regions := []string{"US", "CA", "GB", "DE", "FR", "IT", "ES", "NL", "IN", "BR", "AU", "JP", "MX", "IE", "SE", "ZA", "NG", "SG", "PL", "CH", "CN", "RU", "AR", "KR"}
	checked, valid := 0, 0
	for _, region := range regions {
		for _, typ := range []phonenumbers.PhoneNumberType{phonenumbers.FIXED_LINE, phonenumbers.MOBILE, phonenumbers.TOLL_FREE} {
			ex := phonenumbers.GetExampleNumberForType(region, typ)
			if ex == nil {
				continue
			}
			nsn := phonenumbers.GetNationalSignificantNumber(ex)
			for i := range 60 {
				cand := []byte(nsn)
				if i > 0 {
					for range 1 + r.IntN(3) {
						cand[r.IntN(len(cand))] = byte('0' + r.IntN(10))
					}
				}
				if i%7 == 3 {
					cand = cand[:len(cand)-1]
				}
				if len(cand) == 0 || cand[0] == '0' {
					continue
				}
				n, err := phonenumbers.Parse("+"+strconv.Itoa(int(ex.GetCountryCode()))+string(cand), "ZZ")
				if err != nil {
					continue
				}
				want := phonenumbers.IsValidNumberForRegion(n, region)
				got, ok := validFor(region, []byte(phonenumbers.GetNationalSignificantNumber(n)))
				require.True(t, ok, region)
				require.Equal(t, want, got, "%s %s", region, cand)
				checked++
				if want {
					valid++
				}
			}
		}
	}
	t.Logf("%d numbers checked, %d valid", checked, valid)
	require.Greater(t, checked, 2000)
	require.Greater(t, valid, 300)
	_, ok := validFor("XX", []byte("123"))
	require.False(t, ok)
}
