package envelope_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"runtime"
	"testing"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/internal/testkp"
	"github.com/stretchr/testify/require"
	"github.com/tink-crypto/tink-go/v2/daead/subtle"
)

// These tests open the frozen ciphertexts with nothing but FORMAT.md and
// the standard library (plus an independent AES-SIV), so the document
// stays exact.

func lp(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func decodeText(t *testing.T, s, prefix string) []byte {
	require.Equal(t, prefix, s[:5])
	b, err := base64.RawURLEncoding.DecodeString(s[5:])
	require.NoError(t, err)
	return b
}

func TestSpecV1(t *testing.T) {
	b := decodeText(t, frozenV1, "pii1.")
	require.Equal(t, byte(1), b[0])
	id, nonce, commit, sealed := b[1:4], b[4:16], b[16:32], b[32:]
	require.Equal(t, []byte{0, 0, 1}, id)
	enc, err := hkdf.Key(sha256.New, frozenDEK, nil, "pii/envelope/v1/enc", 32)
	require.NoError(t, err)
	cm, err := hkdf.Key(sha256.New, frozenDEK, nil, "pii/envelope/v1/commit", 16)
	require.NoError(t, err)
	require.Equal(t, cm, commit)
	ad := append([]byte{1}, id...)
	for _, s := range []string{frozenB.Tenant, frozenB.Type, frozenB.Field, frozenB.Record} {
		ad = lp(ad, s)
	}
	blk, err := aes.NewCipher(enc)
	require.NoError(t, err)
	g, err := cipher.NewGCM(blk)
	require.NoError(t, err)
	pt, err := g.Open(nil, nonce, sealed, ad)
	require.NoError(t, err)
	require.Equal(t, "alice@example.com", string(pt))
	require.Len(t, b, len(pt)+48)
}

func TestSpecV3(t *testing.T) {
	b := decodeText(t, frozenV3, "pii3.")
	require.Equal(t, byte(3), b[0])
	commit, sealed := b[1:17], b[17:]
	info := lp(lp([]byte("pii/det/v1"), frozenB.Type), frozenB.Field)
	key, err := hkdf.Key(sha256.New, frozenRoot, nil, string(info), 64)
	require.NoError(t, err)
	cm, err := hkdf.Key(sha256.New, key, nil, "pii/det/v1/commit", 16)
	require.NoError(t, err)
	require.Equal(t, cm, commit)
	ad := []byte{3, 0, 0, 0}
	for _, s := range []string{frozenB.Tenant, frozenB.Type, frozenB.Field} {
		ad = lp(ad, s)
	}
	siv, err := subtle.NewAESSIV(key)
	require.NoError(t, err)
	pt, err := siv.DecryptDeterministically(sealed, ad)
	require.NoError(t, err)
	require.Equal(t, "alice@example.com", string(pt))
}

// TestSIVKeyNotCleared: det values made after many cache refreshes and
// evictions still open under an independently derived key.
func TestSIVKeyNotCleared(t *testing.T) {
	s := frozenSealer(t)
	for range 3 {
		ct, err := s.EncryptDeterministic(context.Background(), "alice@example.com", frozenB)
		require.NoError(t, err)
		require.Equal(t, frozenV3, ct)
		runtime.GC()
	}
}

func TestSpecV2(t *testing.T) {
	b := decodeText(t, frozenV2, "pii2.")
	require.Equal(t, byte(2), b[0])
	w := int(binary.BigEndian.Uint16(b[1:3]))
	wrapped, rest := b[3:3+w], b[3+w:]
	nonce, commit, sealed := rest[:12], rest[12:28], rest[28:]
	// Key wrap associated data: LP(label) | LP(tenant) | LP(scope) | id | parent.
	kad := lp(lp(lp(nil, "pii/inline/v1"), frozenB.Tenant), "")
	kad = binary.BigEndian.AppendUint32(kad, 0)
	kad = binary.BigEndian.AppendUint32(kad, 0)
	dek, err := testkp.New(frozenKEK).Unwrap(context.Background(), wrapped, kad)
	require.NoError(t, err)
	enc, err := hkdf.Key(sha256.New, dek, nil, "pii/envelope/v1/enc", 32)
	require.NoError(t, err)
	cm, err := hkdf.Key(sha256.New, dek, nil, "pii/envelope/v1/commit", 16)
	require.NoError(t, err)
	require.Equal(t, cm, commit)
	ad := []byte{2, 0, 0, 0}
	for _, s := range []string{frozenB.Tenant, frozenB.Type, frozenB.Field, frozenB.Record} {
		ad = lp(ad, s)
	}
	blk, err := aes.NewCipher(enc)
	require.NoError(t, err)
	g, err := cipher.NewGCM(blk)
	require.NoError(t, err)
	pt, err := g.Open(nil, nonce, sealed, ad)
	require.NoError(t, err)
	require.Equal(t, "alice@example.com", string(pt))
}

// TestSpecKeyHierarchy unwraps a stored branch key and DEK by FORMAT.md's
// key-wrap rules and opens a v1 value with them.
func TestSpecKeyHierarchy(t *testing.T) {
	ctx := context.Background()
	kp := testkp.New(frozenKEK)
	store := envelope.NewMemoryStore()
	s, err := envelope.New(kp, &envelope.Options{Store: store})
	require.NoError(t, err)
	ct, err := s.EncryptBytes(ctx, []byte("alice@example.com"), frozenB)
	require.NoError(t, err)

	keyAD := func(label, tenant, scope string, id, parent uint32) []byte {
		ad := lp(lp(lp(nil, label), tenant), scope)
		ad = binary.BigEndian.AppendUint32(ad, id)
		return binary.BigEndian.AppendUint32(ad, parent)
	}
	br, err := store.Get(ctx, envelope.KeyRef{Kind: envelope.KindBranch, Tenant: "acme", ID: 1})
	require.NoError(t, err)
	branch, err := kp.Unwrap(ctx, br.Wrapped, keyAD("pii/branch/v1", "acme", "", 1, 0))
	require.NoError(t, err)
	dr, err := store.Get(ctx, envelope.KeyRef{Kind: envelope.KindDEK, Tenant: "acme", Scope: "s:alice", ID: 1})
	require.NoError(t, err)
	require.Equal(t, uint32(1), dr.Parent)
	blk, err := aes.NewCipher(branch)
	require.NoError(t, err)
	g, err := cipher.NewGCM(blk)
	require.NoError(t, err)
	dek, err := g.Open(nil, dr.Wrapped[:12], dr.Wrapped[12:], keyAD("pii/dek/v1", "acme", "s:alice", 1, 1))
	require.NoError(t, err)

	enc, err := hkdf.Key(sha256.New, dek, nil, "pii/envelope/v1/enc", 32)
	require.NoError(t, err)
	blk, err = aes.NewCipher(enc)
	require.NoError(t, err)
	g, err = cipher.NewGCM(blk)
	require.NoError(t, err)
	ad := append([]byte{1}, ct[1:4]...)
	for _, v := range []string{frozenB.Tenant, frozenB.Type, frozenB.Field, frozenB.Record} {
		ad = lp(ad, v)
	}
	pt, err := g.Open(nil, ct[4:16], ct[32:], ad)
	require.NoError(t, err)
	require.Equal(t, "alice@example.com", string(pt))
}
