package conformance

import (
	"strings"
	"testing"
)

// TestEntropyBits pins the estimate the code and token checks rely on, so
// that a weak value cannot slip through a lenient estimator.
func TestEntropyBits(t *testing.T) {
	tests := []struct {
		name     string
		v        string
		min, max float64
	}{
		{"22 base64url chars", "Zt3kQ9_x-2LmPa0bYc7WvE", 131, 133},
		{"32 hex chars", "9f86d081884c7d659a2feaa0c55ad015", 127, 129},
		{"16 digits", "8734590126485739", 53, 54},
		{"one repeated char", strings.Repeat("a", 64), 0, 0},
		{"two chars alternating", strings.Repeat("ab", 32), 64, 64},
		{"JWT", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXZhbHVlLWhlcmU", 100, 600},
		{"VSCHAR", "a b!c#d$e%f&g'h(i)j*k+l,m", 150, 170},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := entropyBits(tt.v); got < tt.min || got > tt.max {
				t.Errorf("entropyBits(%q) = %.1f, want %.0f…%.0f", tt.v, got, tt.min, tt.max)
			}
		})
	}
}
