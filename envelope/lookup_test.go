package envelope_test

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"testing"

	"github.com/fieldguard/pii/envelope"
	"github.com/stretchr/testify/require"
)

// Patron exercises norm=, prefix= and with=. City is declared before
// Given, so Seal has sealed it when it computes Given's compound index.
type Patron struct {
	Tenant     string `pii:"tenant"`
	ID         string `pii:"id"`
	Email      string `pii:"email,encrypt,index=EmailIdx,norm=email"`
	EmailIdx   string
	Login      string `pii:"email,encrypt=det,norm=email"`
	Phone      string `pii:"phone,encrypt=det,norm=digits"`
	Surname    string `pii:"name,encrypt,index=SurnameIdx,norm=lower,prefix=3"`
	SurnameIdx string
	City       string `pii:"location,encrypt"`
	Given      string `pii:"name,encrypt,index=PairIdx,with=City,norm=trim|lower"`
	PairIdx    string
	Town       string `pii:"location,encrypt,index=TownIdx,with=Street"`
	TownIdx    string
	Street     string `pii:"address,encrypt"`
	Plain      string `pii:"email,encrypt,index=PlainIdx"`
	PlainIdx   string
}

func patron(id, email string) *Patron {
	return &Patron{
		Tenant: "acme", ID: id, Email: email, Login: email, Phone: "+44 (20) 7946-0958",
		Surname: "Smith", City: "Oxford", Given: "Alice", Town: "Oxford", Street: "1 High St",
		Plain: email,
	}
}

func TestNormalisedLookups(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestSealerT(t)
	m := patron("m-1", "Alice@Example.com")
	require.NoError(t, s.Seal(ctx, m))
	sealed := *m

	t.Run("an upper-case e-mail finds the row", func(t *testing.T) {
		for _, q := range []string{"alice@example.com", "  ALICE@EXAMPLE.COM ", "Alice@Example.com"} {
			ix, err := s.BlindIndex(ctx, "acme", Patron{}, "Email", q)
			require.NoError(t, err)
			require.Equal(t, m.EmailIdx, ix, q)
			all, err := s.BlindIndexes(ctx, "acme", Patron{}, "Email", q)
			require.NoError(t, err)
			require.Contains(t, all, m.EmailIdx)
		}
		ix, err := s.BlindIndex(ctx, "acme", Patron{}, "Email", "alice@example.org")
		require.NoError(t, err)
		require.NotEqual(t, m.EmailIdx, ix)
	})
	t.Run("no normaliser: exact", func(t *testing.T) {
		ix, err := s.BlindIndex(ctx, "acme", Patron{}, "Plain", "alice@example.com")
		require.NoError(t, err)
		require.NotEqual(t, m.PlainIdx, ix)
		ix, err = s.BlindIndex(ctx, "acme", Patron{}, "Plain", "Alice@Example.com")
		require.NoError(t, err)
		require.Equal(t, m.PlainIdx, ix)
	})
	t.Run("deterministic values are stored normalised", func(t *testing.T) {
		for _, q := range []string{"ALICE@example.COM", " alice@example.com"} {
			ct, err := s.LookupDeterministic(ctx, "acme", Patron{}, "Login", q)
			require.NoError(t, err)
			require.Equal(t, m.Login, ct)
		}
		ct, err := s.LookupDeterministic(ctx, "acme", Patron{}, "Phone", "442079460958")
		require.NoError(t, err)
		require.Equal(t, m.Phone, ct)
	})
	t.Run("prefix index", func(t *testing.T) {
		other := patron("m-2", "bob@example.com")
		other.Surname = "SMITHERS"
		require.NoError(t, s.Seal(ctx, other))
		require.Equal(t, m.SurnameIdx, other.SurnameIdx)
		for q, match := range map[string]bool{"smi": true, "SMITH": true, "Smithson": true, "Smyth": false, "sm": false} {
			ix, err := s.BlindIndex(ctx, "acme", Patron{}, "Surname", q)
			require.NoError(t, err)
			require.Equal(t, match, ix == m.SurnameIdx, q)
		}
		short := patron("m-3", "c@example.com")
		short.Surname = "Sm"
		require.NoError(t, s.Seal(ctx, short))
		ix, err := s.BlindIndex(ctx, "acme", Patron{}, "Surname", "SM")
		require.NoError(t, err)
		require.Equal(t, short.SurnameIdx, ix, "a value shorter than the prefix is indexed whole")
	})
	t.Run("compound index", func(t *testing.T) {
		// City was sealed before Given's index was computed; Street is
		// sealed after Town's.
		ix, err := s.BlindIndexes(ctx, "acme", Patron{}, "Given", " ALICE", "OXFORD")
		require.NoError(t, err)
		require.Equal(t, []string{m.PairIdx}, ix)
		ix, err = s.BlindIndexes(ctx, "acme", Patron{}, "Given", "Alice", "Cambridge")
		require.NoError(t, err)
		require.NotEqual(t, []string{m.PairIdx}, ix)
		ix, err = s.BlindIndexes(ctx, "acme", Patron{}, "Town", "Oxford", "1 High St")
		require.NoError(t, err)
		require.Equal(t, []string{m.TownIdx}, ix)
		// The parts are length-prefixed: moving a character across the
		// boundary is another index.
		ix, err = s.BlindIndexes(ctx, "acme", Patron{}, "Town", "Oxford1", " High St")
		require.NoError(t, err)
		require.NotEqual(t, []string{m.TownIdx}, ix)
		_, err = s.BlindIndexes(ctx, "acme", Patron{}, "Given", "Alice")
		require.ErrorContains(t, err, "pass both values")
		_, err = s.BlindIndex(ctx, "acme", Patron{}, "Given", "Alice")
		require.ErrorContains(t, err, "pass both values")
		_, err = s.BlindIndexes(ctx, "acme", Patron{}, "Email", "a", "b")
		require.ErrorContains(t, err, "takes one value")
	})
	t.Run("open and seal again", func(t *testing.T) {
		require.NoError(t, s.Open(ctx, m))
		require.Equal(t, "Alice@Example.com", m.Email, "a random ciphertext keeps the value as typed")
		require.Equal(t, "alice@example.com", m.Login, "a deterministic one holds its normal form")
		require.Equal(t, "442079460958", m.Phone)
		require.NoError(t, s.Seal(ctx, m))
		require.Equal(t, sealed.EmailIdx, m.EmailIdx)
		require.Equal(t, sealed.PairIdx, m.PairIdx)
		require.Equal(t, sealed.TownIdx, m.TownIdx)
		require.Equal(t, sealed.Login, m.Login)
		again := *m
		require.NoError(t, s.Seal(ctx, &again), "sealing twice is a no-op")
		require.Equal(t, *m, again)
	})
}

