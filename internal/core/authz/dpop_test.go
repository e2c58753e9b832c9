package authz

import (
	"strings"
	"testing"
)

// dpop_jkt (RFC 9449 §10) travels from the request to the code, where the
// token endpoint enforces it.
func TestDPoPJKTReachesTheCode(t *testing.T) {
	e := newEnv(t, Config{})
	jkt := strings.Repeat("A", 42) + "_"
	c := e.consume(e.login(query("dpop_jkt", jkt), `{"sub":"alice"}`, `{"scope":["*"],"claims":["*"]}`))
	if c.DPoPJKT != jkt {
		t.Fatalf("code dpop_jkt = %q, want %q", c.DPoPJKT, jkt)
	}
	c = e.consume(e.login(query(), `{"sub":"alice"}`, `{"scope":["*"],"claims":["*"]}`))
	if c.DPoPJKT != "" {
		t.Fatalf("code without dpop_jkt has %q", c.DPoPJKT)
	}
}
