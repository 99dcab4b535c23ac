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
	return sealText(ctx, s, plaintext, &b)
}

// EncryptBytes encrypts plaintext bound to b and returns the binary form
// (at most 48 bytes of overhead in keyring mode).
func (s *Sealer) EncryptBytes(ctx context.Context, plaintext []byte, b Binding) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	bin, bp, err := sealBinary(ctx, s, plaintext, &b, false)
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), bin...)
	putBufPublic(bp) // sealed in place: the plaintext was overwritten
	return out, nil
}

// DecryptString decrypts a text-form ciphertext bound to b. A value that
// is not in text form fails with an error matching both ErrDecrypt and
// ErrNotSealed.
func (s *Sealer) DecryptString(ctx context.Context, ciphertext string, b Binding) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	pt, bp, err := openText(ctx, s, ciphertext, &b, true)
	if err != nil {
		return "", err
	}
	putBufPublic(bp) // the plaintext went to pt, which the string now owns
	if len(pt) == 0 {
		return "", nil
	}
	// pt was allocated for this call and is referenced nowhere else, so
	// the string can take it over instead of copying it (strings.Builder
	// does the same); it keeps no other value alive.
	return unsafe.String(&pt[0], len(pt)), nil
}

// DecryptBytes decrypts a binary-form ciphertext bound to b.
func (s *Sealer) DecryptBytes(ctx context.Context, ciphertext []byte, b Binding) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	bp := getBuf(fieldADLen(&b))
	pt, err := s.openBinaryTo(ctx, ciphertext, (*bp)[:0], &b, nil, true)
	putBuf(bp)
	if err != nil {
		return nil, err
	}
	return pt, nil
}

// sealBinary encrypts pt into a pooled buffer; the caller puts it back.
// With text, the buffer ends with room for the text form. The plaintext is
// copied in and sealed in place, so the buffer holds none afterwards.
func sealBinary[T string | []byte](ctx context.Context, s *Sealer, pt T, b *Binding, text bool) ([]byte, *[]byte, error) {
	n := len(pt)
	adCap := fieldADLen(b)
	if s.opts.Inline {
		e, err := s.inlineEncKey(ctx, b.Tenant, n)
		if err != nil {
			return nil, nil, s.tel.failed(b, opEncrypt, fmtInline, err)
		}
		h := format.V2Header(len(e.wrapped))
		binLen := h + n + format.TagSize
		bp := getBuf(binLen + adCap + textRoom(binLen, text))
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
		s.tel.ok(b, opEncrypt, fmtInline)
		return buf[:binLen], bp, nil
	}
	e, err := s.encKey(ctx, b, n)
	if err != nil {
		return nil, nil, s.tel.failed(b, opEncrypt, fmtRandom, err)
	}
	const h = format.V1Header
	binLen := h + n + format.TagSize
	bp := getBuf(binLen + adCap + textRoom(binLen, text))
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
	s.tel.ok(b, opEncrypt, fmtRandom)
	return buf[:binLen], bp, nil
}

func textRoom(binLen int, text bool) int {
	if text {
		return format.EncodedLen(binLen)
	}
	return 0
}

// sealText encrypts pt and returns the text form. The text is encoded in
// the pooled buffer, after the binary form, and copied out once.
func sealText[T string | []byte](ctx context.Context, s *Sealer, pt T, b *Binding) (string, error) {
	bin, bp, err := sealBinary(ctx, s, pt, b, true)
	if err != nil {
		return "", err
	}
	out := encodeText(bin, (*bp)[len(*bp)-format.EncodedLen(len(bin)):])
	putBufPublic(bp) // sealed in place: the plaintext was overwritten
	return out, nil
}

// encodeText returns the text form of bin, encoded in scratch (which must
// hold it) and copied into the one allocation a string needs.
func encodeText(bin, scratch []byte) string {
	t := scratch[:format.EncodedLen(len(bin))]
	format.PutText(t, bin)
	return string(t)
}

// textOf returns the text form of bin, encoded in a pooled buffer.
func textOf(bin []byte) string {
	bp := getBuf(format.EncodedLen(len(bin)))
	out := encodeText(bin, *bp)
	putBufPublic(bp) // a ciphertext is public
	return out
}

