package envelope

import (
	"context"
	"errors"
	"reflect"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope/internal/format"
)

// Seal encrypts, in place, every field of the struct ptr points to that
// its `pii` tags mark encrypt or encrypt=det (nested structs, pointers,
// slices and maps included), and writes blind indexes to their companion
// fields. string fields get the text form, []byte fields the binary form.
//
// Each value is bound to the tenant (`pii:"tenant"`), the type's schema
// name, the field's schema path ("Contacts[].Phone") and the record id
// (`pii:"id"`, else `pii:"subject"`); values of records with a subject use
// that subject's DEKs, and a record whose type has a subject field that is
// empty is refused (ErrEmptySubject) rather than sealed under the tenant's
// keys; types without a subject field use the tenant's keys. Empty values
// stay empty. A value that already opens
// under its binding and mode is left as it is, so sealing twice is a no-op;
// anything else, including a value that merely looks sealed, is encrypted.
// Blind indexes are computed again from the value every time, and a
// deterministic value is sealed again when it is under a search key
// version other than the one writes use or not in its norm= form: so
// sealing a sealed struct re-indexes it (after a search key rotation or a
// change of norm=, prefix= or with=).
// Errors are *pii.FieldError, naming the field and the record; on error the
// struct may be partly sealed. A cancelled ctx fails with ctx.Err().
//
// ptr may also be a slice of structs or of pointers to structs ([]T,
// []*T, or a pointer to either): Seal seals every record, in order, and
// stops at the first error. The keys of the records' data subjects are
// looked up, and the missing ones made, for a batch of records at a time:
// one KeyStore.LatestMany and one KeyStore.InsertMany per batch instead of
// several calls per subject. Under pii.WithExecutor those writes are in
// the caller's transaction, as for one record.
func (s *Sealer) Seal(ctx context.Context, ptr any) error {
	if list, ptrs, sc, ok, err := sliceOf(ptr); ok {
		if err != nil {
			return err
		}
		return s.many(ctx, list, ptrs, sc, true)
	}
	return s.walk(ctx, ptr, true)
}

// Open decrypts, in place, every encrypted field of the struct ptr points
// to. A plaintext value is an error (wrapping ErrNotSealed) unless
// Options.AllowPlaintext (or, for guard's migration reads, ctx says so);
// a forgotten subject's values fail with ErrShredded; anything that does not authenticate fails with ErrDecrypt.
// Options.ReadCheck runs before each field is decrypted. Errors are
// *pii.FieldError, naming the field and the record (by its `pii:"id"` value,
// never a field's value or the subject id); on error the struct may be
// partly opened. A cancelled ctx fails with ctx.Err().
//
// ptr may also be a slice of structs or of pointers to structs, as for
// Seal: the DEKs the records' values name that are not cached are read
// with one KeyStore.GetMany per batch of records and unwrapped locally.
func (s *Sealer) Open(ctx context.Context, ptr any) error {
	if list, ptrs, sc, ok, err := sliceOf(ptr); ok {
		if err != nil {
			return err
		}
		return s.many(ctx, list, ptrs, sc, false)
	}
	return s.walk(ctx, ptr, false)
}

func (s *Sealer) walk(ctx context.Context, ptr any, seal bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx = withCall(ctx) // under a transaction, the fields share the keys they load
	sc, err := pii.SchemaOf(ptr)
	if err != nil {
		return err
	}
	base := Binding{
		Tenant:  sc.TenantOf(ptr),
		Type:    sc.Name,
		Record:  sc.RecordOf(ptr),
		Subject: sc.SubjectOf(ptr),
	}
	fieldError := func(path string, err error) error { return sc.FieldError(ptr, path, err) }
	// A record of a type with a subject field but no subject would be
	// sealed under the tenant's keys and never be shredded: refuse it at
	// its first value to seal.
	noSubject := seal && sc.Subject != nil && base.Subject == ""
	return sc.Walk(ptr, func(f *pii.Field, path string, owner, v reflect.Value) error {
		if f.Opts.Encrypt == pii.EncryptNone && !f.Opts.Index {
			return nil
		}
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return nil
			}
			v = v.Elem()
		}
		if noSubject && v.Len() > 0 {
			return fieldError(sc.Subject.Path, ErrEmptySubject)
		}
		b := base
		b.Field = f.Path
		var err error
		if seal {
			err = s.sealField(ctx, f, &b, owner, v)
		} else {
			err = s.openField(ctx, sc, f, &b, ptr, v)
		}
		if err != nil {
			return fieldError(path, err)
		}
		return nil
	})
}

func isBytes(v reflect.Value) bool { return v.Kind() == reflect.Slice }

func wantVersion(m pii.EncryptMode, v format.Version) bool {
	if m == pii.EncryptDet {
		return v == format.V3Det
	}
	return v == format.V1Keyring || v == format.V2Inline
}

