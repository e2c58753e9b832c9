package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/keyward/keyward/store"
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

// UnmarshalJSON decodes a JSON column into v (a pointer) and normalises its
// times (store.NormalizeTimes), since JSON keeps the writer's offset.
func UnmarshalJSON(data string, v any) error {
	if err := json.Unmarshal([]byte(data), v); err != nil {
		return fmt.Errorf("decode %T: %w", v, err)
	}
	store.NormalizeTimes(v)
	return nil
}
