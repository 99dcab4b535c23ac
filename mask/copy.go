package mask

import (
	"reflect"
	"sync"

	"github.com/fieldguard/pii"
)

// deepCopy copies v, duplicating what pointers, slices and maps reach
// through exported fields, so that masking the copy cannot touch the
// original. Shared and cyclic pointers stay shared and cyclic in the copy.
func deepCopy(v reflect.Value) reflect.Value {
	var c copier
	return c.copy(v)
}

type copier struct {
	seen map[seenKey]reflect.Value // allocated on the first pointer
}

type seenKey struct {
	p uintptr
	t reflect.Type
}

func (c *copier) copy(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		k := seenKey{v.Pointer(), v.Type()}
		if c.seen == nil {
			c.seen = map[seenKey]reflect.Value{}
		} else if done, ok := c.seen[k]; ok {
			return done
		}
		np := reflect.New(v.Type().Elem())
		c.seen[k] = np
		np.Elem().Set(c.copy(v.Elem()))
		return np
	case reflect.Struct:
		if v.Type() == timeType {
			return v
		}
		nv := reflect.New(v.Type()).Elem()
		nv.Set(v)
		for i := 0; i < v.NumField(); i++ {
			sf := v.Type().Field(i)
			if !sf.IsExported() {
				continue
			}
			fv := v.Field(i)
			if scalar(sf.Type) {
				continue
			}
			if tag := sf.Tag.Get("pii"); !sf.Anonymous && (tag == "" || tag == "-") {
				// Not walked by the schema: if it can hold tagged
				// personal data, the policy cannot mask it, so it is
				// left out of the copy.
				if reachesTagged(sf.Type) || (sf.Type.Kind() == reflect.Interface && !fv.IsNil() && reachesTagged(fv.Elem().Type())) {
					nv.Field(i).SetZero()
					continue
				}
			}
			nv.Field(i).Set(c.copy(fv))
		}
		return nv
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		ns := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(ns, v)
		if !scalar(v.Type().Elem()) {
			for i := 0; i < v.Len(); i++ {
				ns.Index(i).Set(c.copy(v.Index(i)))
			}
		}
		return ns
	case reflect.Array:
		na := reflect.New(v.Type()).Elem()
		na.Set(v)
		if !scalar(v.Type().Elem()) {
			for i := 0; i < v.Len(); i++ {
				na.Index(i).Set(c.copy(v.Index(i)))
			}
		}
		return na
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		nm := reflect.MakeMapWithSize(v.Type(), v.Len())
		it := v.MapRange()
		for it.Next() {
			nm.SetMapIndex(it.Key(), c.copy(it.Value()))
		}
		return nm
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		if reachesTagged(v.Elem().Type()) {
			return reflect.Zero(v.Type())
		}
		nv := reflect.New(v.Type()).Elem()
		nv.Set(c.copy(v.Elem()))
		return nv
	}
	return v
}

var reachCache sync.Map // reflect.Type -> bool

// reachesTagged reports whether values of t can hold a struct with tagged
// personal-data fields (through pointers, slices, arrays, maps and struct
// fields).
func reachesTagged(t reflect.Type) bool {
	if r, ok := reachCache.Load(t); ok {
		return r.(bool)
	}
	r := reaches(t, map[reflect.Type]bool{})
	reachCache.Store(t, r)
	return r
}

func reaches(t reflect.Type, visiting map[reflect.Type]bool) bool {
	for {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array:
			t = t.Elem()
			continue
		case reflect.Map:
			if reaches(t.Key(), visiting) {
				return true
			}
			t = t.Elem()
			continue
		}
		break
	}
	if t.Kind() != reflect.Struct || t == timeType || visiting[t] {
		return false
	}
	visiting[t] = true
	if s, err := pii.SchemaOf(t); err == nil && len(s.Fields) > 0 {
		return true
	}
	for i := 0; i < t.NumField(); i++ {
		if reaches(t.Field(i).Type, visiting) {
			return true
		}
	}
	return false
}

// scalar reports types whose values hold no references.
func scalar(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Struct, reflect.Slice, reflect.Array, reflect.Map, reflect.Interface, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return false
	}
	return true
}
