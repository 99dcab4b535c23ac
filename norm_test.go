package pii_test

import (
	"testing"

	"github.com/fieldguard/pii"
	"github.com/stretchr/testify/require"
)

// TestNormApply freezes what each normaliser does: indexes written with
// one behaviour must be found by lookups with the same, release after
// release.
func TestNormApply(t *testing.T) {
	for _, tc := range []struct{ norm, in, want string }{
		{"email", "  Alice.Smith+News@Example.COM \t", "alice.smith+news@example.com"},
		{"email", "ÉLODIE@exemple.fr", "élodie@exemple.fr"},
		{"email", "E\u0301lodie@exemple.fr", "élodie@exemple.fr"}, // decomposed É composes
		{"email", "no-at-sign", "no-at-sign"},
		{"email", "a@b.example.", "a@b.example."}, // trailing dot kept
		{"email", "Jo <jo@x.example>", "jo <jo@x.example>"},
		{"lower", " MiXeD ", " mixed "},
		{"trim", "\u00a0 Mixed\n", "Mixed"},
		{"nfc", "e\u0301", "é"},
		{"nfc", "ﬁ", "ﬁ"}, // NFC keeps compatibility forms (NFKC would fold)
		{"nfc|trim|lower", " E\u0301T\u00c9 ", "été"},
		{"trim|lower", " ABC ", "abc"},
		{"digits", "+44 (20) 7946-0958", "442079460958"},
		{"digits", "4111 1111 1111 1111", "4111111111111111"},
		{"digits", "١٢٣ 45", "45"}, // only ASCII digits
		{"", "As Is ", "As Is "},
	} {
		t.Run(tc.norm+"/"+tc.in, func(t *testing.T) {
			var n pii.Norm
			if tc.norm != "" {
				var err error
				n, err = pii.ParseNorm(tc.norm)
				require.NoError(t, err)
			}
			require.Equal(t, tc.want, n.Apply(tc.in))
		})
	}
}

func TestParseNorm(t *testing.T) {
	for _, tc := range []struct{ in, canon, err string }{
		{"email", "email", ""},
		{"lower|trim", "trim|lower", ""}, // canonical order, whatever the tag's
		{"trim|lower|nfc", "nfc|trim|lower", ""},
		{"digits", "digits", ""},
		{"upper", "", "unknown normaliser"},
		{"lower|lower", "", "given twice"},
		{"email|lower", "", "stand alone"},
		{"digits|trim", "", "stand alone"},
		{"", "", "unknown normaliser"},
		{"lower|", "", "unknown normaliser"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			n, err := pii.ParseNorm(tc.in)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.canon, n.String())
			again, err := pii.ParseNorm(n.String())
			require.NoError(t, err)
			require.Equal(t, n, again)
		})
	}
}

type lookupTags struct {
	ID        string `pii:"id"`
	Email     string `pii:"email,encrypt,index=EmailIdx,norm=email"`
	EmailIdx  string
	Name      string `pii:"name,encrypt,index=NameIdx,norm=lower|nfc,prefix=3"`
	NameIdx   string
	City      string `pii:"location,encrypt,index=PairIdx,with=Name"`
	PairIdx   string
	Phone     string `pii:"phone,encrypt=det,norm=digits"`
	PhoneBare []byte `pii:"phone,encrypt=det"`
}

func TestLookupOptions(t *testing.T) {
	s, err := pii.SchemaOf(lookupTags{})
	require.NoError(t, err)
	require.Equal(t, "email", s.Field("Email").Opts.Norm.String())
	n := s.Field("Name").Opts
	require.Equal(t, 3, n.Prefix)
	require.Equal(t, "nfc|lower", n.Norm.String())
	require.Equal(t, []string{"encrypt", "index", "norm=nfc|lower", "prefix=3"}, pii.Protection(n))
	c := s.Field("City")
	require.Equal(t, "Name", c.Opts.With)
	require.NotNil(t, c.WithIndex)
	require.Equal(t, "digits", s.Field("Phone").Opts.Norm.String())
}

func TestLookupTagErrors(t *testing.T) {
	type normNoIndex struct {
		Email string `pii:"email,encrypt,norm=email"`
	}
	type prefixNoIndex struct {
		Name string `pii:"name,encrypt=det,prefix=3"`
	}
	type prefixZero struct {
		Name string `pii:"name,encrypt,index,prefix=0"`
	}
	type prefixBig struct {
		Name string `pii:"name,encrypt,index,prefix=65"`
	}
	type prefixSign struct {
		Name string `pii:"name,encrypt,index,prefix=+3"`
	}
	type withSelf struct {
		Name string `pii:"name,encrypt,index,with=Name"`
	}
	type withMissing struct {
		Name string `pii:"name,encrypt,index,with=City"`
	}
	type withInt struct {
		Name string `pii:"name,encrypt,index,with=Age"`
		Age  int
	}
	type withPrefix struct {
		Name string `pii:"name,encrypt,index,with=City,prefix=2"`
		City string
	}
	type withNoIndex struct {
		Name string `pii:"name,encrypt,with=City"`
		City string
	}
	type normBytes struct {
		Email []byte `pii:"email,encrypt=det,norm=email"`
	}
	type prefixBytes struct {
		Email []byte `pii:"email,encrypt,index,prefix=2"`
	}
	type normBad struct {
		Email string `pii:"email,encrypt=det,norm=upper"`
	}
	for _, tc := range []struct {
		v    any
		want string
	}{
		{normNoIndex{}, "norm= needs index or encrypt=det"},
		{prefixNoIndex{}, "prefix= needs index"},
		{prefixZero{}, "prefix=N needs N from 1 to 64"},
		{prefixBig{}, "prefix=N needs N from 1 to 64"},
		{prefixSign{}, "prefix=N needs N from 1 to 64"},
		{withSelf{}, "not the field itself"},
		{withMissing{}, "no field City"},
		{withInt{}, "must be a string"},
		{withPrefix{}, "not both"},
		{withNoIndex{}, "with= needs index"},
		{normBytes{}, "not a string field"},
		{prefixBytes{}, "not a string field"},
		{normBad{}, "unknown normaliser"},
	} {
		_, err := pii.SchemaOf(tc.v)
		var fe *pii.FieldError
		require.ErrorAs(t, err, &fe, "%T", tc.v)
		require.ErrorContains(t, err, tc.want, "%T", tc.v)
	}
}
