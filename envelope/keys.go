package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"

	"github.com/fieldguard/pii/envelope/internal/format"
)

// Key derivation and the associated data of field values and key wraps.

const (
	infoEnc    = "pii/envelope/v1/enc"
	infoCommit = "pii/envelope/v1/commit"
	keySize    = 32
)

// deriveDEK turns a DEK into its AES-256-GCM key and 16-byte commitment.
// Both are HKDF-SHA256 of the DEK (no salt) with their own info; the
// extract step, the same for both, runs once.
func deriveDEK(dek []byte) (cipher.AEAD, [format.CommitmentSize]byte, error) {
	var c [format.CommitmentSize]byte
	prk, err := hkdf.Extract(sha256.New, dek, nil)
	if err != nil {
		return nil, c, err
	}
	defer clear(prk)
	enc, err := hkdf.Expand(sha256.New, prk, infoEnc, keySize)
	if err != nil {
		return nil, c, err
	}
	defer clear(enc)
	cm, err := hkdf.Expand(sha256.New, prk, infoCommit, format.CommitmentSize)
	if err != nil {
		return nil, c, err
	}
	copy(c[:], cm)
	a, err := newGCM(enc)
	return a, c, err
}

// newGCM is the lowest-level AEAD every envelope path uses (field values,
// DEK wraps); the Wycheproof test runs through it.
func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func appendLP(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
	return append(dst, s...)
}

// appendFieldAD appends the associated data of a field ciphertext:
// version | DEK id (3, zero unless v1) | len-prefixed tenant, type, field,
// and record (omitted for v3, whose equality must hold across records).
func appendFieldAD(dst []byte, v format.Version, id uint32, b *Binding) []byte {
	dst = append(dst, byte(v))
	dst = format.PutDEKID(dst, id)
	dst = appendLP(dst, b.Tenant)
	dst = appendLP(dst, b.Type)
	dst = appendLP(dst, b.Field)
	if v != format.V3Det {
		dst = appendLP(dst, b.Record)
	}
	return dst
}

func fieldADLen(b *Binding) int {
	return 4 + 16 + len(b.Tenant) + len(b.Type) + len(b.Field) + len(b.Record)
}

// keyAD is the associated data of a key wrap.
func keyAD(label, tenant, scope string, id, parent uint32) []byte {
	ad := make([]byte, 0, len(label)+len(tenant)+len(scope)+24)
	ad = appendLP(ad, label)
	ad = appendLP(ad, tenant)
	ad = appendLP(ad, scope)
	ad = binary.BigEndian.AppendUint32(ad, id)
	return binary.BigEndian.AppendUint32(ad, parent)
}

func branchAD(tenant string, version uint32) []byte {
	return keyAD("pii/branch/v1", tenant, "", version, 0)
}

func dekAD(tenant, scope string, id, branch uint32) []byte {
	return keyAD("pii/dek/v1", tenant, scope, id, branch)
}

func searchAD(tenant string, version uint32) []byte {
	return keyAD("pii/search/v1", tenant, "", version, 0)
}

func inlineAD(tenant string) []byte { return keyAD("pii/inline/v1", tenant, "", 0, 0) }

func scopeName(subject string) string {
	if subject == "" {
		return "t"
	}
	return "s:" + subject
}

func (s *Sealer) fillNonce(b []byte) {
	if s.nonceHook != nil {
		s.nonceHook(b)
		return
	}
	rand.Read(b)
}
