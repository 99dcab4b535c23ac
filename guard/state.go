package guard

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/internal/checkdigit"
	"github.com/fieldguard/pii/internal/sealedtext"
	"github.com/fieldguard/pii/internal/tokenscope"
	"github.com/fieldguard/pii/retention"
	"github.com/fieldguard/pii/tokenize"
)

// How Protect, Open and View tell a protected struct from a clear one.
//
// A struct is in one of two states: protected (as stored: encrypted fields
// hold sealed text, token fields hold tokens) or clear (as the application
// uses it: new, or returned by Open). FPE tokens of phone numbers, e-mail
// addresses, SSNs and generic values cannot be told from values, so the
// state is read from evidence that can be told:
//
//   - encrypted string fields: bare sealed text ("pii1.…") is protected;
//     a clear value is clear, and so is a kept value (see below), which only
//     Open writes;
//   - token fields, each on its own where its form tells: an annotated
//     token ("PHONE(15):+1 …", written by Open for a token it did not
//     reverse) is a token; a pseudonym of token=hmac is recognised by its
//     form (key id, ":", 22 base64url characters); card and IBAN tokens
//     fail their check digits, values pass them.
//
// Token fields whose form does not tell take the state of the struct's
// encrypted fields. When those are split (some sealed, some clear) or
// absent (nothing encrypted holds a value), such a token field is
// ambiguous, and Protect, Open and View refuse with ErrAmbiguous instead of
// guessing: a wrong guess tokenizes a token twice (the value is lost) or
// stores a value in clear.
//
// Open keeps these rules true of what it returns: every token it does not
// reverse is annotated, and every encrypted value it does not open (one
// that retention refuses to show, or whose subject was forgotten) is kept
// sealed inside a kept marker, "SEALED(n):pii1.…", so that Protect restores
// it as it was instead of taking it for evidence of either state.
//
// The rule's limit: a new clear value written into a token field of a
// struct that is still protected (read without Open) is taken for a token
// and stored as it is, when its format cannot tell. Change values only on
// new structs and on structs returned by Open.

// ErrAmbiguous reports a struct whose token fields may hold tokens or
// values, with nothing that tells which: Protect, Open and View refuse it
// rather than tokenize a token twice or leave a value in clear.
var ErrAmbiguous = errors.New("guard: cannot tell whether the struct's token fields hold tokens or values")

// keptType is the annotation of a sealed value Open kept.
const keptType = "SEALED"

// verdict is what a token field holds, as far as its form tells.
type verdict int8

const (
	vUnknown verdict = iota // the form does not tell
	vClear                  // a value
	vToken                  // a token (bare holds it without annotation)
	vProbe                  // a card or IBAN failing its check digits: a token, or a mistyped value
)

// scan is what one walk over a struct finds.
type scan struct {
	sealed, clear, kept int // encrypted string fields holding a value
	bytesEnc            int // encrypted []byte fields holding a value
	// Per token field that holds a value, in walk order.
	tok []tokenVisit
}

type tokenVisit struct {
	f    *pii.Field
	path string
	v    verdict
	val  string // the value as found
	bare string // vToken: the token without annotation
}

// evidence is what the encrypted fields say.
type evidence int8

const (
	evNone      evidence = iota // nothing encrypted holds a value
	evProtected                 // all sealed
	evClear                     // all clear or kept
	evMixed                     // both
)

func (s *scan) evidence() evidence {
	switch {
	case s.sealed > 0 && s.clear+s.kept == 0:
		return evProtected
	case s.sealed == 0 && s.clear+s.kept > 0:
		return evClear
	case s.sealed > 0:
		return evMixed
	}
	return evNone
}

// stringOf returns the string a field holds: string fields and non-nil
// *string fields; ok is false otherwise.
func stringOf(v reflect.Value) (reflect.Value, bool) {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return reflect.Value{}, false
		}
		v = v.Elem()
	}
	return v, v.Kind() == reflect.String
}

// visit calls fn for every encrypted or token field of ptr in walk order,
// with its ordinal k among them: the same field has the same k in every
// walk while no slice or map of ptr changes length.
func visit(sc *pii.Schema, ptr any, fn func(k int, f *pii.Field, path string, owner, v reflect.Value) error) error {
	k := 0
	return sc.Walk(ptr, func(f *pii.Field, path string, owner, v reflect.Value) error {
		if f.Opts.Encrypt == pii.EncryptNone && f.Opts.Token == "" {
			return nil
		}
		k++
		return fn(k-1, f, path, owner, v)
	})
}

