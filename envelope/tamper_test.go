package envelope_test

import (
	"context"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/internal/format"
	"github.com/stretchr/testify/require"
)

func TestTamperMatrix(t *testing.T) {
	ctx := context.Background()
	keyring, err := envelope.New(newKP(), &envelope.Options{Store: envelope.NewMemoryStore()})
	require.NoError(t, err)
	inline, err := envelope.New(newKP(), &envelope.Options{Store: envelope.NewMemoryStore(), Inline: true})
	require.NoError(t, err)
	b := frozenB
	cases := []struct {
		name string
		s    *envelope.Sealer
		seal func() ([]byte, error)
	}{
		{"v1", keyring, func() ([]byte, error) { return keyring.EncryptBytes(ctx, []byte("alice@example.com"), b) }},
		{"v2", inline, func() ([]byte, error) { return inline.EncryptBytes(ctx, []byte("alice@example.com"), b) }},
		{"v3", keyring, func() ([]byte, error) {
			return keyring.EncryptDeterministicBytes(ctx, []byte("alice@example.com"), b)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ct, err := tc.seal()
			require.NoError(t, err)
			orig := append([]byte(nil), ct...)
			pt, err := tc.s.DecryptBytes(ctx, ct, b)
			require.NoError(t, err)
			require.Equal(t, "alice@example.com", string(pt))
			require.Equal(t, orig, ct, "DecryptBytes must leave the caller's ciphertext as it was")
			pt2, err := tc.s.DecryptBytes(ctx, ct, b)
			require.NoError(t, err)
			pt[0] ^= 1
			require.Equal(t, "alice@example.com", string(pt2), "each call returns its own plaintext")
			flips := 0
			for i := range ct {
				for bit := 0; bit < 8; bit++ {
					m := append([]byte(nil), ct...)
					m[i] ^= 1 << bit
					pt, err := tc.s.DecryptBytes(ctx, m, b)
					require.ErrorIs(t, err, envelope.ErrDecrypt, "byte %d bit %d", i, bit)
					require.Nil(t, pt)
					flips++
				}
			}
			require.Equal(t, 8*len(ct), flips)
			for n := 0; n < len(ct); n++ {
				_, err := tc.s.DecryptBytes(ctx, ct[:n], b)
				require.ErrorIs(t, err, envelope.ErrDecrypt, "truncated to %d", n)
			}
			// The text form: every bit of every character.
			text := "pii" + string('0'+ct[0]) + "." + base64.RawURLEncoding.EncodeToString(ct)
			_, err = tc.s.DecryptString(ctx, text, b)
			require.NoError(t, err)
			for i := range len(text) {
				for bit := 0; bit < 8; bit++ {
					m := []byte(text)
					m[i] ^= 1 << bit
					_, err := tc.s.DecryptString(ctx, string(m), b)
					require.ErrorIs(t, err, envelope.ErrDecrypt, "char %d bit %d", i, bit)
				}
			}
			for n := 0; n < len(text); n++ {
				_, err := tc.s.DecryptString(ctx, text[:n], b)
				require.ErrorIs(t, err, envelope.ErrDecrypt, "text truncated to %d", n)
			}
		})
	}
}

func TestSwapsFail(t *testing.T) {
	ctx := context.Background()
	for _, inline := range []bool{false, true} {
		s, err := envelope.New(newKP(), &envelope.Options{Store: envelope.NewMemoryStore(), Inline: inline})
		require.NoError(t, err)
		b := frozenB
		ct, err := s.EncryptString(ctx, "alice@example.com", b)
		require.NoError(t, err)
		det, err := s.EncryptDeterministic(ctx, "alice@example.com", b)
		require.NoError(t, err)
		other := func(f func(*envelope.Binding)) envelope.Binding { o := b; f(&o); return o }
		swaps := []struct {
			name string
			b    envelope.Binding
			det  bool // whether det values must fail too (det does not bind the record)
		}{
			{"field", other(func(o *envelope.Binding) { o.Field = "Phone" }), true},
			{"record", other(func(o *envelope.Binding) { o.Record = "c-43" }), false},
			{"type", other(func(o *envelope.Binding) { o.Type = "Supplier" }), true},
			{"tenant", other(func(o *envelope.Binding) { o.Tenant = "globex" }), true},
		}
		for _, sw := range swaps {
			_, err := s.DecryptString(ctx, ct, sw.b)
			require.ErrorIs(t, err, envelope.ErrDecrypt, "inline %v swap %s", inline, sw.name)
			_, err = s.DecryptString(ctx, det, sw.b)
			if sw.det {
				require.ErrorIs(t, err, envelope.ErrDecrypt, "det swap %s", sw.name)
			} else {
				require.NoError(t, err, "det values are equal across records by design")
			}
		}
		if !inline {
			_, err = s.DecryptString(ctx, ct, other(func(o *envelope.Binding) { o.Subject = "bob" }))
			require.ErrorIs(t, err, envelope.ErrDecrypt, "another subject's scope")
		}
	}
}

func TestUnknownVersion(t *testing.T) {
	s, err := envelope.New(newKP(), &envelope.Options{Store: envelope.NewMemoryStore()})
	require.NoError(t, err)
	ctx := context.Background()
	bin := append([]byte{9}, make([]byte, 60)...)
	_, err = s.DecryptBytes(ctx, bin, frozenB)
	require.ErrorIs(t, err, format.ErrUnknownVersion)
	require.ErrorIs(t, err, envelope.ErrDecrypt)
	require.ErrorContains(t, err, "unknown ciphertext version", "the message tells a value of a newer release from a corrupt one")
	_, err = s.DecryptString(ctx, "pii9."+base64.RawURLEncoding.EncodeToString(bin), frozenB)
	require.ErrorIs(t, err, format.ErrUnknownVersion)
	var pe *format.ParseError
	require.True(t, errors.As(err, &pe))
	_, err = s.DecryptString(ctx, "alice@example.com", frozenB)
	require.ErrorIs(t, err, envelope.ErrNotSealed)
	require.ErrorIs(t, err, envelope.ErrDecrypt)
	require.False(t, envelope.IsSealed("alice@example.com"))
	require.False(t, envelope.IsSealed("pii1.notbase64!"))
	require.True(t, envelope.IsSealed(frozenV1))
}

func TestCommitmentChecked(t *testing.T) {
	// A ciphertext whose commitment is replaced by another DEK's fails even
	// before GCM: covered by the flip matrix for single bits; here the whole
	// commitment comes from another key.
	ctx := context.Background()
	s, err := envelope.New(newKP(), &envelope.Options{Store: envelope.NewMemoryStore()})
	require.NoError(t, err)
	a, err := s.EncryptBytes(ctx, []byte("x"), frozenB)
	require.NoError(t, err)
	ob := frozenB
	ob.Subject = "bob"
	o, err := s.EncryptBytes(ctx, []byte("x"), ob)
	require.NoError(t, err)
	copy(a[16:32], o[16:32])
	_, err = s.DecryptBytes(ctx, a, frozenB)
	require.ErrorIs(t, err, envelope.ErrDecrypt)
}