// TestSpecIndexKeys computes blind indexes by FORMAT.md alone: a plain
// index keeps its v1 key, so indexes written before normalisers existed
// still match; a normalised one has a v2 key bound to its description, so
// it never equals an index written without the normaliser, even of a value
// that was already in normal form.
func TestSpecIndexKeys(t *testing.T) {
	ctx := context.Background()
	s := frozenSealer(t)
	index := func(info []byte, value string) string {
		k, err := hkdf.Key(sha256.New, frozenRoot, nil, string(info), 32)
		require.NoError(t, err)
		m := hmac.New(sha256.New, k)
		m.Write([]byte(value))
		return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
	}
	v1 := func(typ, field string) []byte { return lp(lp([]byte("pii/index/v1"), typ), field) }
	v2 := func(typ, field, desc string) []byte { return lp(lp(lp([]byte("pii/index/v2"), typ), field), desc) }

	got, err := s.BlindIndex(ctx, "acme", Patron{}, "Plain", "alice@example.com")
	require.NoError(t, err)
	require.Equal(t, index(v1("Patron", "Plain"), "alice@example.com"), got)

	got, err = s.BlindIndex(ctx, "acme", Patron{}, "Email", "ALICE@example.com")
	require.NoError(t, err)
	require.Equal(t, index(v2("Patron", "Email", "norm=email"), "alice@example.com"), got)
	require.NotEqual(t, index(v1("Patron", "Email"), "alice@example.com"), got)

	got, err = s.BlindIndex(ctx, "acme", Patron{}, "Surname", "Smithers")
	require.NoError(t, err)
	require.Equal(t, index(v2("Patron", "Surname", "norm=lower,prefix=3"), "smi"), got)

	pair := lp(lp(nil, "alice"), "oxford")
	all, err := s.BlindIndexes(ctx, "acme", Patron{}, "Given", "Alice", "Oxford")
	require.NoError(t, err)
	require.Equal(t, []string{index(v2("Patron", "Given", "norm=trim|lower,with=City"), string(pair))}, all)
}

func TestLookupErrors(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestSealerT(t)
	_, err := s.BlindIndexes(ctx, "acme", Patron{}, "Login", "x")
	require.ErrorContains(t, err, "has no index option")
	_, err = s.BlindIndexes(ctx, "acme", Patron{}, "Nope", "x")
	require.ErrorContains(t, err, "no tagged field")
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.BlindIndexes(cctx, "acme", Patron{}, "Email", "x")
	require.ErrorIs(t, err, context.Canceled)
	_ = envelope.ErrDecrypt
}
