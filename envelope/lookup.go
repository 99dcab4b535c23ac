package envelope

import (
	"context"
	"encoding/base64"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/fieldguard/pii"
)

// Lookups: what the norm=, prefix= and with= options do to blind indexes
// and deterministic ciphertexts, on write (Seal) and on lookup alike.

// indexDesc describes how a field's blind index is computed, in a
// canonical form bound into the index key ("" for a plain index, which
// keeps its v1 key): adding, removing or changing norm=, prefix= or with=
// gives the index a new key, so an index written one way is never taken
// for one written another way (see the package doc on re-indexing).
func indexDesc(o pii.TagOptions) string {
	var parts []string
	if o.Norm != 0 {
		parts = append(parts, "norm="+o.Norm.String())
	}
	if o.Prefix > 0 {
		parts = append(parts, "prefix="+strconv.Itoa(o.Prefix))
	}
	if o.With != "" {
		parts = append(parts, "with="+o.With)
	}
	return strings.Join(parts, ",")
}

// indexInput returns the bytes the blind index of f covers: the value as
// it is for a plain index; else its IndexForm (normalised, cut to the
// prefix), and for a compound index (with=) both values' forms, each
// length-prefixed, so ("ab", "c") and ("a", "bc") differ.
func indexInput(o pii.TagOptions, value []byte, with string) []byte {
	if indexDesc(o) == "" {
		return value
	}
	form := o.IndexForm(string(value))
	if o.With == "" {
		return []byte(form)
	}
	return appendLP(appendLP(nil, form), o.IndexForm(with))
}

// sealIndex returns the blind index Seal writes for the field f whose
// plaintext is pt, in the struct owner. A compound index reads its second
// field from owner, opening it first when it is sealed already (the walk
// may have sealed it before reaching f).
func (s *Sealer) sealIndex(ctx context.Context, f *pii.Field, b *Binding, owner reflect.Value, pt []byte) ([]byte, error) {
	var with string
	if f.WithIndex != nil {
		wv := owner.FieldByIndex(f.WithIndex)
		with = wv.String()
		wb := *b
		wb.Field = strings.TrimSuffix(f.Path, f.Name) + f.Opts.With
		_, wpt, err := s.trialOpen(ctx, wv, &wb)
		if err != nil {
			return nil, err
		}
		if wpt != nil {
			with = string(wpt)
			clear(wpt)
		}
	}
	return s.blindIndex(ctx, b.Tenant, b.Type, b.Field, indexDesc(f.Opts), indexInput(f.Opts, pt, with))
}

// detInput returns what Seal encrypts deterministically for the field f:
// its value normalised (norm=). The value stored is then the normalised
// one: Open returns it, not what was typed.
func detInput(f *pii.Field, pt []byte) []byte {
	if f.Opts.Norm == 0 {
		return pt
	}
	return []byte(f.Opts.Norm.Apply(string(pt)))
}

// BlindIndexes returns what a query compares the index companion of field
// with to find values: the blind index of value, computed as Seal computes
// it (normalised, cut to the prefix). For a compound index (with=), pass
// the field's value and then the with= field's value.
func (s *Sealer) BlindIndexes(ctx context.Context, tenant string, typ any, field string, values ...string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sc, f, err := lookupField("BlindIndexes", typ, field)
	if err != nil {
		return nil, err
	}
	in, err := lookupInput("BlindIndexes", sc, f, values)
	if err != nil {
		return nil, err
	}
	sum, err := s.blindIndex(ctx, tenant, sc.Name, f.Path, indexDesc(f.Opts), in)
	if err != nil {
		return nil, err
	}
	return []string{base64.RawURLEncoding.EncodeToString(sum)}, nil
}

// lookupInput checks a lookup's values against f and returns what its
// index covers.
func lookupInput(op string, sc *pii.Schema, f *pii.Field, values []string) ([]byte, error) {
	if !f.Opts.Index {
		return nil, fmt.Errorf("envelope: %s: %s.%s has no index option", op, sc.Name, f.Path)
	}
	want := 1
	if f.Opts.With != "" {
		want = 2
	}
	if len(values) != want {
		if want == 2 {
			return nil, fmt.Errorf("envelope: %s: %s.%s is a compound index with %s: pass both values", op, sc.Name, f.Path, f.Opts.With)
		}
		return nil, fmt.Errorf("envelope: %s: %s.%s takes one value", op, sc.Name, f.Path)
	}
	with := ""
	if want == 2 {
		with = values[1]
	}
	return indexInput(f.Opts, []byte(values[0]), with), nil
}
