package envelope_test

import (
	"context"
	"testing"

	"github.com/fieldguard/pii/envelope"
	"github.com/stretchr/testify/require"
)

func TestNewValidates(t *testing.T) {
	_, err := envelope.New(nil, nil)
	require.Error(t, err)
	for _, o := range []envelope.Options{{Mode: 7}, {IndexBytes: 3}, {IndexBytes: 33}} {
		_, err := envelope.New(newKP(), &o)
		require.Error(t, err, "%+v", o)
	}
}

type Account struct {
	Subject  string `pii:"subject"`
	Email    string `pii:"email,encrypt,index=EmailIdx"`
	EmailIdx []byte `pii:"-"`
}

func TestIndexBytesAndBinaryCompanion(t *testing.T) {
	ctx := context.Background()
	s, err := envelope.New(newKP(), &envelope.Options{IndexBytes: 8})
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
	s, err := envelope.New(kp, &envelope.Options{Mode: envelope.Inline, Cache: envelope.CacheLimits{MaxMessages: 10}})
	require.NoError(t, err)
	var cts []string
	for range 35 {
		ct, err := s.EncryptString(ctx, "v", frozenB)
		require.NoError(t, err)
		cts = append(cts, ct)
	}
	require.Equal(t, int64(4), kp.Wraps.Load(), "35 messages at 10 per DEK")
	cold, err := envelope.New(kp, &envelope.Options{Mode: envelope.Inline})
	require.NoError(t, err)
	for _, ct := range cts {
		_, err := cold.DecryptString(ctx, ct, frozenB)
		require.NoError(t, err)
	}
	require.Equal(t, int64(4), kp.Unwraps.Load(), "one unwrap per DEK, cached by its wrapped bytes")
	require.ErrorIs(t, s.ForgetSubject(ctx, "acme", "alice"), envelope.ErrUnsupported)
}

func TestUnknownDEK(t *testing.T) {
	ctx := context.Background()
	a, err := envelope.New(newKP(), nil)
	require.NoError(t, err)
	ct, err := a.EncryptString(ctx, "v", frozenB)
	require.NoError(t, err)
	b, err := envelope.New(newKP(), nil) // another store, another KMS
	require.NoError(t, err)
	_, err = b.DecryptString(ctx, ct, frozenB)
	require.ErrorIs(t, err, envelope.ErrDecrypt)
}
