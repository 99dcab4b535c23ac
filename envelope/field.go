package envelope

import (
	"context"
	"unsafe"

	"github.com/fieldguard/pii/envelope/internal/format"
)

// The byte-level API and the field ciphertext hot path.

// EncryptString encrypts plaintext bound to b and returns the text form
// ("pii1." in keyring mode, "pii2." inline).
func (s *Sealer) EncryptString(ctx context.Context, plaintext string, b Binding) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	return s.sealText(ctx, bytesOf(plaintext), &b)
}

// EncryptBytes encrypts plaintext bound to b and returns the binary form
// (at most 48 bytes of overhead in keyring mode).
func (s *Sealer) EncryptBytes(ctx context.Context, plaintext []byte, b Binding) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	bin, bp, err := s.sealBinary(ctx, plaintext, &b)
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), bin...)
	putBuf(bp)
	return out, nil
}

// DecryptString decrypts a text-form ciphertext bound to b. A value that
// is not in text form fails with an error matching both ErrDecrypt and
// ErrNotSealed.
func (s *Sealer) DecryptString(ctx context.Context, ciphertext string, b Binding) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	text := bytesOf(ciphertext)
	if _, ok := format.TextVersion(text); !ok {
		return "", decryptError(ErrNotSealed)
	}
	// The pooled buffer receives only public bytes (the binary form and
	// the associated data); the plaintext goes straight into the result.
	dl := format.DecodedLen(len(text))
	bp := getBuf(dl + 8 + fieldADLen(&b))
	buf := *bp
	bin, err := format.DecodeText(buf[:0:dl+8], text)
	if err != nil {
		putBufPublic(bp)
		return "", decryptError(err)
	}
	n := len(bin) - minOverhead(bin)
	if n <= 0 {
		// Too short to hold a value (or empty): the checks below decide.
		pt, err := s.openBinaryTo(ctx, bin, buf[dl+8:dl+8], &b, nil)
		putBuf(bp)
		return string(pt), err
	}
	out := make([]byte, n)
	pt, err := s.openBinaryTo(ctx, bin, buf[dl+8:dl+8], &b, out)
	putBufPublic(bp)
	if err != nil {
		return "", err
	}
	return unsafe.String(&out[0], len(pt)), nil
}

// minOverhead is the ciphertext expansion of bin's version (an upper bound
// of the plaintext length is len(bin) minus it), or len(bin) when unknown.
func minOverhead(bin []byte) int {
	switch format.Version(bin[0]) {
	case format.V1Keyring:
		return format.V1Overhead
	case format.V2Inline:
		if len(bin) >= 3 {
			return format.V2Header(int(bin[1])<<8|int(bin[2])) + format.TagSize
		}
	case format.V3Det:
		return format.V3Overhead
	}
	return len(bin)
}

// DecryptBytes decrypts a binary-form ciphertext bound to b.
func (s *Sealer) DecryptBytes(ctx context.Context, ciphertext []byte, b Binding) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := len(ciphertext)
	bp := getBuf(n + fieldADLen(&b))
	buf := *bp
	copy(buf, ciphertext)
	pt, err := s.openBinary(ctx, buf[:n], buf[n:n], &b)
	if err != nil {
		putBuf(bp)
		return nil, err
	}
	out := append([]byte(nil), pt...)
	putBuf(bp)
	return out, nil
}

