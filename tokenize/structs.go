package tokenize

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/tokenscope"
	"github.com/fieldguard/pii/tokenize/internal/alphabet"
)

// Permit decides whether the caller may reverse the token in field f at
// the concrete path (for example "Contacts[2].Phone"). Return nil to
// allow; any error refuses, and Reverse returns it wrapped in
// ErrPermission.
type Permit func(ctx context.Context, f *pii.Field, path string) error

// FormatFor returns the format Apply and Reverse use for a pii category:
// Options.Formats[category] when set; otherwise, by the category (or the
// last dotted segment of it, so "user.contact.email" is "email"): card →
// Card{}, phone → Phone{} (E.164 input only unless a Formats entry sets
// DefaultRegion), national_id → SSN{}, iban → IBAN{}, email → Email{}, and
// anything else a template ([NewTemplate]) tokenizing letters and digits
// and keeping the other characters.
func (t *Tokenizer) FormatFor(category string) TokenFormat {
	if f, ok := t.opts.Formats[category]; ok {
		return f
	}
	base := category
	if i := strings.LastIndexByte(base, '.'); i >= 0 {
		base = base[i+1:]
	}
	if f, ok := t.opts.Formats[base]; ok {
		return f
	}
	switch base {
	case "card":
		return Card{}
	case "phone":
		return Phone{}
	case "national_id":
		return SSN{}
	case "iban":
		return IBAN{}
	case "email":
		return Email{}
	}
	tmpl, err := NewTemplate(infoTypeOf(category), alphabet.Alnum, "")
	if err != nil {
		tmpl, _ = NewTemplate("GENERIC", alphabet.Alnum, "")
	}
	return tmpl
}

func infoTypeOf(category string) string {
	b := []byte(strings.ToUpper(category))
	for i, c := range b {
		if !isTypeChar(c) {
			b[i] = '_'
		}
	}
	if len(b) == 0 || !isTypeStart(b[0]) {
		b = append([]byte("PII_"), b...)
	}
	return string(b[:min(len(b), 64)])
}

func stringField(v reflect.Value) (reflect.Value, bool) {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return reflect.Value{}, false
		}
		v = v.Elem()
	}
	return v, v.Kind() == reflect.String
}

// scopeOf returns the Scope Apply and Reverse use for field f of the record
// ptr points to: the record's tenant and subject, and "<type name>.<schema
// path>" as the field (see internal/tokenscope).
func scopeOf(s *pii.Schema, ptr any, f *pii.Field) Scope {
	tenant, field, subject := tokenscope.Of(s, ptr, f)
	return Scope{Tenant: tenant, Field: field, Subject: subject}
}

// Apply tokenizes, in place, every field of the struct ptr points to that
// is tagged with token=, with the method of the tag and the format of its
// category (FormatFor), in the Scope of the record's tenant and subject and
// the field "<type name>.<schema path>" ("Customer.Contacts[].Phone": every
// element of a slice shares one tweak, and tokens join across records).
// Empty strings stay empty. Every token is computed
// before any field is written, so on error the struct is unchanged (stored
// tokens drawn before the error stay in the store until they expire, unless
// ctx carries the caller's transaction from pii.WithExecutor and it rolls
// back).
// Apply is not idempotent: applying it twice tokenizes the tokens.
func (t *Tokenizer) Apply(ctx context.Context, ptr any) error {
	return t.rewrite(ptr, func(s *pii.Schema, f *pii.Field, path, val string) (string, error) {
		if f.Opts.Token == "" {
			return val, nil
		}
		return t.Tokenize(ctx, Method(f.Opts.Token), scopeOf(s, ptr, f), t.FormatFor(f.Category), val)
	})
}

