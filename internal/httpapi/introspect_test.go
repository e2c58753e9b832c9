package httpapi

import (
	"net/http/httptest"
	"testing"
)

func TestWantsIntrospectionJWT(t *testing.T) {
	for accept, want := range map[string]bool{
		"":                                    false,
		"application/json":                    false,
		"application/token-introspection+jwt": true,
		"Application/Token-Introspection+JWT": true,
		"application/json, application/token-introspection+jwt;q=0.9": true,
		"application/token-introspection+jwtx":                        false,
		"application/jwt":                                             false,
		";;;":                                                         false,
	} {
		r := httptest.NewRequest("POST", "/token/introspect", nil)
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		if got := wantsIntrospectionJWT(r); got != want {
			t.Errorf("Accept %q: %v, want %v", accept, got, want)
		}
	}
}