// sealBinary encrypts into a pooled buffer; the caller puts it back.
func (s *Sealer) sealBinary(ctx context.Context, pt []byte, b *Binding) ([]byte, *[]byte, error) {
	n := len(pt)
	adCap := fieldADLen(b)
	if s.opts.Mode == Inline {
		e, err := s.inlineEncKey(ctx, b.Tenant, n)
		if err != nil {
			return nil, nil, err
		}
		h := format.V2Header(len(e.wrapped))
		binLen := h + n + format.TagSize
		bp := getBuf(binLen + adCap)
		buf := *bp
		buf[0] = byte(format.V2Inline)
		buf[1], buf[2] = byte(len(e.wrapped)>>8), byte(len(e.wrapped))
		o := 3 + copy(buf[3:], e.wrapped)
		nonce := buf[o : o+format.NonceSize]
		s.fillNonce(nonce)
		copy(buf[o+format.NonceSize:h], e.commit[:])
		copy(buf[h:], pt)
		ad := appendFieldAD(buf[binLen:binLen], format.V2Inline, 0, b)
		e.aead.Seal(buf[h:h], nonce, buf[h:h+n], ad)
		return buf[:binLen], bp, nil
	}
	e, err := s.encKey(ctx, b, n)
	if err != nil {
		return nil, nil, err
	}
	const h = format.V1Header
	binLen := h + n + format.TagSize
	bp := getBuf(binLen + adCap)
	buf := *bp
	buf[0] = byte(format.V1Keyring)
	id := e.ref.id
	buf[1], buf[2], buf[3] = byte(id>>16), byte(id>>8), byte(id)
	nonce := buf[4 : 4+format.NonceSize]
	s.fillNonce(nonce)
	copy(buf[4+format.NonceSize:h], e.commit[:])
	copy(buf[h:], pt)
	ad := appendFieldAD(buf[binLen:binLen], format.V1Keyring, id, b)
	e.aead.Seal(buf[h:h], nonce, buf[h:h+n], ad)
	return buf[:binLen], bp, nil
}

func (s *Sealer) sealText(ctx context.Context, pt []byte, b *Binding) (string, error) {
	bin, bp, err := s.sealBinary(ctx, pt, b)
	if err != nil {
		return "", err
	}
	out := encodeText(bin)
	putBuf(bp)
	return out, nil
}

// encodeText writes the text form with one allocation.
func encodeText(bin []byte) string {
	out := make([]byte, format.EncodedLen(len(bin)))
	format.PutText(out, bin)
	return unsafe.String(&out[0], len(out))
}

// openText decodes and opens s into a pooled buffer; the caller puts it back.
func (s *Sealer) openText(ctx context.Context, text []byte, b *Binding) ([]byte, *[]byte, error) {
	if _, ok := format.TextVersion(text); !ok {
		return nil, nil, decryptError(ErrNotSealed)
	}
	dl := format.DecodedLen(len(text))
	adLen := fieldADLen(b)
	bp := getBuf(dl + 8 + adLen)
	buf := *bp
	bin, err := format.DecodeText(buf[:0:dl+8], text)
	if err != nil {
		putBuf(bp)
		return nil, nil, decryptError(err)
	}
	rest := buf[dl+8:]
	pt, err := s.openBinary(ctx, bin, rest[:0], b)
	if err != nil {
		putBuf(bp)
		return nil, nil, err
	}
	return pt, bp, nil
}

// openBinary opens bin in place; adBuf is scratch for the associated data.
func (s *Sealer) openBinary(ctx context.Context, bin, adBuf []byte, b *Binding) ([]byte, error) {
	return s.openBinaryTo(ctx, bin, adBuf, b, nil)
}

// openBinaryTo opens bin into dst, which must have room for the plaintext
// (len(bin) - overhead bytes), or in place when dst is nil. Only dst (or
// bin, in place) receives plaintext; on failure it is cleared.
func (s *Sealer) openBinaryTo(ctx context.Context, bin, adBuf []byte, b *Binding, dst []byte) ([]byte, error) {
	c, err := format.Parse(bin)
	if err != nil {
		return nil, decryptError(err)
	}
	var e *dekEntry
	switch c.Version {
	case format.V1Keyring:
		e, err = s.decKey(ctx, b, c.DEKID)
	case format.V2Inline:
		e, err = s.inlineDecKey(ctx, b.Tenant, c.Wrapped)
	case format.V3Det:
		pt, err := s.openDet(ctx, &c, adBuf, b)
		if err != nil || dst == nil {
			return pt, err
		}
		out := dst[:copy(dst[:len(pt)], pt)]
		clear(pt)
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	if !commitEqual(e.commit[:], c.Commitment) {
		return nil, ErrDecrypt
	}
	ad := appendFieldAD(adBuf, c.Version, c.DEKID, b)
	if dst == nil {
		dst = c.Sealed
	}
	pt, err := e.aead.Open(dst[:0], c.Nonce, c.Sealed, ad)
	if err != nil {
		clear(dst[:len(c.Sealed)-format.TagSize])
		return nil, ErrDecrypt
	}
	return pt, nil
}
