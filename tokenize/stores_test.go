package tokenize_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/checkdigit"
	"github.com/fieldguard/pii/internal/testdb"
	"github.com/fieldguard/pii/piitest"
	"github.com/fieldguard/pii/tokenize"
	"github.com/fieldguard/pii/tokenize/sqltokenstore"
	"github.com/fieldguard/pii/tokenize/tokenstoretest"
)

// testRoot is a test key; never hard-code keys in production.
var testRoot = []byte("BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB")

var scopeA = tokenize.Scope{Tenant: "acme", Field: "Customer.Card", Subject: "cust-1"}

func newTokenizer(t testing.TB, opts *tokenize.Options) *tokenize.Tokenizer {
	t.Helper()
	tk, err := tokenize.New(testRoot, opts)
	require.NoError(t, err)
	return tk
}

func newSQLStore(t *testing.T, open func(t *testing.T) *sql.DB, d pii.Dialect) *sqltokenstore.Store {
	t.Helper()
	st, err := sqltokenstore.New(open(t), &sqltokenstore.Options{Dialect: d})
	require.NoError(t, err)
	require.NoError(t, st.CreateTables(t.Context()))
	return st
}

func sqliteDB(t *testing.T) *sql.DB { return testdb.SQLite(t) }

func postgresDB(t *testing.T) *sql.DB {
	db, _ := testdb.Postgres(t)
	return db
}

// testStores are the tokenize.TokenStore implementations every store test runs on.
func testStores() []struct {
	name string
	new  func(t *testing.T) tokenize.TokenStore
} {
	return []struct {
		name string
		new  func(t *testing.T) tokenize.TokenStore
	}{
		{"memory", func(t *testing.T) tokenize.TokenStore { return tokenize.NewMemoryStore() }},
		{"sqlite", func(t *testing.T) tokenize.TokenStore { return newSQLStore(t, sqliteDB, pii.SQLite) }},
		{"postgres", func(t *testing.T) tokenize.TokenStore { return newSQLStore(t, postgresDB, pii.Postgres) }},
	}
}

// Two subjects of one tenant share an e-mail address. Each gets their own
// convergent token; deleting one subject deletes their token only.
func TestDeleteSubjectDeletesOnlyThatSubjectsTokens(t *testing.T) {
	ctx := context.Background()
	for _, st := range testStores() {
		t.Run(st.name, func(t *testing.T) {
			tk := newTokenizer(t, &tokenize.Options{Store: st.new(t), Convergent: true})
			const shared = "family.smith@example.com"
			alice := tokenize.Scope{Tenant: "acme", Field: "Customer.Email", Subject: "alice"}
			bob := tokenize.Scope{Tenant: "acme", Field: "Customer.Email", Subject: "bob"}
			a, err := tk.Tokenize(ctx, tokenize.MethodStored, alice, tokenize.Email{}, shared)
			require.NoError(t, err)
			b, err := tk.Tokenize(ctx, tokenize.MethodStored, bob, tokenize.Email{}, shared)
			require.NoError(t, err)
			require.NotEqual(t, a, b, "a token belongs to one subject")
			again, err := tk.Tokenize(ctx, tokenize.MethodStored, alice, tokenize.Email{}, shared)
			require.NoError(t, err)
			require.Equal(t, a, again, "convergent within the subject")
			_, err = tk.Detokenize(ctx, tokenize.MethodStored, alice, tokenize.Email{}, b)
			require.ErrorIs(t, err, tokenize.ErrNotFound, "bob's token is not alice's")

			n, err := tk.DeleteSubject(ctx, "acme", "bob")
			require.NoError(t, err)
			require.EqualValues(t, 1, n, "bob's token is deleted")
			_, err = tk.Detokenize(ctx, tokenize.MethodStored, bob, tokenize.Email{}, b)
			require.ErrorIs(t, err, tokenize.ErrNotFound)
			v, err := tk.Detokenize(ctx, tokenize.MethodStored, alice, tokenize.Email{}, a)
			require.NoError(t, err, "alice's token survives bob's erasure")
			require.Equal(t, shared, v)

			b2, err := tk.Tokenize(ctx, tokenize.MethodStored, bob, tokenize.Email{}, shared)
			require.NoError(t, err)
			require.NotEqual(t, b, b2, "a deleted token is not reused")
			n, err = tk.DeleteSubject(ctx, "acme", "alice")
			require.NoError(t, err)
			require.EqualValues(t, 1, n)
			_, err = tk.Detokenize(ctx, tokenize.MethodStored, alice, tokenize.Email{}, a)
			require.ErrorIs(t, err, tokenize.ErrNotFound)
			v, err = tk.Detokenize(ctx, tokenize.MethodStored, bob, tokenize.Email{}, b2)
			require.NoError(t, err, "bob's token survives alice's erasure")
			require.Equal(t, shared, v)
		})
	}
}