// Reverse restores, in place, the token= fields of the struct ptr points
// to that permit allows, field by field. permit is asked first for every
// reversible field that holds a value; the fields it refuses (all of them when permit
// is nil) keep their tokens, every other one is restored, and Reverse
// returns a *RefusedError naming the refused fields (it matches
// ErrPermission and the permit's own errors). Fields tagged token=hmac are
// pseudonyms and are left as they are. Every allowed value is recovered
// before any field is written, so on any other error the struct is
// unchanged. A value that is not a token of its field fails with
// ErrNotToken where the format can tell (see Card, IBAN), and a stored
// token of another tenant, subject or field with ErrNotFound.
//
// Errors of Apply and Reverse for a field are a *pii.FieldError naming the
// type, the field path and the record, never the value or the token.
func (t *Tokenizer) Reverse(ctx context.Context, ptr any, permit Permit) error {
	s, err := pii.SchemaOf(ptr)
	if err != nil {
		return err
	}
	reversible := func(f *pii.Field) bool {
		return f.Opts.Token != "" && Method(f.Opts.Token) != MethodHMAC
	}
	var refused *RefusedError
	deny := map[string]bool{}
	err = s.Walk(ptr, func(f *pii.Field, path string, _, v reflect.Value) error {
		if sv, ok := stringField(v); !reversible(f) || !ok || sv.String() == "" {
			return nil
		}
		var why error
		if permit == nil {
			why = fmt.Errorf("%w: no permission check supplied", ErrPermission)
		} else if err := permit(ctx, f, path); err != nil {
			why = fmt.Errorf("%w: %w", ErrPermission, err)
		}
		if why == nil {
			return nil
		}
		if refused == nil {
			refused = &RefusedError{}
		}
		refused.Fields = append(refused.Fields, s.FieldError(ptr, path, why))
		deny[path] = true
		return nil
	})
	if err != nil {
		return err
	}
	err = t.rewrite(ptr, func(s *pii.Schema, f *pii.Field, path, val string) (string, error) {
		if !reversible(f) || deny[path] {
			return val, nil
		}
		return t.Detokenize(ctx, Method(f.Opts.Token), scopeOf(s, ptr, f), t.FormatFor(f.Category), val)
	})
	if err != nil {
		return err
	}
	if refused != nil {
		return refused
	}
	return nil
}

// RefusedError is what Reverse returns when its Permit refused some fields:
// those fields still hold their tokens, and every other reversible field
// was restored. errors.Is(err, ErrPermission) holds, and so does errors.Is
// for each error the Permit returned.
type RefusedError struct {
	// Fields has one error per refused field, in walk order, naming the
	// type, the concrete field path and the record, and wrapping
	// ErrPermission and the Permit's reason.
	Fields []*pii.FieldError
}

// Error names the first refused field and counts the others.
func (e *RefusedError) Error() string {
	if len(e.Fields) == 1 {
		return e.Fields[0].Error()
	}
	return fmt.Sprintf("%s (and %d more fields)", e.Fields[0].Error(), len(e.Fields)-1)
}

// Unwrap returns the per-field errors.
func (e *RefusedError) Unwrap() []error {
	out := make([]error, len(e.Fields))
	for i, f := range e.Fields {
		out[i] = f
	}
	return out
}

// fieldError names the field and the record around err.
func fieldError(s *pii.Schema, ptr any, path string, err error) error {
	return s.FieldError(ptr, path, err)
}

// rewrite computes a new value for every non-empty string field, then,
// only if all succeeded, writes them. The walk order is deterministic
// (map keys are sorted), and paths are unique, so the second walk finds
// each value by its path.
func (t *Tokenizer) rewrite(ptr any, fn func(s *pii.Schema, f *pii.Field, path, val string) (string, error)) error {
	s, err := pii.SchemaOf(ptr)
	if err != nil {
		return err
	}
	next := map[string]string{}
	err = s.Walk(ptr, func(f *pii.Field, path string, _, v reflect.Value) error {
		sv, ok := stringField(v)
		if !ok || sv.String() == "" {
			return nil
		}
		nv, err := fn(s, f, path, sv.String())
		if err != nil {
			return fieldError(s, ptr, path, err)
		}
		if nv != sv.String() {
			next[path] = nv
		}
		return nil
	})
	if err != nil || len(next) == 0 {
		return err
	}
	return s.Walk(ptr, func(f *pii.Field, path string, _, v reflect.Value) error {
		if nv, ok := next[path]; ok {
			sv, _ := stringField(v)
			sv.SetString(nv)
		}
		return nil
	})
}