// sealField seals the string or []byte field v in place, and writes its
// blind index to its companion field in owner.
func (s *Sealer) sealField(ctx context.Context, f *pii.Field, b *Binding, owner, v reflect.Value) error {
	if v.Len() == 0 {
		return nil
	}
	// A value that opens under this binding is sealed already; pt is its
	// plaintext (a copy, cleared on return), nil for a value to seal.
	ver, pt, err := s.trialOpen(ctx, v, b)
	if err != nil {
		return err
	}
	defer clear(pt)
	sealed := pt != nil && (f.Opts.Encrypt == pii.EncryptNone || wantVersion(f.Opts.Encrypt, ver))
	if sealed {
		stale, err := s.detStale(ctx, f, b, v, pt)
		if err != nil {
			return err
		}
		sealed = !stale
	}
	if pt == nil && (f.Opts.Index || f.Opts.Encrypt == pii.EncryptDet) {
		// HMAC and AES-SIV take bytes: copy a string's plaintext once.
		if isBytes(v) {
			pt = v.Bytes()
		} else {
			pt = []byte(v.String())
			defer clear(pt)
		}
	}
	if f.Opts.Index && f.IndexFieldIndex != nil {
		ix, err := s.sealIndex(ctx, f, b, owner, pt)
		if err != nil {
			return err
		}
		c := owner.FieldByIndex(f.IndexFieldIndex)
		if c.Kind() == reflect.Slice {
			c.SetBytes(ix)
		} else {
			c.SetString(b64url(ix))
		}
	}
	if sealed || f.Opts.Encrypt == pii.EncryptNone {
		return nil
	}
	if f.Opts.Encrypt == pii.EncryptDet {
		bin, err := s.sealDet(ctx, detInput(f, pt), b)
		if err != nil {
			return err
		}
		if isBytes(v) {
			v.SetBytes(bin)
		} else {
			v.SetString(textOf(bin))
		}
		return nil
	}
	if isBytes(v) {
		var bin []byte
		var bp *[]byte
		if pt != nil {
			bin, bp, err = sealBinary(ctx, s, pt, b, false)
		} else {
			bin, bp, err = sealBinary(ctx, s, v.Bytes(), b, false)
		}
		if err != nil {
			return err
		}
		v.SetBytes(append([]byte(nil), bin...))
		putBuf(bp)
		return nil
	}
	var text string
	if pt != nil {
		text, err = sealText(ctx, s, pt, b)
	} else {
		text, err = sealText(ctx, s, v.String(), b)
	}
	if err != nil {
		return err
	}
	v.SetString(text)
	return nil
}

// trialOpen returns the plaintext (a copy) and version of a value that
// opens under b, nil when it is plaintext or does not authenticate, or an
// error that makes sealing unsafe (a shredded subject, an outage).
func (s *Sealer) trialOpen(ctx context.Context, v reflect.Value, b *Binding) (format.Version, []byte, error) {
	var (
		pt  []byte
		bp  *[]byte
		err error
		ver format.Version
	)
	if isBytes(v) {
		raw := v.Bytes()
		c, perr := format.Parse(raw)
		if perr != nil {
			return 0, nil, nil
		}
		ver = c.Version
		bp = getBuf(len(raw) + fieldADLen(b))
		buf := *bp
		copy(buf, raw)
		pt, err = s.openBinary(ctx, buf[:len(raw)], buf[len(raw):len(raw)], b)
		if err != nil {
			putBuf(bp)
			bp = nil
		}
	} else {
		text := v.String()
		tv, ok := format.TextVersion(text)
		if !ok {
			return 0, nil, nil
		}
		ver = tv
		pt, bp, err = openText(ctx, s, text, b, false)
	}
	if err != nil {
		if errors.Is(err, ErrDecrypt) {
			return 0, nil, nil
		}
		return 0, nil, err
	}
	out := append(make([]byte, 0, len(pt)+1), pt...) // non-nil even when empty
	putBuf(bp)
	return ver, out, nil
}

func (s *Sealer) openField(ctx context.Context, sc *pii.Schema, f *pii.Field, b *Binding, ptr any, v reflect.Value) error {
	if f.Opts.Encrypt == pii.EncryptNone || v.Len() == 0 {
		return nil
	}
	if s.opts.ReadCheck != nil {
		if err := s.opts.ReadCheck(ctx, sc, f, ptr); err != nil {
			v.SetZero()
			return err
		}
	}
	if isBytes(v) {
		val := v.Bytes()
		if _, err := format.Parse(val); err != nil {
			if s.passPlaintext(ctx, f) {
				return nil
			}
			return ErrNotSealed
		}
		pt, err := s.DecryptBytes(ctx, val, *b)
		if err != nil {
			return err
		}
		v.SetBytes(pt)
		return nil
	}
	val := v.String()
	if _, ok := format.TextVersion(val); !ok {
		if s.passPlaintext(ctx, f) {
			return nil
		}
		return ErrNotSealed
	}
	pt, bp, err := openText(ctx, s, val, b, false)
	if err != nil {
		return err
	}
	v.SetString(string(pt))
	putBuf(bp)
	return nil
}
