package mask

import (
	"encoding"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fieldguard/pii"
)

// Redacted wraps v for logs: the value it returns prints redacted under
// every fmt verb (it is a fmt.Formatter, GoStringer and Stringer), through
// log/slog (it is a slog.LogValuer) and through encoding/json (and
// encoding.TextMarshaler). It is the one way this package redacts
// values for logs; a tagged type can be its own slog.LogValuer with it:
//
//	func (c Customer) LogValue() slog.Value { return mask.Redacted(c).LogValue() }
//
// A tagged struct (or a pointer, slice, array or map of them) shows its
// type name and its id, subject and tenant fields, and its personal-data
// fields as their log= option says: omit (the default) leaves them out,
// mask shows them through their masking style, hmac shows a keyed
// pseudonym. Redacted uses the built-in styles without an HMAC key, so
// log=hmac fields are left out; [Masker.Redacted] uses a Masker's styles
// and key. Untagged fields and fields tagged "-" are left out, since a log
// line is no place to decide whether they are personal. Anything else
// prints "[REDACTED]".
func Redacted(v any) slog.LogValuer { return defaultMasker.Redacted(v) }

// Redacted is [Redacted] with m's styles and HMAC key: log=hmac fields show
// "hmac:<key id>:…" pseudonyms, the same a view's hmac style shows.
func (m *Masker) Redacted(v any) slog.LogValuer { return value{p: &redacted{v: v, r: redactor{m}}} }

// redactor renders values for logs with a Masker's styles and key.
type redactor struct{ masker *Masker }

// value is a value wrapped for logs by [Redacted]. The wrapped value sits
// behind a pointer to an unexported struct, so no verb reaches it by
// reflection.
type value struct{ p *redacted }

type redacted struct {
	v any
	r redactor
}

const redactedText = "[REDACTED]"

var (
	_ fmt.Formatter          = value{}
	_ fmt.GoStringer         = value{}
	_ fmt.Stringer           = value{}
	_ slog.LogValuer         = value{}
	_ json.Marshaler         = value{}
	_ encoding.TextMarshaler = value{}
)

// String returns the redacted rendering.
func (v value) String() string {
	if v.p == nil {
		return redactedText
	}
	return v.p.r.render(reflect.ValueOf(v.p.v), 0)
}

// GoString returns the redacted rendering for %#v.
func (v value) GoString() string { return "mask.Redacted(" + strconv.Quote(v.String()) + ")" }

// Format writes the redacted rendering whatever the verb and flags.
func (v value) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'q':
		io.WriteString(f, strconv.Quote(v.String()))
	case verb == 'v' && f.Flag('#'):
		io.WriteString(f, v.GoString())
	default:
		io.WriteString(f, v.String())
	}
}

// LogValue returns the redacted value for slog: a group of the visible
// fields for a tagged struct, a string otherwise.
func (v value) LogValue() slog.Value {
	if v.p == nil {
		return slog.StringValue(redactedText)
	}
	return toSlog(v.p.r.tree(reflect.ValueOf(v.p.v), 0))
}

// MarshalJSON encodes the redacted value.
func (v value) MarshalJSON() ([]byte, error) {
	if v.p == nil {
		return json.Marshal(redactedText)
	}
	return json.Marshal(v.p.r.tree(reflect.ValueOf(v.p.v), 0))
}

// MarshalText returns the redacted rendering (for map keys and text
// encoders).
func (v value) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

func toSlog(x any) slog.Value {
	switch t := x.(type) {
	case *orderedMap:
		attrs := make([]slog.Attr, 0, len(t.keys))
		for i, k := range t.keys {
			attrs = append(attrs, slog.Attr{Key: k, Value: toSlog(t.vals[i])})
		}
		return slog.GroupValue(attrs...)
	case []any:
		parts := make([]string, len(t))
		for i, e := range t {
			parts[i] = toSlog(e).String()
		}
		return slog.StringValue("[" + strings.Join(parts, " ") + "]")
	case string:
		return slog.StringValue(t)
	}
	return slog.StringValue(redactedText)
}

