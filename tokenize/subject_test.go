package tokenize

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tamperStore serves rows that differ from what was asked: whoever can
// write the token table must not be able to move a token to another
// subject, tenant or field, nor make Tokenize hand out another's token.
type tamperStore struct {
	TokenStore
	edit func(r *Record) // applied to every record Get and Find return
}

func (s *tamperStore) Get(ctx context.Context, token string, now time.Time) (*Record, error) {
	r, err := s.TokenStore.Get(ctx, token, now)
	if err == nil {
		s.edit(r)
	}
	return r, err
}

func (s *tamperStore) Find(ctx context.Context, lookup []byte, now time.Time) (*Record, error) {
	r, err := s.TokenStore.Find(ctx, lookup, now)
	if err == nil {
		s.edit(r)
	}
	return r, err
}

func TestStoredRecordsCheckedAgainstScope(t *testing.T) {
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
			st := &tamperStore{TokenStore: NewMemoryStore(), edit: func(*Record) {}}
			tk := newTestTokenizer(t, &Options{Store: st, Convergent: true})
			a, err := tk.Tokenize(ctx, MethodStored, alice, Email{}, "jane.doe@example.com")
			require.NoError(t, err)

			// The row now claims the other scope: its sealed value, bound
			// to alice's scope, does not open there.
			st.edit = func(r *Record) { r.Tenant, r.Subject, r.Field = tc.to.Tenant, tc.to.Subject, tc.to.Field }
			_, err = tk.Detokenize(ctx, MethodStored, tc.to, Email{}, a)
			require.ErrorIs(t, err, ErrNotFound)
			_, err = tk.Detokenize(ctx, MethodStored, alice, Email{}, a)
			require.ErrorIs(t, err, ErrNotFound, "nor in the scope the row no longer claims")

			// A lookup answered with another scope's row is not reused.
			st.edit = func(r *Record) {
				if r.Token == a {
					r.Tenant, r.Subject, r.Field = tc.to.Tenant, tc.to.Subject, tc.to.Field
				}
			}
			b, err := tk.Tokenize(ctx, MethodStored, alice, Email{}, "jane.doe@example.com")
			require.NoError(t, err)
			require.NotEqual(t, a, b)
		})
	}
}

// Each sealed stored value has its own random nonce, and is bound to its
// token: a sealed value copied to another token's row does not open.
func TestStoredSealedValuesNoncesAndTokens(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	mem := NewMemoryStore()
	st := &tamperStore{TokenStore: mem, edit: func(*Record) {}}
	tk := newTestTokenizer(t, &Options{Store: st})
	a, err := tk.Tokenize(ctx, MethodStored, scopeA, Card{}, "4111111111111111")
	require.NoError(t, err)
	b, err := tk.Tokenize(ctx, MethodStored, scopeA, Card{}, "4111111111111111")
	require.NoError(t, err)
	ra, err := mem.Get(ctx, a, now)
	require.NoError(t, err)
	rb, err := mem.Get(ctx, b, now)
	require.NoError(t, err)
	require.NotEqual(t, ra.Sealed[:12], rb.Sealed[:12], "fresh nonce per record")

	c, err := tk.Tokenize(ctx, MethodStored, scopeA, Card{}, "5555555555554444")
	require.NoError(t, err)
	rc, err := mem.Get(ctx, c, now)
	require.NoError(t, err)
	st.edit = func(r *Record) {
		if r.Token == a {
			r.Sealed = rc.Sealed
		}
	}
	_, err = tk.Detokenize(ctx, MethodStored, scopeA, Card{}, a)
	require.ErrorIs(t, err, ErrNotFound, "another token's sealed value does not open under this token")
	v, err := tk.Detokenize(ctx, MethodStored, scopeA, Card{}, c)
	require.NoError(t, err)
	require.Equal(t, "5555555555554444", v)
}
