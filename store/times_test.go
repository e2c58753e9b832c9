package store_test

import (
	"testing"
	"time"

	"github.com/keyward/keyward/store"
)

type inner struct{ At time.Time }

type record struct {
	A     time.Time
	P     *time.Time
	In    inner
	List  []inner
	Arr   [1]inner
	Bytes []byte
	Zero  time.Time
	Data  map[string]any
	hid   time.Time
}

func TestNormalizeTimes(t *testing.T) {
	zone := time.FixedZone("x", 5*3600+1800)
	at := time.Date(2030, 1, 2, 3, 4, 5, 6, zone)
	p := at
	zeroInZone := time.Time{}.In(zone)
	r := record{A: at, P: &p, In: inner{at}, List: []inner{{at}, {zeroInZone}}, Arr: [1]inner{{at}},
		Bytes: []byte{0, 1}, Zero: zeroInZone, Data: map[string]any{"t": at}, hid: at}
	store.NormalizeTimes(&r)
	for name, got := range map[string]time.Time{"A": r.A, "P": *r.P, "In.At": r.In.At, "List[0].At": r.List[0].At, "Arr[0].At": r.Arr[0].At} {
		if !got.Equal(at) || got.Location() != time.UTC {
			t.Errorf("%s = %v (%v), want %v in UTC", name, got, got.Location(), at)
		}
	}
	if r.Zero != (time.Time{}) || r.List[1].At != (time.Time{}) {
		t.Errorf("zero times = %#v, %#v; want time.Time{}", r.Zero, r.List[1].At)
	}
	// Maps and unexported fields are left alone.
	if r.Data["t"].(time.Time).Location() != zone || r.hid.Location() != zone {
		t.Error("NormalizeTimes entered a map or an unexported field")
	}
	store.NormalizeTimes(nil)
	store.NormalizeTimes((*record)(nil))
}
