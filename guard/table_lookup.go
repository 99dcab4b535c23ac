// Lookups of sealed values: blind indexes and deterministic ciphertexts.

package guard

import (
	"context"
	"encoding/base64"
	"fmt"
	"reflect"
	"strings"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
)

// Lookup is what an equality search compares to find the records whose
// searchable field holds a value: the column of Field must hold one of
// Values.
type Lookup struct {
	// Field is the Go field path ("EmailIndex", "Contact.EmailIndex") of
	// the column to compare: the blind index companion of a field tagged
	// index=<companion>, or the encrypt=det field itself.
	Field string
	// Values are the blind indexes (strings, or []byte for a []byte
	// companion) or deterministic ciphertexts of the value, one per live
	// search key version, newest first. Outside a search key rotation
	// there is one; during one a row holds any of them: match any
	// (WHERE col IN (...)), or rows are missed.
	Values []any
}

// Lookup returns what to compare to find the records of tenant whose field
// (a schema path such as "Email") of the type typ (a value, pointer or
// reflect.Type, as pii.SchemaOf takes) holds value, for queries of your
// own (sqlc, pgx, GORM):
//
//	l, err := g.Lookup(ctx, "acme", Customer{}, "Email", addr)
//	rows, err := db.QueryContext(ctx, "SELECT ... FROM customers WHERE tenant = $1 AND email_index = ANY($2)", "acme", l.Values)
//
// Filter by the tenant too: indexes of equal values differ across tenants,
// but only the tenant column says whose row it is. A short blind index
// (envelope's Options.IndexBytes) matches other values now and then:
// compare the opened value. Table.FindBy does both.
func (g *Guard) Lookup(ctx context.Context, tenant string, typ any, field, value string) (Lookup, error) {
	return lookup(ctx, g.sealer(), tenant, typ, field, value)
}

func lookup(ctx context.Context, s *envelope.Sealer, tenant string, typ any, field, value string) (Lookup, error) {
	sc, err := pii.SchemaOf(typ)
	if err != nil {
		return Lookup{}, err
	}
	f := sc.Field(field)
	if f == nil {
		return Lookup{}, fmt.Errorf("guard: Lookup: %s has no tagged field %q", sc.Name, field)
	}
	if value == "" {
		return Lookup{}, fmt.Errorf("guard: Lookup %s.%s: empty value (empty values are stored empty, not indexed)", sc.Name, f.Path)
	}
	switch {
	case f.Opts.Index && f.Opts.IndexField != "":
		path := f.Opts.IndexField
		if i := strings.LastIndexByte(f.Path, '.'); i >= 0 {
			path = f.Path[:i+1] + path
		}
		idx, err := s.BlindIndexes(ctx, tenant, typ, f.Path, value)
		if err != nil {
			return Lookup{}, err
		}
		l := Lookup{Field: path}
		asBytes := companionBytes(sc.Type, path)
		for _, ix := range idx {
			if !asBytes {
				l.Values = append(l.Values, ix)
				continue
			}
			b, err := base64.RawURLEncoding.DecodeString(ix)
			if err != nil {
				return Lookup{}, fmt.Errorf("guard: Lookup %s.%s: %w", sc.Name, f.Path, err)
			}
			l.Values = append(l.Values, b)
		}
		return l, nil
	case f.Opts.Encrypt == pii.EncryptDet:
		dets, err := s.DeterministicLookups(ctx, tenant, typ, f.Path, value)
		if err != nil {
			return Lookup{}, err
		}
		l := Lookup{Field: f.Path}
		for _, d := range dets {
			l.Values = append(l.Values, d)
		}
		return l, nil
	case f.Opts.Index:
		return Lookup{}, fmt.Errorf("guard: Lookup %s.%s: its blind index is not stored; name a companion field (index=%sIndex)", sc.Name, f.Path, f.Name)
	}
	return Lookup{}, fmt.Errorf("guard: Lookup %s.%s: not searchable (tag it encrypt,index=<field> or encrypt=det; compare columns stored in clear directly)", sc.Name, f.Path)
}

// companionBytes reports whether the field at the dotted Go path within
// the struct type t is a []byte.
func companionBytes(t reflect.Type, path string) bool {
	for _, name := range strings.Split(path, ".") {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		sf, ok := t.FieldByName(name)
		if !ok {
			return false
		}
		t = sf.Type
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Slice
}
