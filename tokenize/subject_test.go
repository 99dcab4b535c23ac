package tokenize

import (
	"context"
	"testing"
	"time"

	"github.com/fieldguard/pii/internal/testdb"
	"github.com/stretchr/testify/require"
)

// testStores are the TokenStore implementations every store test runs on.
func testStores() []struct {
	name string
	new  func(t *testing.T) TokenStore
} {
	return []struct {
		name string
		new  func(t *testing.T) TokenStore
	}{
		{"memory", func(t *testing.T) TokenStore { return NewMemoryStore() }},
		{"sqlite", func(t *testing.T) TokenStore { return newSQLTestStore(t, testdb.SQLite(t), DialectSQLite) }},
		{"postgres", func(t *testing.T) TokenStore {
			db, _ := testdb.Postgres(t)
			return newSQLTestStore(t, db, DialectPostgres)
		}},
	}
}

// Two subjects of one tenant share an e-mail address. Each gets their own
// convergent token; deleting one subject deletes their token only.
func TestDeleteSubjectDeletesOnlyThatSubjectsTokens(t *testing.T) {
	ctx := context.Background()
	for _, st := range testStores() {
		t.Run(st.name, func(t *testing.T) {
			tk := newTestTokenizer(t, &Options{Store: st.new(t), Convergent: true})
			const shared = "family.smith@example.com"
			alice := Scope{Tenant: "acme", Field: "Customer.Email", Subject: "alice"}
			bob := Scope{Tenant: "acme", Field: "Customer.Email", Subject: "bob"}
			a, err := tk.Tokenize(ctx, MethodVault, alice, Email{}, shared)
			require.NoError(t, err)
			b, err := tk.Tokenize(ctx, MethodVault, bob, Email{}, shared)
			require.NoError(t, err)
			require.NotEqual(t, a, b, "a token belongs to one subject")
			again, err := tk.Tokenize(ctx, MethodVault, alice, Email{}, shared)
			require.NoError(t, err)
			require.Equal(t, a, again, "convergent within the subject")
			_, err = tk.Detokenize(ctx, MethodVault, alice, Email{}, b)
			require.ErrorIs(t, err, ErrNotFound, "bob's token is not alice's")

			n, err := tk.DeleteSubject(ctx, "acme", "bob")
			require.NoError(t, err)
			require.EqualValues(t, 1, n, "bob's token is deleted")
			_, err = tk.Detokenize(ctx, MethodVault, bob, Email{}, b)
			require.ErrorIs(t, err, ErrNotFound)
			v, err := tk.Detokenize(ctx, MethodVault, alice, Email{}, a)
			require.NoError(t, err, "alice's token survives bob's erasure")
			require.Equal(t, shared, v)

			b2, err := tk.Tokenize(ctx, MethodVault, bob, Email{}, shared)
			require.NoError(t, err)
			require.NotEqual(t, b, b2, "a deleted token is not reused")
			n, err = tk.DeleteSubject(ctx, "acme", "alice")
			require.NoError(t, err)
			require.EqualValues(t, 1, n)
			_, err = tk.Detokenize(ctx, MethodVault, alice, Email{}, a)
			require.ErrorIs(t, err, ErrNotFound)
			v, err = tk.Detokenize(ctx, MethodVault, bob, Email{}, b2)
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
			tk := newTestTokenizer(t, &Options{Store: st.new(t), Convergent: true})
			const value = "+1 415-555-2671"
			p := Phone{DefaultRegion: "US"}
			inAcme := Scope{Tenant: "acme", Field: "Customer.Phone", Subject: "c-1"}
			inGlobex := Scope{Tenant: "globex", Field: "Customer.Phone", Subject: "c-1"}
			a, err := tk.Tokenize(ctx, MethodVault, inAcme, p, value)
			require.NoError(t, err)
			g, err := tk.Tokenize(ctx, MethodVault, inGlobex, p, value)
			require.NoError(t, err)
			require.NotEqual(t, a, g)
			_, err = tk.Detokenize(ctx, MethodVault, inGlobex, p, a)
			require.ErrorIs(t, err, ErrNotFound, "a token does not cross tenants")

			n, err := tk.DeleteSubject(ctx, "acme", "c-1")
			require.NoError(t, err)
			require.EqualValues(t, 1, n)
			_, err = tk.Detokenize(ctx, MethodVault, inAcme, p, a)
			require.ErrorIs(t, err, ErrNotFound)
			v, err := tk.Detokenize(ctx, MethodVault, inGlobex, p, g)
			require.NoError(t, err, "the other tenant's subject keeps their token")
			require.Equal(t, value, v)
			again, err := tk.Tokenize(ctx, MethodVault, inGlobex, p, value)
			require.NoError(t, err)
			require.Equal(t, g, again)
		})
	}
}

// tamperStore serves rows that differ from what was asked: whoever can
// write the token table must not be able to move a token to another
// subject, tenant or field, nor make Tokenize hand out another's token.
type tamperStore struct {
	*MemoryStore
	edit func(r *Record) // applied to every record Get and Find return
}

func (s *tamperStore) Get(ctx context.Context, token string, now time.Time) (*Record, error) {
	r, err := s.MemoryStore.Get(ctx, token, now)
	if err == nil {
		s.edit(r)
	}
	return r, err
}

func (s *tamperStore) Find(ctx context.Context, lookup []byte, now time.Time) (*Record, error) {
	r, err := s.MemoryStore.Find(ctx, lookup, now)
	if err == nil {
		s.edit(r)
	}
	return r, err
}

