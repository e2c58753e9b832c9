package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"reflect"
	"time"
)

// Millis is the column value of t: Unix milliseconds, or NULL for the zero
// time, which the store contracts use for "never". Sub-millisecond parts
// are truncated, which the contracts allow.
func Millis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

// Time is the inverse of Millis: NULL gives the zero time, anything else a
// UTC time.
func Time(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMilli(v.Int64).UTC()
}

// MarshalJSON encodes a record or field for a JSON text column.
func MarshalJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode %T: %w", v, err)
	}
	return string(b), nil
}

// UnmarshalJSON decodes a JSON column into v (a pointer) and turns every
// time.Time reachable from v through pointers, structs, slices and arrays
// into UTC, since JSON keeps the writer's offset.
func UnmarshalJSON(data string, v any) error {
	if err := json.Unmarshal([]byte(data), v); err != nil {
		return fmt.Errorf("decode %T: %w", v, err)
	}
	UTC(v)
	return nil
}

var timeType = reflect.TypeFor[time.Time]()

// UTC converts, in place, every settable time.Time reachable from v through
// pointers, structs, slices and arrays to UTC; zero times stay zero. Maps
// and interfaces are not entered: the store records keep times in typed
// fields only.
func UTC(v any) {
	utc(reflect.ValueOf(v))
}

func utc(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			utc(v.Elem())
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
				utc(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return
		}
		for i := range v.Len() {
			utc(v.Index(i))
		}
	}
}
