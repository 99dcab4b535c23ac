// Values: struct fields to and from driver values, and the PostgreSQL
// arrays that batch inserts, updates and deletes.

package sqlmap

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"time"
)

// KeyOf returns a key column's value as text and as the driver argument
// that orders like it.
func KeyOf(v reflect.Value) (string, any) {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10), v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10), int64(v.Uint())
	}
	k := fmt.Sprint(v.Interface())
	return k, k
}

// Assign stores a scanned database value into a field. Fields of types
// that scan themselves (sql.NullString, gorm.DeletedAt: see Valuer) scan
// it.
func Assign(fv reflect.Value, src any) error {
	if fv.Kind() != reflect.Pointer && Valuer(fv.Type()) && fv.CanAddr() {
		return fv.Addr().Interface().(sql.Scanner).Scan(src)
	}
	if src == nil {
		fv.Set(reflect.Zero(fv.Type()))
		return nil
	}
	if fv.Kind() == reflect.Pointer {
		p := reflect.New(fv.Type().Elem())
		if err := Assign(p.Elem(), src); err != nil {
			return err
		}
		fv.Set(p)
		return nil
	}
	if fv.Type() == reflect.TypeFor[time.Time]() {
		switch v := src.(type) {
		case time.Time:
			fv.Set(reflect.ValueOf(v.UTC()))
			return nil
		case string:
			tm, err := ParseTime(v)
			if err != nil {
				return err
			}
			fv.Set(reflect.ValueOf(tm))
			return nil
		case []byte:
			tm, err := ParseTime(string(v))
			if err != nil {
				return err
			}
			fv.Set(reflect.ValueOf(tm))
			return nil
		}
		return fmt.Errorf("cannot read %T as a time", src)
	}
	switch fv.Kind() {
	case reflect.String:
		switch v := src.(type) {
		case string:
			fv.SetString(v)
		case []byte:
			fv.SetString(string(v))
		default:
			fv.SetString(fmt.Sprint(v))
		}
		return nil
	case reflect.Slice:
		switch v := src.(type) {
		case []byte:
			fv.SetBytes(slices.Clone(v))
		case string:
			fv.SetBytes([]byte(v))
		default:
			return fmt.Errorf("cannot read %T as bytes", src)
		}
		return nil
	case reflect.Bool:
		switch v := src.(type) {
		case bool:
			fv.SetBool(v)
		case int64:
			fv.SetBool(v != 0)
		default:
			return fmt.Errorf("cannot read %T as bool", src)
		}
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := toInt(src)
		if err != nil {
			return err
		}
		fv.SetInt(n)
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := toInt(src)
		if err != nil {
			return err
		}
		fv.SetUint(uint64(n))
		return nil
	case reflect.Float32, reflect.Float64:
		switch v := src.(type) {
		case float64:
			fv.SetFloat(v)
		case int64:
			fv.SetFloat(float64(v))
		default:
			return fmt.Errorf("cannot read %T as float", src)
		}
		return nil
	}
	return fmt.Errorf("unsupported field type %s", fv.Type())
}

func toInt(src any) (int64, error) {
	switch v := src.(type) {
	case int64:
		return v, nil
	case int32:
		return int64(v), nil
	case float64:
		return int64(v), nil
	case string:
		return strconv.ParseInt(v, 10, 64)
	case []byte:
		return strconv.ParseInt(string(v), 10, 64)
	}
	return 0, fmt.Errorf("cannot read %T as integer", src)
}

var timeLayouts = []string{
	"2006-01-02T15:04:05.000Z",
	"2006-01-02 15:04:05.999999999 -0700 MST",
	"2006-01-02 15:04:05.999999999-07:00",
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02",
}

// ParseTime reads the text forms of times drivers return (SQLite keeps
// times as text).
func ParseTime(s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errors.New("unrecognised time format")
}

// Value converts a field to a driver argument. Zero values are written as
// NULL: null and shred mean NULL in SQL.
func Value(fv reflect.Value) any {
	if fv.Kind() == reflect.Pointer {
		if fv.IsNil() {
			return nil
		}
		fv = fv.Elem()
	}
	if fv.IsZero() {
		return nil
	}
	if Valuer(fv.Type()) {
		if v, err := fv.Interface().(driver.Valuer).Value(); err == nil {
			return v
		}
		return fv.Interface() // database/sql calls Value again and reports its error
	}
	if tm, ok := fv.Interface().(time.Time); ok {
		return tm.UTC()
	}
	switch fv.Kind() {
	case reflect.String:
		return fv.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return fv.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return int64(fv.Uint())
	}
	return fv.Interface()
}

// PgArray turns driver values of one column into a typed slice of
// pointers (nil for NULL), which the PostgreSQL driver sends as an array.
func PgArray(t reflect.Type, vals []any) (any, error) {
	switch PgType(t) {
	case "text":
		return pgSlice[string](vals)
	case "bigint":
		return pgSlice[int64](vals)
	case "timestamptz":
		return pgSlice[time.Time](vals)
	case "boolean":
		return pgSlice[bool](vals)
	case "double precision":
		out := make([]*float64, len(vals))
		for i, v := range vals {
			switch x := v.(type) {
			case nil:
			case float64:
				out[i] = &x
			case float32:
				f := float64(x)
				out[i] = &f
			default:
				return nil, fmt.Errorf("cannot send %T as double precision", v)
			}
		}
		return out, nil
	case "bytea":
		out := make([][]byte, len(vals))
		for i, v := range vals {
			if v != nil {
				b, ok := v.([]byte)
				if !ok {
					return nil, fmt.Errorf("cannot send %T as bytea", v)
				}
				out[i] = b
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("no array type for %s", t)
}

func pgSlice[T any](vals []any) ([]*T, error) {
	out := make([]*T, len(vals))
	for i, v := range vals {
		if v == nil {
			continue
		}
		x, ok := v.(T)
		if !ok {
			var zero T
			return nil, fmt.Errorf("cannot send %T as %T", v, zero)
		}
		out[i] = &x
	}
	return out, nil
}

// PgType is the PostgreSQL type a field's values are sent as.
func PgType(t reflect.Type) string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if Valuer(t) {
		// sql.Null[T], sql.NullString and their kind: {V T; Valid bool}.
		if t.Kind() == reflect.Struct && t.NumField() == 2 {
			for i := range 2 {
				if f := t.Field(i); f.Name == "Valid" && f.Type.Kind() == reflect.Bool {
					return PgType(t.Field(1 - i).Type)
				}
			}
		}
		return "text"
	}
	if t == reflect.TypeFor[time.Time]() {
		return "timestamptz"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "bigint"
	case reflect.Float32, reflect.Float64:
		return "double precision"
	case reflect.Slice:
		return "bytea"
	}
	return "text"
}

var (
	valuerType  = reflect.TypeFor[driver.Valuer]()
	scannerType = reflect.TypeFor[sql.Scanner]()
)

// Valuer reports whether t maps to one column through its own Value and
// Scan methods (sql.NullString, sql.Null[T], gorm.DeletedAt) rather than
// as a struct of columns.
func Valuer(t reflect.Type) bool {
	return t.Kind() != reflect.Pointer && t.Implements(valuerType) && reflect.PointerTo(t).Implements(scannerType)
}

// keyArg converts text back to a value of type t, as KeyOf produced it.
func keyArg(t reflect.Type, key string) any {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n, err := strconv.ParseInt(key, 10, 64); err == nil {
			return n
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n, err := strconv.ParseUint(key, 10, 64); err == nil {
			return int64(n)
		}
	}
	return key
}