// openText decodes and opens text into a pooled buffer; the caller puts
// it back. A value without the text prefix fails with ErrNotSealed (and
// ErrDecrypt).
//
// With fresh, the plaintext is returned in a slice allocated for the call
// (the caller owns it) and the buffer holds no plaintext; otherwise it is
// in the buffer, which the caller clears.
func openText[T string | []byte](ctx context.Context, s *Sealer, text T, b *Binding, fresh bool) ([]byte, *[]byte, error) {
	dl := format.DecodedLen(len(text))
	if dl < 0 {
		return nil, nil, decryptError(ErrNotSealed)
	}
	// buf: the binary form (and decoder slack), the associated data, then
	// the plaintext (GCM opens a little faster out of place).
	adLen := fieldADLen(b)
	bp := getBuf(dl + 8 + adLen + dl)
	buf := *bp
	bin, err := format.DecodeText(buf[:0:dl+8], text)
	if err != nil {
		putBufPublic(bp) // nothing but public bytes yet
		if err == format.ErrNoPrefix {
			return nil, nil, decryptError(ErrNotSealed)
		}
		return nil, nil, decryptError(err)
	}
	pt, err := s.openBinaryTo(ctx, bin, buf[dl+8:dl+8], b, buf[dl+8+adLen:], fresh)
	if err != nil {
		putBuf(bp)
		return nil, nil, err
	}
	return pt, bp, nil
}

// openBinary opens bin in place; adBuf is scratch for the associated
// data. Only bin receives plaintext; on failure it is cleared.
func (s *Sealer) openBinary(ctx context.Context, bin, adBuf []byte, b *Binding) ([]byte, error) {
	return s.openBinaryTo(ctx, bin, adBuf, b, nil, false)
}

// openBinaryTo opens bin into dst, which has room for the plaintext, or in
// place when dst is nil, or into a slice allocated for the call when fresh
// (bin is then left untouched). Only that destination receives plaintext;
// on failure it is cleared.
func (s *Sealer) openBinaryTo(ctx context.Context, bin, adBuf []byte, b *Binding, dst []byte, fresh bool) ([]byte, error) {
	var c format.Ciphertext
	if err := c.Parse(bin); err != nil {
		return nil, s.tel.failed(b, opDecrypt, binFormat(bin), decryptError(err))
	}
	var (
		e   *dekEntry
		err error
	)
	switch c.Version {
	case format.V1Keyring:
		e, err = s.decKey(ctx, b, c.DEKID)
	case format.V2Inline:
		e, err = s.inlineDecKey(ctx, b.Tenant, c.Wrapped)
	case format.V3Det:
		if !fresh {
			pt, err := s.openDet(ctx, &c, adBuf, b)
			if err != nil {
				return nil, s.tel.failed(b, opDecrypt, fmtDet, err)
			}
			s.tel.ok(b, opDecrypt, fmtDet)
			return pt, nil
		}
		// openDet opens in place: work on a copy so bin stays untouched.
		cp := append([]byte(nil), bin...)
		pt, err := s.openBinaryTo(ctx, cp, adBuf, b, nil, false) // counts the decryption
		if err != nil {
			return nil, err
		}
		out := append([]byte(nil), pt...)
		clear(cp)
		return out, nil
	}
	if err != nil {
		return nil, s.tel.failed(b, opDecrypt, formatOf(byte(c.Version)), err)
	}
	if !commitEqual(e.commit[:], c.Commitment) {
		return nil, s.tel.failed(b, opDecrypt, formatOf(byte(c.Version)), ErrDecrypt)
	}
	ad := appendFieldAD(adBuf, c.Version, c.DEKID, b)
	switch {
	case fresh:
		dst = make([]byte, len(c.Sealed)-format.TagSize)
	case dst == nil:
		dst = c.Sealed
	}
	pt, err := e.aead.Open(dst[:0], c.Nonce, c.Sealed, ad)
	if err != nil {
		clear(dst[:len(c.Sealed)-format.TagSize])
		return nil, s.tel.failed(b, opDecrypt, formatOf(byte(c.Version)), ErrDecrypt)
	}
	s.tel.ok(b, opDecrypt, formatOf(byte(c.Version)))
	return pt, nil
}