// orderedMap keeps field order for JSON and slog.
type orderedMap struct {
	keys []string
	vals []any
}

func (m *orderedMap) add(k string, v any) {
	m.keys = append(m.keys, k)
	m.vals = append(m.vals, v)
}

func (m *orderedMap) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range m.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(m.vals[i])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

const maxDepth = 8

// tree builds the redacted form: *orderedMap for tagged structs, []any for
// containers of them, strings otherwise.
func (r redactor) tree(v reflect.Value, depth int) any {
	for v.IsValid() && (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) {
		if v.IsNil() {
			return "<nil>"
		}
		v = v.Elem()
	}
	if !v.IsValid() || depth > maxDepth {
		return redactedText
	}
	switch v.Kind() {
	case reflect.Struct:
		s, err := pii.SchemaOf(v.Type())
		if err != nil || v.Type() == timeType {
			return redactedText
		}
		return r.structTree(s, v)
	case reflect.Slice, reflect.Array:
		if !holdsStructs(v.Type().Elem()) {
			return redactedText
		}
		out := make([]any, 0, v.Len())
		for i := 0; i < v.Len() && i < 100; i++ {
			out = append(out, r.tree(v.Index(i), depth+1))
		}
		return out
	case reflect.Map:
		if !holdsStructs(v.Type().Elem()) {
			return redactedText
		}
		// Map keys may be personal (an e-mail address as key): show only
		// the values, in a stable order of their redacted form.
		out := make([]any, 0, v.Len())
		it := v.MapRange()
		for it.Next() {
			out = append(out, r.tree(it.Value(), depth+1))
		}
		sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i]) < fmt.Sprint(out[j]) })
		return out
	}
	return redactedText
}

func holdsStructs(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct && t != timeType
}

func (r redactor) structTree(s *pii.Schema, v reflect.Value) any {
	m := &orderedMap{}
	m.add("type", s.Name)
	// Walk needs a pointer it may use: work on a deep copy.
	cp := reflect.New(v.Type())
	cp.Elem().Set(deepCopy(v))
	for _, f := range []*pii.Field{s.ID, s.Subject, s.Tenant} {
		if f != nil {
			m.add(f.Name, clearString(cp.Elem().FieldByIndex(f.Index)))
		}
	}
	_ = s.Walk(cp.Interface(), func(f *pii.Field, path string, _, fv reflect.Value) error {
		if fv.Kind() == reflect.Pointer {
			if fv.IsNil() {
				return nil
			}
			fv = fv.Elem()
		}
		switch f.Opts.Log {
		case "mask":
			style := tagStyle(f.Category, f.Opts)
			if name, _ := style.split(); Style(name) == styleDate && fv.Type() == timeType {
				m.add(path, maskDateOf(fv.Interface().(time.Time)))
				return nil
			}
			out, err := r.masker.Mask(style, clearString(fv))
			if err != nil {
				out = Placeholder
			}
			m.add(path, out)
		case "hmac":
			if len(r.masker.key) > 0 {
				m.add(path, r.masker.hmac(clearString(fv), f.Category))
			}
		}
		return nil
	})
	return m
}

// render prints the tree in a compact, fmt-like form.
func (r redactor) render(v reflect.Value, depth int) string {
	var b strings.Builder
	writeTree(&b, r.tree(v, depth))
	return b.String()
}

func writeTree(b *strings.Builder, x any) {
	switch t := x.(type) {
	case *orderedMap:
		b.WriteByte('{')
		for i, k := range t.keys {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(k)
			b.WriteByte(':')
			writeTree(b, t.vals[i])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteByte(' ')
			}
			writeTree(b, e)
		}
		b.WriteByte(']')
	case string:
		b.WriteString(t)
	default:
		b.WriteString(redactedText)
	}
}