// The same subject id in two tenants is two data subjects.
func TestDeleteSubjectTwoTenantsSameSubjectID(t *testing.T) {
	ctx := context.Background()
	for _, st := range testStores() {
		t.Run(st.name, func(t *testing.T) {
			tk := newTokenizer(t, &tokenize.Options{Store: st.new(t), Convergent: true})
			const value = "+1 415-555-2671"
			p := tokenize.Phone{DefaultRegion: "US"}
			inAcme := tokenize.Scope{Tenant: "acme", Field: "Customer.Phone", Subject: "c-1"}
			inGlobex := tokenize.Scope{Tenant: "globex", Field: "Customer.Phone", Subject: "c-1"}
			a, err := tk.Tokenize(ctx, tokenize.MethodStored, inAcme, p, value)
			require.NoError(t, err)
			g, err := tk.Tokenize(ctx, tokenize.MethodStored, inGlobex, p, value)
			require.NoError(t, err)
			require.NotEqual(t, a, g)
			_, err = tk.Detokenize(ctx, tokenize.MethodStored, inGlobex, p, a)
			require.ErrorIs(t, err, tokenize.ErrNotFound, "a token does not cross tenants")

			n, err := tk.DeleteSubject(ctx, "acme", "c-1")
			require.NoError(t, err)
			require.EqualValues(t, 1, n)
			_, err = tk.Detokenize(ctx, tokenize.MethodStored, inAcme, p, a)
			require.ErrorIs(t, err, tokenize.ErrNotFound)
			v, err := tk.Detokenize(ctx, tokenize.MethodStored, inGlobex, p, g)
			require.NoError(t, err, "the other tenant's subject keeps their token")
			require.Equal(t, value, v)
			again, err := tk.Tokenize(ctx, tokenize.MethodStored, inGlobex, p, value)
			require.NoError(t, err)
			require.Equal(t, g, again)
			// The lookup binds the tenant: the other tenant's newer row
			// does not hide this one.
			again, err = tk.Tokenize(ctx, tokenize.MethodStored, inAcme, p, value)
			require.NoError(t, err)
			require.NotEqual(t, a, again, "acme's subject was deleted: a new token")
			again2, err := tk.Tokenize(ctx, tokenize.MethodStored, inGlobex, p, value)
			require.NoError(t, err)
			require.Equal(t, g, again2, "globex's token still converges after acme's newer row")
		})
	}
}

// TestStored runs the stored-token method on every store.
func TestStored(t *testing.T) {
	for _, st := range testStores() {
		t.Run(st.name, func(t *testing.T) { testStored(t, st.new) })
	}
}

