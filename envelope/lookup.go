package envelope

import (
	"context"
	"encoding/base64"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope/internal/format"
	"github.com/fieldguard/pii/internal/indexform"
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
// it is for a plain index; else its indexform.Of (normalised, cut to the
// prefix), and for a compound index (with=) both values' forms, each
// length-prefixed, so ("ab", "c") and ("a", "bc") differ.
func indexInput(o pii.TagOptions, value []byte, with string) []byte {
	if indexDesc(o) == "" {
		return value
	}
	form := indexform.Of(o, string(value))
	if o.With == "" {
		return []byte(form)
	}
	return appendLP(appendLP(nil, form), indexform.Of(o, with))
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
// with to find value: its blind index, computed as Seal computes it
// (normalised, cut to the prefix), under every search key version lookups
// use, newest first. Outside a search key rotation that is one index;
// during one, a row may hold either, so match any (WHERE idx IN (...)):
// that is what keeps a rotation from missing rows. For a compound index
// (with=), pass the field's value and then the with= field's value.
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
	sv, err := s.searchVersions(ctx, tenant)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(sv.active))
	for _, v := range sv.active {
		sum, err := s.blindIndexAt(ctx, tenant, v, sc.Name, f.Path, indexDesc(f.Opts), in)
		if err != nil {
			return nil, err
		}
		out = append(out, base64.RawURLEncoding.EncodeToString(sum))
	}
	return out, nil
}

// DeterministicLookups returns what a query compares the encrypt=det
// string field with to find value: its deterministic text form under
// every search key version lookups use, newest first (one outside a
// rotation; match any). See BlindIndexes.
func (s *Sealer) DeterministicLookups(ctx context.Context, tenant string, typ any, field, value string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sc, f, err := detField("DeterministicLookups", typ, field)
	if err != nil {
		return nil, err
	}
	sv, err := s.searchVersions(ctx, tenant)
	if err != nil {
		return nil, err
	}
	b := Binding{Tenant: tenant, Type: sc.Name, Field: f.Path}
	pt := []byte(f.Opts.Norm.Apply(value))
	defer clear(pt)
	out := make([]string, 0, len(sv.active))
	for _, v := range sv.active {
		bin, err := s.sealDetAt(ctx, v, pt, &b)
		if err != nil {
			return nil, err
		}
		out = append(out, textOf(bin))
	}
	return out, nil
}

// detStale reports whether Seal must seal again the deterministic value v
// of f, which opens to pt: when it is under a search key version other
// than the one writes use (a rotation moves it), or not in the normal form
// its norm= gives (norm= was added after it was sealed).
func (s *Sealer) detStale(ctx context.Context, f *pii.Field, b *Binding, v reflect.Value, pt []byte) (bool, error) {
	if f.Opts.Encrypt != pii.EncryptDet {
		return false, nil
	}
	if f.Opts.Norm != 0 && f.Opts.Norm.Apply(string(pt)) != string(pt) {
		return true, nil
	}
	var c format.Ciphertext
	var err error
	if isBytes(v) {
		c, err = format.Parse(v.Bytes())
	} else {
		c, err = format.ParseText(v.String())
	}
	if err != nil {
		return true, nil
	}
	sv, err := s.searchVersions(ctx, b.Tenant)
	if err != nil {
		return false, err
	}
	fk, err := s.fieldKeys(ctx, b.Tenant, sv.write, b.Type, b.Field, "", false)
	if err != nil {
		return false, err
	}
	return !commitEqual(fk.commit[:], c.Commitment), nil
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
