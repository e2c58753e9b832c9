package store

import (
	"reflect"
	"time"
)

var timeType = reflect.TypeFor[time.Time]()

// NormalizeTimes converts, in place, every time.Time reachable from v (a
// pointer to a record) through pointers, structs, slices and arrays to UTC;
// zero times become the plain zero time.Time{}. Backends call it on every
// record they hand back, so that every backend returns times the same way
// ("All times are UTC" in the package documentation) whatever offset the
// writer used: JSON and some drivers keep the writer's offset. Maps and
// interfaces are not entered: the records keep times in typed fields only.
func NormalizeTimes(v any) {
	normalizeTimes(reflect.ValueOf(v))
}

func normalizeTimes(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			normalizeTimes(v.Elem())
		}
	case reflect.Struct:
		if v.Type() == timeType {
			if v.CanSet() {
				t := v.Interface().(time.Time)
				if t.IsZero() {
					v.Set(reflect.ValueOf(time.Time{}))
				} else {
					v.Set(reflect.ValueOf(t.UTC()))
				}
			}
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				normalizeTimes(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return
		}
		for i := range v.Len() {
			normalizeTimes(v.Index(i))
		}
	}
}
