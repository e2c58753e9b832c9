package oauth

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParseAuthorizationDetails(t *testing.T) {
	allowed := []string{"payment_initiation", "account_information"}
	good := `[{"type":"payment_initiation","actions":["initiate"],"locations":["https://bank.example/payments"],"instructedAmount":{"currency":"EUR","amount":"123.50"}}]`
	d, err := ParseAuthorizationDetails(good, allowed)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if len(d) != 1 {
		t.Fatalf("got %d elements, want 1", len(d))
	}
	var m map[string]any
	if err := json.Unmarshal(d[0], &m); err != nil || m["instructedAmount"] == nil {
		t.Fatalf("type-specific member lost: %s", d[0])
	}
	for _, tc := range []struct {
		name, raw, code string
	}{
		{"type not allowed", `[{"type":"crypto_transfer"}]`, ErrCodeInvalidAuthorizationDetails},
		{"not JSON", `[{`, ErrCodeInvalidRequest},
		{"object, not array", `{"type":"payment_initiation"}`, ErrCodeInvalidRequest},
		{"empty array", `[]`, ErrCodeInvalidRequest},
		{"element not an object", `["payment_initiation"]`, ErrCodeInvalidRequest},
		{"missing type", `[{"actions":["read"]}]`, ErrCodeInvalidRequest},
		{"type not a string", `[{"type":7}]`, ErrCodeInvalidRequest},
		{"actions not strings", `[{"type":"payment_initiation","actions":"read"}]`, ErrCodeInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseAuthorizationDetails(tc.raw, allowed)
			var oe *Error
			if !errors.As(err, &oe) || oe.Code != tc.code || oe.Status != 400 {
				t.Fatalf("got %v, want %s (400)", err, tc.code)
			}
		})
	}
}

func TestAuthorizationDetailsSubset(t *testing.T) {
	allowed := []string{"a", "b"}
	d, err := ParseAuthorizationDetails(`[{"type":"a","actions":["x"]},{"type":"b"}]`, allowed)
	if err != nil {
		t.Fatal(err)
	}
	// Member order and whitespace do not matter.
	sub, err := d.Subset([]json.RawMessage{json.RawMessage(`{ "actions":["x"], "type":"a" }`)}, allowed)
	if err != nil || len(sub) != 1 {
		t.Fatalf("subset: %v %v", sub, err)
	}
	_, err = d.Subset([]json.RawMessage{json.RawMessage(`{"type":"a","actions":["y"]}`)}, allowed)
	if !errors.Is(err, InvalidAuthorizationDetails("")) {
		t.Fatalf("widened element: got %v, want invalid_authorization_details", err)
	}
}

func TestValidResource(t *testing.T) {
	for v, want := range map[string]bool{
		"https://api.example.com":        true,
		"https://api.example.com/v1?x=1": true,
		"urn:example:api":                true,
		"/relative":                      false,
		"https://api.example.com/#frag":  false,
		"https://api.example.com/#":      false,
		"":                               false,
	} {
		if got := ValidResource(v); got != want {
			t.Errorf("ValidResource(%q) = %v, want %v", v, got, want)
		}
	}
}