func TestVaultRecordsCheckedAgainstScope(t *testing.T) {
	ctx := context.Background()
	alice := Scope{Tenant: "acme", Field: "Customer.Email", Subject: "alice"}
	for _, tc := range []struct {
		name string
		to   Scope // the scope the tampered row claims
	}{
		{"moved to another subject", Scope{Tenant: "acme", Field: "Customer.Email", Subject: "bob"}},
		{"moved to another tenant", Scope{Tenant: "globex", Field: "Customer.Email", Subject: "alice"}},
		{"moved to another field", Scope{Tenant: "acme", Field: "Order.Email", Subject: "alice"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &tamperStore{MemoryStore: NewMemoryStore(), edit: func(*Record) {}}
			tk := newTestTokenizer(t, &Options{Store: st, Convergent: true})
			a, err := tk.Tokenize(ctx, MethodVault, alice, Email{}, "jane.doe@example.com")
			require.NoError(t, err)

			// The row now claims the other scope: its sealed value, bound
			// to alice's scope, does not open there.
			st.edit = func(r *Record) { r.Tenant, r.Subject, r.Field = tc.to.Tenant, tc.to.Subject, tc.to.Field }
			_, err = tk.Detokenize(ctx, MethodVault, tc.to, Email{}, a)
			require.ErrorIs(t, err, ErrNotFound)
			_, err = tk.Detokenize(ctx, MethodVault, alice, Email{}, a)
			require.ErrorIs(t, err, ErrNotFound, "nor in the scope the row no longer claims")

			// A lookup answered with another scope's row is not reused.
			st.edit = func(r *Record) {
				if r.Token == a {
					r.Tenant, r.Subject, r.Field = tc.to.Tenant, tc.to.Subject, tc.to.Field
				}
			}
			b, err := tk.Tokenize(ctx, MethodVault, alice, Email{}, "jane.doe@example.com")
			require.NoError(t, err)
			require.NotEqual(t, a, b)
		})
	}
}

func TestSQLStoreSchemaQualifiedTable(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		open func(t *testing.T) TokenStore
	}{
		{"sqlite", func(t *testing.T) TokenStore {
			db := testdb.SQLite(t)
			st, err := NewSQLStore(db, DialectSQLite, &SQLStoreOptions{Table: "main.app_tokens"})
			require.NoError(t, err)
			require.NoError(t, st.Migrate(ctx))
			require.NoError(t, st.Migrate(ctx), "Migrate is idempotent")
			var n int
			require.NoError(t, db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN ('app_tokens_lookup', 'app_tokens_subject', 'app_tokens_expires')`).Scan(&n))
			require.Equal(t, 3, n)
			return st
		}},
		{"postgres", func(t *testing.T) TokenStore {
			db, _ := testdb.Postgres(t)
			var schema string
			require.NoError(t, db.QueryRow(`SELECT current_schema()`).Scan(&schema))
			st, err := NewSQLStore(db, DialectPostgres, &SQLStoreOptions{Table: schema + ".app_tokens"})
			require.NoError(t, err)
			require.NoError(t, st.Migrate(ctx))
			require.NoError(t, st.Migrate(ctx), "Migrate is idempotent")
			var n int
			require.NoError(t, db.QueryRow(`SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND indexname IN ('app_tokens_lookup', 'app_tokens_subject', 'app_tokens_expires')`, schema).Scan(&n))
			require.Equal(t, 3, n)
			return st
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.open(t)
			tk := newTestTokenizer(t, &Options{Store: st})
			tok, err := tk.Tokenize(ctx, MethodVault, scopeA, Card{}, "4111111111111111")
			require.NoError(t, err)
			v, err := tk.Detokenize(ctx, MethodVault, scopeA, Card{}, tok)
			require.NoError(t, err)
			require.Equal(t, "4111111111111111", v)
		})
	}
	db := testdb.SQLite(t)
	for _, bad := range []string{"a.b.c", "x; DROP TABLE y", "1tokens", "app."} {
		_, err := NewSQLStore(db, DialectSQLite, &SQLStoreOptions{Table: bad})
		require.ErrorContains(t, err, "tokenize: invalid token store table name", bad)
		require.ErrorContains(t, err, "letters, digits and underscores")
	}
}

// Each sealed vault value has its own random nonce, and is bound to its
// token: a sealed value copied to another token's row does not open.
func TestVaultSealedValuesNoncesAndTokens(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	mem := NewMemoryStore()
	st := &tamperStore{MemoryStore: mem, edit: func(*Record) {}}
	tk := newTestTokenizer(t, &Options{Store: st})
	a, err := tk.Tokenize(ctx, MethodVault, scopeA, Card{}, "4111111111111111")
	require.NoError(t, err)
	b, err := tk.Tokenize(ctx, MethodVault, scopeA, Card{}, "4111111111111111")
	require.NoError(t, err)
	ra, err := mem.Get(ctx, a, now)
	require.NoError(t, err)
	rb, err := mem.Get(ctx, b, now)
	require.NoError(t, err)
	require.NotEqual(t, ra.Sealed[:12], rb.Sealed[:12], "fresh nonce per record")

	c, err := tk.Tokenize(ctx, MethodVault, scopeA, Card{}, "5555555555554444")
	require.NoError(t, err)
	rc, err := mem.Get(ctx, c, now)
	require.NoError(t, err)
	st.edit = func(r *Record) {
		if r.Token == a {
			r.Sealed = rc.Sealed
		}
	}
	_, err = tk.Detokenize(ctx, MethodVault, scopeA, Card{}, a)
	require.ErrorIs(t, err, ErrNotFound, "another token's sealed value does not open under this token")
	v, err := tk.Detokenize(ctx, MethodVault, scopeA, Card{}, c)
	require.NoError(t, err)
	require.Equal(t, "5555555555554444", v)
}
