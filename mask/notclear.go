package mask

import (
	"reflect"
	"strings"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/checkdigit"
	"github.com/fieldguard/pii/internal/sealedtext"
)

// notClear returns a *pii.FieldError when the value of field f at path is not
// a clear value a view may show: an envelope ciphertext, or a token its
// format marks as one (see tokenize.Card and tokenize.IBAN; formats whose
// tokens look like values cannot be told apart).
func notClear(s *pii.Schema, ptr any, f *pii.Field, path string, fv reflect.Value) error {
	if fv.Kind() == reflect.Pointer {
		if fv.IsNil() {
			return nil
		}
		fv = fv.Elem()
	}
	var cause error
	switch {
	case fv.Kind() == reflect.String:
		cause = notClearString(f, fv.String())
	case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Uint8:
		cause = notClearString(f, string(fv.Bytes()))
	case (fv.Kind() == reflect.Slice || fv.Kind() == reflect.Array) && fv.Type().Elem().Kind() == reflect.String:
		for i := 0; i < fv.Len() && cause == nil; i++ {
			cause = notClearString(f, fv.Index(i).String())
		}
	}
	if cause == nil {
		return nil
	}
	return s.FieldError(ptr, path, cause)
}

func notClearString(f *pii.Field, v string) error {
	switch {
	case v == "":
		return nil
	case sealedtext.IsSealed(v):
		return errSealed
	case looksTokenized(f, v):
		return errTokenized
	}
	return nil
}

// looksTokenized reports whether v, the value of a reversible token= field,
// is marked as a token by its category's default format: card tokens fail
// the Luhn check and IBAN tokens the mod-97 check, which real values pass.
// Pseudonyms (token=hmac, "<key id>:<base64>") never have the shape of a
// card number or IBAN, so they are shown like values.
func looksTokenized(f *pii.Field, v string) bool {
	if f.Opts.Token == "" {
		return false
	}
	category := f.Category
	if i := strings.LastIndexByte(category, '.'); i >= 0 {
		category = category[i+1:]
	}
	switch category {
	case "card":
		return maskCard(v, 0) != Placeholder && !checkdigit.LuhnText(v)
	case "iban":
		c := compactIBAN(v)
		return c != "" && !checkdigit.IBANValid([]byte(c))
	}
	return false
}