func testStored(t *testing.T, newStore func(t *testing.T) tokenize.TokenStore) {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	clock := piitest.NewClock(now)

	t.Run("unique", func(t *testing.T) {
		st := newStore(t)
		tk := newTokenizer(t, &tokenize.Options{Store: st, Clock: clock})
		a, err := tk.Tokenize(ctx, tokenize.MethodStored, scopeA, tokenize.Card{}, "4111111111111111")
		require.NoError(t, err)
		b, err := tk.Tokenize(ctx, tokenize.MethodStored, scopeA, tokenize.Card{}, "4111111111111111")
		require.NoError(t, err)
		require.NotEqual(t, a, b, "non-convergent tokens are fresh")
		require.False(t, checkdigit.LuhnText(a), "stored tokens follow the format: card tokens fail Luhn")
		require.Equal(t, "1111", a[12:])
		for _, tok := range []string{a, b} {
			v, err := tk.Detokenize(ctx, tokenize.MethodStored, scopeA, tokenize.Card{}, tok)
			require.NoError(t, err)
			require.Equal(t, "4111111111111111", v)
		}
		_, err = tk.Detokenize(ctx, tokenize.MethodStored, tokenize.Scope{Tenant: "globex", Field: scopeA.Field}, tokenize.Card{}, a)
		require.ErrorIs(t, err, tokenize.ErrNotFound, "another tenant cannot resolve the token")
		_, err = tk.Detokenize(ctx, tokenize.MethodStored, scopeA, tokenize.Card{}, "4000000000000002")
		require.ErrorIs(t, err, tokenize.ErrNotFound)
	})
	t.Run("convergent and TTL", func(t *testing.T) {
		st := newStore(t)
		clock := piitest.NewClock(now)
		tk := newTokenizer(t, &tokenize.Options{Store: st, Convergent: true, TTL: time.Hour, Clock: clock})
		a, err := tk.Tokenize(ctx, tokenize.MethodStored, scopeA, tokenize.Email{}, "jane.doe@example.com")
		require.NoError(t, err)
		b, err := tk.Tokenize(ctx, tokenize.MethodStored, scopeA, tokenize.Email{}, "jane.doe@example.com")
		require.NoError(t, err)
		require.Equal(t, a, b, "convergent")
		c, err := tk.Tokenize(ctx, tokenize.MethodStored, tokenize.Scope{Tenant: "globex", Field: scopeA.Field}, tokenize.Email{}, "jane.doe@example.com")
		require.NoError(t, err)
		require.NotEqual(t, a, c, "convergence stays within a scope")

		r, err := st.Get(ctx, a, clock.Now())
		require.NoError(t, err)
		require.NotContains(t, string(r.Sealed), "jane")
		require.NotContains(t, string(r.Lookup), "jane")
		r, err = st.Find(ctx, r.Lookup, clock.Now())
		require.NoError(t, err)
		require.Equal(t, a, r.Token, "the convergence lookup finds the token")

		clock.Add(2 * time.Hour)
		_, err = tk.Detokenize(ctx, tokenize.MethodStored, scopeA, tokenize.Email{}, a)
		require.ErrorIs(t, err, tokenize.ErrNotFound, "expired")
		d, err := tk.Tokenize(ctx, tokenize.MethodStored, scopeA, tokenize.Email{}, "jane.doe@example.com")
		require.NoError(t, err)
		require.NotEqual(t, a, d, "an expired token is not reused")
		n, err := st.DeleteExpired(ctx, clock.Now())
		require.NoError(t, err)
		require.EqualValues(t, 2, n)
	})
	t.Run("delete subject", func(t *testing.T) {
		st := newStore(t)
		tk := newTokenizer(t, &tokenize.Options{Store: st, Clock: clock})
		s1 := tokenize.Scope{Tenant: "acme", Field: "Customer.Phone", Subject: "alice"}
		s2 := tokenize.Scope{Tenant: "acme", Field: "Customer.Phone", Subject: "bob"}
		p := tokenize.Phone{DefaultRegion: "US"}
		a1, err := tk.Tokenize(ctx, tokenize.MethodStored, s1, p, "+1 415-555-2671")
		require.NoError(t, err)
		a2, err := tk.Tokenize(ctx, tokenize.MethodStored, s1, p, "+1 415-555-2672")
		require.NoError(t, err)
		b1, err := tk.Tokenize(ctx, tokenize.MethodStored, s2, p, "+1 415-555-2673")
		require.NoError(t, err)
		// Another tenant's subject with the same id keeps their tokens.
		s3 := tokenize.Scope{Tenant: "globex", Field: "Customer.Phone", Subject: "alice"}
		c1, err := tk.Tokenize(ctx, tokenize.MethodStored, s3, p, "+1 415-555-2674")
		require.NoError(t, err)
		n, err := tk.DeleteSubject(ctx, "acme", "alice")
		require.NoError(t, err)
		require.EqualValues(t, 2, n)
		v3, err := tk.Detokenize(ctx, tokenize.MethodStored, s3, p, c1)
		require.NoError(t, err)
		require.Equal(t, "+1 415-555-2674", v3)
		for _, tok := range []string{a1, a2} {
			_, err := tk.Detokenize(ctx, tokenize.MethodStored, s1, p, tok)
			require.ErrorIs(t, err, tokenize.ErrNotFound)
		}
		v, err := tk.Detokenize(ctx, tokenize.MethodStored, s2, p, b1)
		require.NoError(t, err)
		require.Equal(t, "+1 415-555-2673", v)
	})
	t.Run("collision", func(t *testing.T) {
		st := newStore(t)
		r := &tokenize.Record{Token: "t1", Tenant: "a", Field: "f", Subject: "s", KeyID: "k", Lookup: []byte{1}, Sealed: []byte{2}, Created: now}
		require.NoError(t, st.Put(ctx, r))
		require.ErrorIs(t, st.Put(ctx, r), tokenize.ErrTokenExists)
		got, err := st.Get(ctx, "t1", now)
		require.NoError(t, err)
		require.Equal(t, r.Token, got.Token)
		require.Equal(t, r.Lookup, got.Lookup)
		require.True(t, got.Expires.IsZero())
		require.True(t, r.Created.Equal(got.Created))
	})
}

// The in-memory store passes the public conformance suite (the SQL store
// runs it in its own package).
func TestMemoryStoreConforms(t *testing.T) {
	tokenstoretest.Run(t, func(*testing.T) tokenize.TokenStore { return tokenize.NewMemoryStore() })
}
