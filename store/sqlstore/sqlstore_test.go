package sqlstore_test

import (
	"database/sql"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keyward/keyward/store/sqlstore"
)

func TestMillisRoundTrip(t *testing.T) {
	zone := time.FixedZone("x", -7*3600)
	for _, tc := range []struct {
		name string
		in   time.Time
		col  sql.NullInt64
		out  time.Time
	}{
		{"zero is NULL", time.Time{}, sql.NullInt64{}, time.Time{}},
		{"epoch", time.Unix(0, 0), sql.NullInt64{Valid: true}, time.Unix(0, 0).UTC()},
		{"zoned with nanoseconds", time.Date(2030, 1, 2, 3, 4, 5, 123_456_789, zone),
			sql.NullInt64{Int64: time.Date(2030, 1, 2, 10, 4, 5, 123e6, time.UTC).UnixMilli(), Valid: true},
			time.Date(2030, 1, 2, 10, 4, 5, 123e6, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			col := sqlstore.Millis(tc.in)
			if col != tc.col {
				t.Fatalf("Millis = %+v, want %+v", col, tc.col)
			}
			got := sqlstore.Time(col)
			if !got.Equal(tc.out) || got.Location() != time.UTC {
				t.Errorf("Time = %v (%v), want %v in UTC", got, got.Location(), tc.out)
			}
		})
	}
}

type inner struct{ At time.Time }

type record struct {
	A     time.Time
	P     *time.Time
	In    inner
	List  []inner
	Bytes []byte
	Zero  time.Time
	Data  map[string]any
}

func TestUnmarshalJSONMakesTimesUTC(t *testing.T) {
	zone := time.FixedZone("x", 5*3600+1800)
	at := time.Date(2030, 1, 2, 3, 4, 5, 6, zone)
	in := record{A: at, P: &at, In: inner{at}, List: []inner{{at}, {}}, Bytes: []byte{0, 1}, Data: map[string]any{"n": 1.0}}
	s, err := sqlstore.MarshalJSON(in)
	if err != nil {
		t.Fatal(err)
	}
	var out record
	if err := sqlstore.UnmarshalJSON(s, &out); err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]time.Time{"A": out.A, "P": *out.P, "In.At": out.In.At, "List[0].At": out.List[0].At} {
		if !got.Equal(at) || got.Location() != time.UTC {
			t.Errorf("%s = %v (%v), want %v in UTC", name, got, got.Location(), at)
		}
	}
	if !out.Zero.IsZero() || !out.List[1].At.IsZero() {
		t.Errorf("zero times changed: %v, %v", out.Zero, out.List[1].At)
	}
	if d := cmp.Diff(in.Bytes, out.Bytes); d != "" {
		t.Errorf("bytes (-want +got):\n%s", d)
	}
	if err := sqlstore.UnmarshalJSON("{", &out); err == nil {
		t.Error("malformed JSON decoded without error")
	}
}
