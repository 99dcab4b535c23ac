package envelope_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
)

func TestSecretMadeOnceAndShared(t *testing.T) {
	ctx := context.Background()
	kp := newKP()
	store := envelope.NewMemoryStore()
	// Several Sealers (processes) ask for the same secret at once: one
	// insert wins and every caller gets the winner's bytes.
	const n = 8
	got := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		s, err := envelope.New(kp, &envelope.Options{Store: store})
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := s.Secret(ctx, "", "guard/ledger")
			require.NoError(t, err)
			got[i] = b
		}()
	}
	wg.Wait()
	for i := range got {
		require.Len(t, got[i], 32)
		require.Equal(t, got[0], got[i])
	}
	recs, err := store.List(ctx, envelope.KindSecret, envelope.KeyRef{Kind: envelope.KindSecret}, 10)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.NotContains(t, string(recs[0].Wrapped), string(got[0]))
	require.NotEmpty(t, recs[0].KEK)

	s, err := envelope.New(kp, &envelope.Options{Store: store})
	require.NoError(t, err)
	other, err := s.Secret(ctx, "", "guard/tokenizer")
	require.NoError(t, err)
	require.NotEqual(t, got[0], other, "another name, another secret")
	tenant, err := s.Secret(ctx, "acme", "guard/ledger")
	require.NoError(t, err)
	require.NotEqual(t, got[0], tenant, "another tenant, another secret")

	_, err = s.Secret(ctx, "", "")
	require.Error(t, err)
}

// A secret's wrap is bound to its tenant and name: a row copied to
// another name does not unwrap (and is not silently replaced).
func TestSecretRowBoundToName(t *testing.T) {
	ctx := context.Background()
	kp := newKP()
	store := envelope.NewMemoryStore()
	s, err := envelope.New(kp, &envelope.Options{Store: store})
	require.NoError(t, err)
	_, err = s.Secret(ctx, "", "a")
	require.NoError(t, err)
	rec, err := store.Get(ctx, envelope.KeyRef{Kind: envelope.KindSecret, Scope: "a", ID: 1})
	require.NoError(t, err)
	for _, to := range []envelope.KeyRef{
		{Kind: envelope.KindSecret, Scope: "b", ID: 1},
		{Kind: envelope.KindSecret, Tenant: "acme", Scope: "a", ID: 1},
	} {
		cp := rec
		cp.KeyRef = to
		_, ins, err := store.Insert(ctx, cp)
		require.NoError(t, err)
		require.True(t, ins)
		_, err = s.Secret(ctx, to.Tenant, to.Scope)
		require.ErrorIs(t, err, envelope.ErrDecrypt, "copied to %+v", to)
	}
}

// A KMS rotation's rewrap covers secrets like branch keys: after it the
// old KEK version can go and the secret is unchanged.
func TestRewrapCoversSecrets(t *testing.T) {
	ctx := context.Background()
	kp := newKP()
	store := envelope.NewMemoryStore()
	s, err := envelope.New(kp, &envelope.Options{Store: store})
	require.NoError(t, err)
	sec, err := s.Secret(ctx, "", "guard/tokenizer")
	require.NoError(t, err)
	_, err = kp.Rotate(ctx)
	require.NoError(t, err)
	p, err := s.RewrapBranchKeys(ctx, envelope.RewrapOptions{})
	require.NoError(t, err)
	require.Equal(t, 1, p.Rewrapped)
	kp.Disable(0)
	cold, err := envelope.New(kp, &envelope.Options{Store: store})
	require.NoError(t, err)
	again, err := cold.Secret(ctx, "", "guard/tokenizer")
	require.NoError(t, err)
	require.Equal(t, sec, again)
}

// A secret made under a caller's transaction is written outside it: a
// rollback must not take away a secret the caller already uses.
func TestSecretOutsideCallerTransaction(t *testing.T) {
	ctx := context.Background()
	kp := newKP()
	store := &noExecStore{KeyStore: envelope.NewMemoryStore()}
	s, err := envelope.New(kp, &envelope.Options{Store: store})
	require.NoError(t, err)
	var tx *sql.Tx // a typed nil is enough to mark the context
	txctx := pii.WithExecutor(ctx, fakeExec{tx})
	_, err = s.Secret(txctx, "", "x")
	require.NoError(t, err)
	require.False(t, store.sawExecutor)
}

type fakeExec struct{ *sql.Tx }

type noExecStore struct {
	envelope.KeyStore
	sawExecutor bool
}

func (n *noExecStore) Get(ctx context.Context, ref envelope.KeyRef) (envelope.Record, error) {
	n.sawExecutor = n.sawExecutor || pii.ExecutorFrom(ctx, nil) != nil
	return n.KeyStore.Get(ctx, ref)
}

func (n *noExecStore) Insert(ctx context.Context, rec envelope.Record) (envelope.Record, bool, error) {
	n.sawExecutor = n.sawExecutor || pii.ExecutorFrom(ctx, nil) != nil
	return n.KeyStore.Insert(ctx, rec)
}

// A store that answers with another row is refused before any unwrap.
func TestSecretRowChecked(t *testing.T) {
	ctx := context.Background()
	kp := newKP()
	store := envelope.NewMemoryStore()
	s, err := envelope.New(kp, &envelope.Options{Store: store})
	require.NoError(t, err)
	_, err = s.Secret(ctx, "", "a")
	require.NoError(t, err)
	liar, err := envelope.New(kp, &envelope.Options{Store: wrongRow{store}})
	require.NoError(t, err)
	_, err = liar.Secret(ctx, "", "a")
	require.ErrorContains(t, err, "other than the one asked for")
}

type wrongRow struct{ envelope.KeyStore }

func (w wrongRow) Get(ctx context.Context, ref envelope.KeyRef) (envelope.Record, error) {
	r, err := w.KeyStore.Get(ctx, ref)
	r.Tenant = "other"
	return r, err
}