// look walks ptr and fills a scan; with snap, it also records every
// encrypted and token field (and blind index companion) so that the
// struct can be restored.
func (g *Guard) look(c *core, sc *pii.Schema, ptr any, snap *snapshot) (*scan, error) {
	st := &scan{tok: make([]tokenVisit, 0, len(sc.Fields))}
	if snap != nil && snap.vals == nil {
		snap.vals = make([]snapVal, 0, len(sc.Fields))
	}
	err := visit(sc, ptr, func(_ int, f *pii.Field, path string, owner, v reflect.Value) error {
		if snap != nil {
			snap.take(f, owner, v)
		}
		sv, ok := stringOf(v)
		if !ok {
			if f.Opts.Encrypt != pii.EncryptNone && v.Kind() == reflect.Slice && v.Len() > 0 {
				st.bytesEnc++
			}
			return nil
		}
		val := sv.String()
		if val == "" {
			return nil
		}
		if f.Opts.Encrypt != pii.EncryptNone {
			switch {
			case sealedtext.IsSealed(val):
				st.sealed++
			case isKept(val):
				st.kept++
			default:
				st.clear++
			}
			return nil
		}
		vd, bare := g.tokenVerdict(c, f, val)
		st.tok = append(st.tok, tokenVisit{f: f, path: path, v: vd, val: val, bare: bare})
		return nil
	})
	return st, err
}

// tokenVerdict tells, from val's form alone, whether it is a token of f.
func (g *Guard) tokenVerdict(c *core, f *pii.Field, val string) (verdict, string) {
	if tokenize.Method(f.Opts.Token) == tokenize.MethodHMAC {
		if c.tok.IsPseudonym(val) {
			return vToken, val
		}
		return vClear, ""
	}
	bare := val
	annotated := false
	if looksAnnotated(val) {
		if sg := tokenize.FindSurrogates(val); len(sg) == 1 && sg[0].Start == 0 && sg[0].End == len(val) &&
			sg[0].InfoType == c.tok.FormatFor(f.Category).Name() {
			bare, annotated = sg[0].Token, true
		}
	}
	if tokenize.Method(f.Opts.Token) != tokenize.MethodStored {
		switch ft := c.tok.FormatFor(f.Category).(type) {
		case tokenize.Card:
			if !ft.LuhnValid {
				if ok, shaped := cardValid(bare); shaped {
					if ok {
						return vClear, ""
					}
					if !annotated {
						return vProbe, ""
					}
				}
			}
		case tokenize.IBAN:
			if !ft.ChecksumValid {
				if ok, shaped := ibanValid(bare); shaped {
					if ok {
						return vClear, ""
					}
					if !annotated {
						return vProbe, ""
					}
				}
			}
		}
	}
	if annotated {
		return vToken, bare
	}
	return vUnknown, ""
}

// looksAnnotated is a cheap test before FindSurrogates: an upper-case
// letter first and "):" somewhere.
func looksAnnotated(s string) bool {
	return len(s) > 4 && s[0] >= 'A' && s[0] <= 'Z' && strings.Contains(s, "):")
}

// cardValid reports whether s is shaped like a card number (12–19 digits,
// spaces and dashes allowed) and, if so, whether it passes the Luhn check.
func cardValid(s string) (valid, shaped bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			n++
		case c == ' ' || c == '-':
		default:
			return false, false
		}
	}
	if n < 12 || n > 19 {
		return false, false
	}
	return checkdigit.LuhnText(s), true
}

// ibanValid reports whether s is shaped like an IBAN and whether it passes
// mod 97.
func ibanValid(s string) (valid, shaped bool) {
	b := checkdigit.CompactIBAN(s)
	if b == nil {
		return false, false
	}
	return checkdigit.IBANValid(b), true
}

// isKept reports whether s is a kept marker around sealed text.
func isKept(s string) bool {
	_, ok := keptValue(s)
	return ok
}

// keptValue returns the sealed text inside a kept marker.
func keptValue(s string) (string, bool) {
	if !strings.HasPrefix(s, keptType+"(") {
		return "", false
	}
	sg := tokenize.FindSurrogates(s)
	if len(sg) != 1 || sg[0].Start != 0 || sg[0].End != len(s) || sg[0].InfoType != keptType || !sealedtext.IsSealed(sg[0].Token) {
		return "", false
	}
	return sg[0].Token, true
}

// keep wraps sealed text in a kept marker.
func keep(sealed string) string {
	s, err := tokenize.Annotate(keptType, sealed)
	if err != nil {
		return sealed // not reached: sealed text is short ASCII
	}
	return s
}

