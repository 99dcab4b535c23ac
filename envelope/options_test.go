package envelope_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/internal/testkp"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/stretchr/testify/require"
)

func TestNewValidates(t *testing.T) {
	_, err := envelope.New(nil, &envelope.Options{Store: envelope.NewMemoryStore()})
	require.EqualError(t, err, "envelope: nil key provider")
	_, err = envelope.New((*keyprovider.Client)(nil), &envelope.Options{Store: envelope.NewMemoryStore()})
	require.EqualError(t, err, "envelope: nil key provider")
	for _, o := range []envelope.Options{{IndexBytes: 3}, {IndexBytes: 33}} {
		o.Store = envelope.NewMemoryStore()
		_, err := envelope.New(newKP(), &o)
		require.Error(t, err, "%+v", o)
	}
}

// TestNewNeedsStore: keyring mode without a KeyStore is an error that
// says what to pass; nothing quietly keeps keys in memory.
func TestNewNeedsStore(t *testing.T) {
	for _, o := range []*envelope.Options{nil, {}, {Cache: envelope.CacheLimits{MaxAge: time.Minute}}} {
		s, err := envelope.New(newKP(), o)
		require.EqualError(t, err, "envelope: Options.Store is nil: pass sqlkeystore.New(db, nil) to keep keys in your database, "+
			"or envelope.NewMemoryStore() for keys that die with the process")
		require.Nil(t, s)
	}
}

// TestInlineWithoutStore: inline mode runs without a KeyStore; what needs
// one (search keys, branch keys, rewraps) fails with errors.ErrUnsupported
// rather than keep keys in memory.
func TestInlineWithoutStore(t *testing.T) {
	ctx := context.Background()
	s, err := envelope.New(newKP(), &envelope.Options{Inline: true})
	require.NoError(t, err)
	ct, err := s.EncryptString(ctx, "v", frozenB)
	require.NoError(t, err)
	pt, err := s.DecryptString(ctx, ct, frozenB)
	require.NoError(t, err)
	require.Equal(t, "v", pt)
	n := &Note{Tenant: "acme", ID: "n-1", Text: "call back"}
	require.NoError(t, s.Seal(ctx, n))
	require.NoError(t, s.Open(ctx, n))
	require.Equal(t, "call back", n.Text)

	_, err = s.EncryptDeterministic(ctx, "v", frozenB)
	require.ErrorIs(t, err, errors.ErrUnsupported)
	require.EqualError(t, err, "envelope: encrypt=det and index need Options.Store (inline mode without a KeyStore): unsupported operation")
	_, err = s.BlindIndex(ctx, "acme", (*Customer)(nil), "Email", "x")
	require.ErrorIs(t, err, errors.ErrUnsupported)
	require.ErrorIs(t, s.Seal(ctx, sampleCustomer()), errors.ErrUnsupported)
	_, err = s.RotateBranchKey(ctx, "acme")
	require.ErrorIs(t, err, errors.ErrUnsupported)
	_, err = s.RewrapDEKs(ctx, envelope.RewrapOptions{})
	require.ErrorIs(t, err, errors.ErrUnsupported)
	_, err = s.RewrapBranchKeys(ctx, envelope.RewrapOptions{})
	require.ErrorIs(t, err, errors.ErrUnsupported)
	require.ErrorIs(t, s.ForgetSubject(ctx, "acme", "alice"), errors.ErrUnsupported)
}

type Account struct {
	Subject  string `pii:"subject"`
	Email    string `pii:"email,encrypt,index=EmailIdx"`
	EmailIdx []byte `pii:"-"`
}

func TestIndexBytesAndBinaryCompanion(t *testing.T) {
	ctx := context.Background()
	s, err := envelope.New(newKP(), &envelope.Options{Store: envelope.NewMemoryStore(), IndexBytes: 8})
	require.NoError(t, err)
	a := &Account{Subject: "alice", Email: "alice@example.com"}
	require.NoError(t, s.Seal(ctx, a))
	require.Len(t, a.EmailIdx, 8)
	ix, err := s.BlindIndex(ctx, "", (*Account)(nil), "Email", "alice@example.com")
	require.NoError(t, err)
	require.Len(t, ix, 11) // 8 bytes, base64url without padding
	b := &Account{Subject: "bob", Email: "alice@example.com"}
	require.NoError(t, s.Seal(ctx, b))
	require.Equal(t, a.EmailIdx, b.EmailIdx, "same value, same index, across subjects")
	require.NotEqual(t, a.Email, b.Email, "random encryption still differs")
}

