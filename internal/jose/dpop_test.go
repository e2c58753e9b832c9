package jose_test

import (
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/jose"
	"github.com/keyward/keyward/internal/testdpop"
)

func TestVerifyDPoPProof(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := testdpop.New(t)
	c.Now = func() time.Time { return now }
	const url = "https://op.example/token"
	check := func(method, u, at string) jose.DPoPCheck {
		return jose.DPoPCheck{Method: method, URL: u, Algs: []string{"ES256", "PS256"}, AccessToken: at,
			Now: now, MaxAge: time.Minute, Skew: 5 * time.Second}
	}

	p, err := jose.VerifyDPoPProof(c.Proof("POST", url, testdpop.Opts{Nonce: "n1"}), check("POST", url, ""))
	if err != nil {
		t.Fatal(err)
	}
	if p.JKT != c.JKT() || p.Nonce != "n1" || p.JTI == "" || !p.IssuedAt.Equal(now) {
		t.Fatalf("proof = %+v, want jkt %s", p, c.JKT())
	}
	// htu is compared without query and fragment, case-insensitive host,
	// default port removed (RFC 9449 §4.3).
	if _, err := jose.VerifyDPoPProof(c.Proof("POST", "HTTPS://OP.example:443/token?x=1#f", testdpop.Opts{}), check("POST", url, "")); err != nil {
		t.Fatalf("normalised htu refused: %v", err)
	}
	if _, err := jose.VerifyDPoPProof(c.Proof("GET", "https://op.example/userinfo", testdpop.Opts{AccessToken: "tok"}),
		check("GET", "https://op.example/userinfo", "tok")); err != nil {
		t.Fatalf("proof with ath refused: %v", err)
	}

	bad := []struct {
		name  string
		proof string
		check jose.DPoPCheck
		want  string
	}{
		{"empty", "", check("POST", url, ""), "empty"},
		{"garbage", "a.b.c", check("POST", url, ""), "parse"},
		{"typ", c.Proof("POST", url, testdpop.Opts{Typ: "JWT"}), check("POST", url, ""), "typ"},
		{"private jwk", c.Proof("POST", url, testdpop.Opts{PrivateJWK: true}), check("POST", url, ""), "private"},
		{"alg not allowed", c.Proof("POST", url, testdpop.Opts{}), jose.DPoPCheck{Method: "POST", URL: url, Algs: []string{"PS256"}, Now: now, MaxAge: time.Minute}, "parse"},
		{"htm", c.Proof("GET", url, testdpop.Opts{}), check("POST", url, ""), "htm"},
		{"htu", c.Proof("POST", "https://other.example/token", testdpop.Opts{}), check("POST", url, ""), "htu"},
		{"htu path", c.Proof("POST", "https://op.example/token2", testdpop.Opts{}), check("POST", url, ""), "htu"},
		{"expired", c.Proof("POST", url, testdpop.Opts{IAT: now.Add(-2 * time.Minute)}), check("POST", url, ""), "iat"},
		{"future", c.Proof("POST", url, testdpop.Opts{IAT: now.Add(time.Minute)}), check("POST", url, ""), "iat"},
		{"no ath", c.Proof("GET", url, testdpop.Opts{}), check("GET", url, "tok"), "ath"},
		{"wrong ath", c.Proof("GET", url, testdpop.Opts{AccessToken: "other"}), check("GET", url, "tok"), "ath"},
		{"oversized", strings.Repeat("a", 9000), check("POST", url, ""), "too large"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := jose.VerifyDPoPProof(tc.proof, tc.check)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestNormalizeHTU(t *testing.T) {
	for in, want := range map[string]string{
		"https://OP.Example:443/a/b?q#f": "https://op.example/a/b",
		"http://op.example:80":           "http://op.example/",
		"https://op.example:8443/t":      "https://op.example:8443/t",
		"https://[::1]:8443/t":           "https://[::1]:8443/t",
	} {
		got, err := jose.NormalizeHTU(in)
		if err != nil || got != want {
			t.Errorf("NormalizeHTU(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "/token", "ftp://op.example/", "https://u:p@op.example/", "://x"} {
		if got, err := jose.NormalizeHTU(in); err == nil {
			t.Errorf("NormalizeHTU(%q) = %q, want an error", in, got)
		}
	}
}

// BenchmarkVerifyDPoPProof: the per-request cost DPoP adds at the token
// endpoint and at UserInfo (ES256 signature check and thumbprint).
func BenchmarkVerifyDPoPProof(b *testing.B) {
	now := time.Now()
	c := testdpop.New(b)
	c.Now = func() time.Time { return now }
	proof := c.Proof("POST", "https://op.example/token", testdpop.Opts{})
	chk := jose.DPoPCheck{Method: "POST", URL: "https://op.example/token", Algs: []string{"ES256"},
		Now: now, MaxAge: time.Minute, Skew: 30 * time.Second}
	for b.Loop() {
		if _, err := jose.VerifyDPoPProof(proof, chk); err != nil {
			b.Fatal(err)
		}
	}
}