// resolve decides, in st.tok, the token fields whose form did not tell:
// by the evidence of the encrypted fields when it is clear-cut (all sealed:
// tokens; all clear: values), else, for cards and IBANs failing their
// check digits, by asking the tokenizer whether the value is a token of
// its field; anything still undecided is refused (ErrAmbiguous). With
// verify, a struct that looks protected has its sealed values opened
// first, so a value that merely looks sealed cannot make clear values in
// token fields pass for tokens and be stored in clear.
func (g *Guard) resolve(ctx context.Context, c *core, sc *pii.Schema, ptr any, st *scan, verify bool) error {
	ev := st.evidence()
	verified := false
	for i := range st.tok {
		t := &st.tok[i]
		if t.v != vUnknown && t.v != vProbe {
			continue
		}
		switch {
		case ev == evClear:
			t.v = vClear
			continue
		case ev == evProtected:
			if verify && !verified {
				if err := g.verifySealed(ctx, sc, ptr); err != nil {
					return err
				}
				verified = true
			}
			t.v, t.bare = vToken, t.val
			continue
		case t.v == vProbe:
			_, err := c.tok.Detokenize(ctx, tokenize.Method(t.f.Opts.Token), fieldScope(sc, ptr, t.f), c.tok.FormatFor(t.f.Category), t.val)
			switch {
			case err == nil:
				t.v, t.bare = vToken, t.val
			case errors.Is(err, tokenize.ErrNotToken):
				t.v = vClear
			default:
				return sc.FieldError(ptr, t.path, err)
			}
			continue
		}
		why := "nothing encrypted holds a value to tell by"
		if ev == evMixed {
			why = "some encrypted values are sealed and others are not (a value set on a struct read without Open?)"
		}
		return sc.FieldError(ptr, t.path, fmt.Errorf("%w: %s; build the struct anew or read it with Open", ErrAmbiguous, why))
	}
	return nil
}

// verifySealed checks that every sealed string value of ptr opens under
// its binding (a forgotten subject's values count as sealed).
func (g *Guard) verifySealed(ctx context.Context, sc *pii.Schema, ptr any) error {
	b := bindingOf(sc, ptr)
	return sc.Walk(ptr, func(f *pii.Field, path string, _, v reflect.Value) error {
		if f.Opts.Encrypt == pii.EncryptNone {
			return nil
		}
		sv, ok := stringOf(v)
		if !ok || !sealedtext.IsSealed(sv.String()) {
			return nil
		}
		b.Field = f.Path
		_, err := g.seal.DecryptString(ctx, sv.String(), b)
		if err != nil && !errors.Is(err, envelope.ErrShredded) {
			if errors.Is(err, envelope.ErrDecrypt) {
				return sc.FieldError(ptr, path, fmt.Errorf("%w: a value that looks sealed does not open under its binding", ErrAmbiguous))
			}
			return sc.FieldError(ptr, path, err)
		}
		return nil
	})
}

// bindingOf is the Binding envelope's Seal uses for the fields of ptr
// (Field left to the caller).
func bindingOf(sc *pii.Schema, ptr any) envelope.Binding {
	return envelope.Binding{Tenant: sc.TenantOf(ptr), Type: sc.Name, Record: sc.RecordOf(ptr), Subject: sc.SubjectOf(ptr)}
}

// gone reports an error that means the value may not, or can no longer,
// be shown: retention refuses it, or its subject was forgotten.
func gone(err error) bool {
	return errors.Is(err, retention.ErrExpired) || errors.Is(err, envelope.ErrShredded)
}

// snapshot holds the values of a struct's encrypted and token fields and
// blind index companions, in walk order, to restore it after a failure.
type snapshot struct{ vals []snapVal }

type snapVal struct {
	s, is string // string value, string index
	b, ib []byte // []byte value, []byte index
}

func (s *snapshot) take(f *pii.Field, owner, v reflect.Value) {
	var sv snapVal
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.String:
		sv.s = v.String()
	case reflect.Slice:
		sv.b = v.Bytes()
	}
	if f.Opts.Index && f.IndexFieldIndex != nil {
		if iv := owner.FieldByIndex(f.IndexFieldIndex); iv.Kind() == reflect.String {
			sv.is = iv.String()
		} else {
			sv.ib = iv.Bytes()
		}
	}
	s.vals = append(s.vals, sv)
}

// restore writes the recorded values back. Fields reached through maps are
// copies: restore walks again and writes inside the walk, so Walk stores
// them back.
func (s *snapshot) restore(sc *pii.Schema, ptr any) {
	_ = visit(sc, ptr, func(k int, f *pii.Field, _ string, owner, v reflect.Value) error {
		if k >= len(s.vals) {
			return nil
		}
		sv := s.vals[k]
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return nil
			}
			v = v.Elem()
		}
		switch v.Kind() {
		case reflect.String:
			v.SetString(sv.s)
		case reflect.Slice:
			v.SetBytes(sv.b)
		}
		if f.Opts.Index && f.IndexFieldIndex != nil {
			iv := owner.FieldByIndex(f.IndexFieldIndex)
			if iv.Kind() == reflect.String {
				iv.SetString(sv.is)
			} else {
				iv.SetBytes(sv.ib)
			}
		}
		return nil
	})
}

// fieldScope is the tokenize.Scope Apply and Reverse use for field f of the
// record ptr points to, for reversing one field on its own.
func fieldScope(sc *pii.Schema, ptr any, f *pii.Field) tokenize.Scope {
	tenant, field, subject := tokenscope.Of(sc, ptr, f)
	return tokenize.Scope{Tenant: tenant, Field: field, Subject: subject}
}