func TestInlineMaxMessages(t *testing.T) {
	ctx := context.Background()
	kp := newKP()
	s, err := envelope.New(kp, &envelope.Options{Inline: true, Cache: envelope.CacheLimits{MaxMessages: 10}})
	require.NoError(t, err)
	var cts []string
	for range 35 {
		ct, err := s.EncryptString(ctx, "v", frozenB)
		require.NoError(t, err)
		cts = append(cts, ct)
	}
	require.Equal(t, int64(4), kp.Wraps.Load(), "35 messages at 10 per DEK")
	cold, err := envelope.New(kp, &envelope.Options{Inline: true})
	require.NoError(t, err)
	for _, ct := range cts {
		_, err := cold.DecryptString(ctx, ct, frozenB)
		require.NoError(t, err)
	}
	require.Equal(t, int64(4), kp.Unwraps.Load(), "one unwrap per DEK, cached by its wrapped bytes")
	require.ErrorIs(t, s.ForgetSubject(ctx, "acme", "alice"), errors.ErrUnsupported)
}

func TestUnknownDEK(t *testing.T) {
	ctx := context.Background()
	a, err := envelope.New(newKP(), &envelope.Options{Store: envelope.NewMemoryStore()})
	require.NoError(t, err)
	ct, err := a.EncryptString(ctx, "v", frozenB)
	require.NoError(t, err)
	b, err := envelope.New(newKP(), &envelope.Options{Store: envelope.NewMemoryStore()}) // another store, another KMS
	require.NoError(t, err)
	_, err = b.DecryptString(ctx, ct, frozenB)
	require.ErrorIs(t, err, envelope.ErrDecrypt)
}

// flakyKP fails its first n calls with keyprovider.ErrUnavailable.
type flakyKP struct {
	*testkp.Provider
	n atomic.Int32
}

func (f *flakyKP) Wrap(ctx context.Context, key, ad []byte) ([]byte, keyprovider.KeyID, error) {
	if f.n.Add(-1) >= 0 {
		return nil, keyprovider.KeyID{}, keyprovider.Classify("wrap", keyprovider.ErrUnavailable, errors.New("flaky: down"))
	}
	return f.Provider.Wrap(ctx, key, ad)
}

// TestNewWrapsProviderInClient: a bare KeyProvider gets the Client's
// retries (a transient failure is absorbed); a *keyprovider.Client is used
// as it is (its MaxAttempts of 1 returns the failure).
func TestNewWrapsProviderInClient(t *testing.T) {
	ctx := context.Background()
	bare := &flakyKP{Provider: newKP()}
	bare.n.Store(1)
	s, err := envelope.New(bare, &envelope.Options{Store: envelope.NewMemoryStore()})
	require.NoError(t, err)
	_, err = s.EncryptString(ctx, "v", frozenB)
	require.NoError(t, err, "the default Client retried the transient failure")
	require.Equal(t, int64(1), bare.Wraps.Load())
	require.Equal(t, int32(-1), bare.n.Load(), "two attempts reached the provider")

	own := &flakyKP{Provider: newKP()}
	own.n.Store(1)
	c := keyprovider.NewClient(own, &keyprovider.ClientOptions{MaxAttempts: 1})
	s, err = envelope.New(c, &envelope.Options{Store: envelope.NewMemoryStore()})
	require.NoError(t, err)
	_, err = s.EncryptString(ctx, "v", frozenB)
	require.ErrorIs(t, err, keyprovider.ErrUnavailable, "the caller's Client is used as it is: no retry")
	_, err = s.EncryptString(ctx, "v", frozenB)
	require.NoError(t, err)
}
