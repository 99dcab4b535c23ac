package guard

import (
	"crypto/hmac"
	"reflect"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/indexform"
)

// searchForm returns the form of value an equality search of f compares,
// as Lookup computes it: normalised (norm=) and cut to the prefix
// (prefix=N) for a field searched by its blind index companion,
// normalised for an encrypt=det field.
func searchForm(f *pii.Field, value string) string {
	if f.Opts.Index && f.Opts.IndexField != "" {
		return indexform.Of(f.Opts, value)
	}
	return f.Opts.Norm.Apply(value)
}

// matchesSearch reports whether the opened field fv holds a value a search
// of f for value should find: equal once both are in search form. It
// drops the false positives of short blind indexes without dropping what
// a normaliser or a prefix index means to find.
func matchesSearch(f *pii.Field, fv reflect.Value, value string) bool {
	if fv.Kind() == reflect.Pointer {
		if fv.IsNil() {
			return false
		}
		fv = fv.Elem()
	}
	if fv.Kind() != reflect.String {
		return sameValue(fv, value)
	}
	return hmac.Equal([]byte(searchForm(f, fv.String())), []byte(searchForm(f, value)))
}
