package admission

import (
	"testing"
	"time"
)

func TestCapHoldsAndExpires(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := NewCap(100, time.Minute, func() time.Time { return now })
	admitted := 0
	for range 10_000 {
		if c.Add() {
			admitted++
		}
	}
	if admitted != 100 || c.Count() != 100 {
		t.Fatalf("flood: admitted %d, count %d, want 100", admitted, c.Count())
	}
	// A removal makes room for one more.
	c.Remove()
	if !c.Add() || c.Add() {
		t.Fatal("one removal must admit exactly one more")
	}
	// Half a lifetime later nothing has expired yet.
	now = now.Add(30 * time.Second)
	if c.Add() {
		t.Fatal("admitted before the lifetime passed")
	}
	// After a whole lifetime the window is empty again.
	now = now.Add(31*time.Second + 2*time.Second)
	if c.Count() != 0 || !c.Add() {
		t.Fatalf("after the lifetime: count %d", c.Count())
	}
}

func TestCapDisabledAndRemoveNeverNegative(t *testing.T) {
	var nilCap *Cap
	if NewCap(0, time.Minute, nil) != nil || !nilCap.Add() {
		t.Fatal("a zero cap must disable")
	}
	c := NewCap(2, time.Minute, nil)
	c.Remove()
	c.Remove()
	if c.Count() != 0 {
		t.Fatalf("count %d after removals only", c.Count())
	}
	first, second, third := c.Add(), c.Add(), c.Add()
	if !first || !second || third {
		t.Fatalf("cap of 2 admitted %v, %v, %v; want exactly the first two", first, second, third)
	}
}
