package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/keyward/keyward/config"
)

// TestJWKSURIFetchGuarded: a private_key_jwt client whose jwks_uri points
// at a loopback server authenticates in --dev, where local servers are the
// point; outside --dev the node does not connect there at all, and the
// client's authentication fails with invalid_client, never a 5xx
// (docs/api.md §23).
func TestJWKSURIFetchGuarded(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: key, KeyID: "k1", Algorithm: "ES256", Use: "sig"}
	pub, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk.Public()}})
	var hits atomic.Int32
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(pub)
	})
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jwk}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	clientCredentials := func(e *env, jwksURI string) (int, map[string]any) {
		t.Helper()
		status, reg := e.registerClient(map[string]any{
			"grant_types": []string{"client_credentials"}, "response_types": []string{}, "scope": "read",
			"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": jwksURI,
		})
		if status != http.StatusCreated {
			t.Fatalf("register: %d %v", status, reg)
		}
		id := reg["client_id"].(string)
		now := time.Now()
		a, err := jwt.Signed(signer).Claims(jwt.Claims{
			Issuer: id, Subject: id, Audience: jwt.Audience{e.issuer + "/token"},
			ID: rand.Text(), IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute)),
		}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		status, body, _ := e.postForm("/token", url.Values{
			"grant_type": {"client_credentials"}, "scope": {"read"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a},
		}, "", "")
		return status, body
	}

	t.Run("dev", func(t *testing.T) {
		srv := httptest.NewServer(handler)
		defer srv.Close()
		hits.Store(0)
		e := newEnv(t)
		if status, body := clientCredentials(e, srv.URL+"/jwks.json"); status != http.StatusOK || hits.Load() == 0 {
			t.Fatalf("with --dev: %d %v (jwks fetched %d times), want 200", status, body, hits.Load())
		}
	})
	t.Run("production", func(t *testing.T) {
		// Connections are counted, not requests: an unguarded fetch would
		// connect and then fail the TLS handshake (the test certificate is
		// not trusted), so requests alone could not tell.
		var conns atomic.Int32
		srv := httptest.NewUnstartedServer(handler)
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		}
		srv.StartTLS()
		defer srv.Close()
		hits.Store(0)
		e := newEnv(t, func(c *config.Config) { c.Dev, c.Demo = false, false })
		status, body := clientCredentials(e, srv.URL+"/jwks.json")
		wantOAuthError(t, status, body, http.StatusUnauthorized, "invalid_client")
		if n := conns.Load(); n != 0 {
			t.Errorf("the loopback jwks_uri got %d connections outside --dev", n)
		}
	})
}
