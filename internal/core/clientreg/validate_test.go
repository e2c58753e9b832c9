package clientreg

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// testJWKS returns a JWK set with one EC P-256 key, public or private.
func testJWKS(t testing.TB, private bool) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var key any = &k.PublicKey
	if private {
		key = k
	}
	raw, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// TestRegisterValidation pins the exact error of every metadata rule.
func TestRegisterValidation(t *testing.T) {
	withMTLS := func(c *Config) {
		c.AllowedAuthMethods = []string{oauth.AuthMethodClientSecretBasic, oauth.AuthMethodPrivateKeyJWT,
			oauth.AuthMethodTLSClientAuth, oauth.AuthMethodSelfSignedTLSClientAuth}
	}
	pub := testJWKS(t, false)
	priv := testJWKS(t, true)
	const cb = `"redirect_uris":["https://rp.example.com/cb"]`
	dev := func(c *Config) { c.DevLoopbackHTTP = true }
	tests := []struct {
		name     string
		cfg      func(*Config)
		body     string
		wantCode string // "" means success
		wantDesc string
	}{
		// Body shape.
		{name: "minimal web client", body: `{` + cb + `}`},
		{name: "not an object: array", body: `[]`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "request body must be a JSON object"},
		{name: "not an object: null", body: `null`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "request body must be a JSON object"},
		{name: "not an object: string", body: `"x"`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "request body must be a JSON object"},
		{name: "empty body", body: ``, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "request body must be a JSON object"},
		{name: "malformed JSON", body: `{"redirect_uris":`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "request body is not valid JSON"},
		{name: "trailing data", body: `{` + cb + `} {}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "request body must hold a single JSON object"},
		{name: "too large", body: `{` + cb + `,"client_name":"` + strings.Repeat("a", MaxBodySize) + `"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "request body exceeds 250000 bytes"},
		{name: "unknown members ignored", body: `{` + cb + `,"x_custom":{"a":[1]},"registration_access_token":"x"}`},
		{name: "client_name not a string", body: `{` + cb + `,"client_name":5}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "invalid client_name: expected a string"},
		{name: "contacts not strings", body: `{` + cb + `,"contacts":[1]}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "invalid contacts: expected a string"},
		{name: "contacts not an array", body: `{` + cb + `,"contacts":"a@b"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "invalid contacts: expected an array of strings"},
		{name: "contacts empty string", body: `{` + cb + `,"contacts":[""]}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "contacts[0] must not be empty"},
		{name: "redirect_uris not an array", body: `{"redirect_uris":"https://rp.example.com/cb"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "invalid redirect_uris: expected an array of strings"},

		// Redirect URIs.
		{name: "redirect_uris missing", body: `{}`, wantCode: oauth.ErrCodeInvalidRedirectURI, wantDesc: "redirect_uris is required for the authorization_code and implicit grants"},
		{name: "redirect_uris not needed for client_credentials", body: `{"grant_types":["client_credentials"]}`},
		{name: "redirect relative", body: `{"redirect_uris":["/cb"]}`, wantCode: oauth.ErrCodeInvalidRedirectURI, wantDesc: "redirect_uris[0] must be an absolute URI"},
		{name: "redirect empty", body: `{"redirect_uris":[""]}`, wantCode: oauth.ErrCodeInvalidRedirectURI, wantDesc: "redirect_uris[0] must not be empty"},
		{name: "redirect fragment", body: `{"redirect_uris":["https://rp.example.com/cb#frag"]}`, wantCode: oauth.ErrCodeInvalidRedirectURI, wantDesc: "redirect_uris[0] must not contain a fragment"},
		{name: "redirect empty fragment", body: `{"redirect_uris":["https://rp.example.com/cb#"]}`, wantCode: oauth.ErrCodeInvalidRedirectURI, wantDesc: "redirect_uris[0] must not contain a fragment"},
		{name: "redirect second bad", body: `{"redirect_uris":["https://rp.example.com/cb","https://rp.example.com/x#y"]}`, wantCode: oauth.ErrCodeInvalidRedirectURI, wantDesc: "redirect_uris[1] must not contain a fragment"},
		{name: "redirect javascript", body: `{"redirect_uris":["javascript:alert(1)"]}`, wantCode: oauth.ErrCodeInvalidRedirectURI, wantDesc: "redirect_uris[0] uses a forbidden scheme"},
		{name: "redirect JavaScript upper case", body: `{"redirect_uris":["JavaScript:alert(1)"]}`, wantCode: oauth.ErrCodeInvalidRedirectURI, wantDesc: "redirect_uris[0] uses a forbidden scheme"},
		{name: "redirect data native", body: `{"application_type":"native","redirect_uris":["data:text/html,x"]}`, wantCode: oauth.ErrCodeInvalidRedirectURI, wantDesc: "redirect_uris[0] uses a forbidden scheme"},
		{name: "redirect vbscript", body: `{"redirect_uris":["vbscript:x"]}`, wantCode: oauth.ErrCodeInvalidRedirectURI, wantDesc: "redirect_uris[0] uses a forbidden scheme"},
		{name: "redirect file", body: `{"redirect_uris":["file:///etc/passwd"]}`, wantCode: oauth.ErrCodeInvalidRedirectURI, wantDesc: "redirect_uris[0] uses a forbidden scheme"},
		{name: "redirect query code", body: `{"redirect_uris":["https://rp.example.com/cb?code=1"]}`, wantCode: oauth.ErrCodeInvalidRedirectURI, wantDesc: "redirect_uris[0] must not carry the reserved query parameter code"},
		{name: "redirect query state", body: `{"redirect_uris":["https://rp.example.com/cb?a=1&state=1"]}`, wantCode: oauth.ErrCodeInvalidRedirectURI, wantDesc: "redirect_uris[0] must not carry the reserved query parameter state"},
		{name: "redirect query response", body: `{"redirect_uris":["https://rp.example.com/cb?response"]}`, wantCode: oauth.ErrCodeInvalidRedirectURI, wantDesc: "redirect_uris[0] must not carry the reserved query parameter response"},
		{name: "redirect query iss", body: `{"redirect_uris":["https://rp.example.com/cb?iss=x"]}`, wantCode: oauth.ErrCodeInvalidRedirectURI, wantDesc: "redirect_uris[0] must not carry the reserved query parameter iss"},
		{name: "redirect other query ok", body: `{"redirect_uris":["https://rp.example.com/cb?tenant=a"]}`},
		{name: "redirect malformed query", body: `{"redirect_uris":["https://rp.example.com/cb?a=%zz"]}`, wantCode: oauth.ErrCodeInvalidRedirectURI, wantDesc: "redirect_uris[0] has a malformed query"},
		{name: "redirect userinfo", body: `{"redirect_uris":["https://u:p@rp.example.com/cb"]}`, wantCode: oauth.ErrCodeInvalidRedirectURI, wantDesc: "redirect_uris[0] must not contain user information"},
		{name: "redirect https no host", body: `{"redirect_uris":["https:///cb"]}`, wantCode: oauth.ErrCodeInvalidRedirectURI, wantDesc: "redirect_uris[0] must name a host"},
		{name: "web http refused", body: `{"redirect_uris":["http://rp.example.com/cb"]}`, wantCode: oauth.ErrCodeInvalidRedirectURI, wantDesc: "redirect_uris[0] must use https"},
		{name: "web http loopback refused without dev", body: `{"redirect_uris":["http://127.0.0.1:8080/cb"]}`, wantCode: oauth.ErrCodeInvalidRedirectURI, wantDesc: "redirect_uris[0] must use https"},
		{name: "web http 127.0.0.1 in dev", cfg: dev, body: `{"redirect_uris":["http://127.0.0.1:8080/cb"]}`},
		{name: "web http [::1] in dev", cfg: dev, body: `{"redirect_uris":["http://[::1]:8080/cb"]}`},
		{name: "web http localhost in dev", cfg: dev, body: `{"redirect_uris":["http://localhost:8080/cb"]}`},
		{name: "web http non-loopback in dev", cfg: dev, body: `{"redirect_uris":["http://rp.example.com/cb"]}`, wantCode: oauth.ErrCodeInvalidRedirectURI, wantDesc: "redirect_uris[0] must use https"},
		{name: "web custom scheme refused", body: `{"redirect_uris":["com.example.app:/cb"]}`, wantCode: oauth.ErrCodeInvalidRedirectURI, wantDesc: "redirect_uris[0] must use https"},
		{name: "native reverse-domain scheme", body: `{"application_type":"native","redirect_uris":["com.example.app:/cb"]}`},
		{name: "native scheme without dot", body: `{"application_type":"native","redirect_uris":["myapp:/cb"]}`, wantCode: oauth.ErrCodeInvalidRedirectURI, wantDesc: "redirect_uris[0] must use a reverse-domain private-use scheme"},
		{name: "native loopback v4 any port", body: `{"application_type":"native","redirect_uris":["http://127.0.0.1:51004/cb"]}`},
		{name: "native loopback v6", body: `{"application_type":"native","redirect_uris":["http://[::1]/cb"]}`},
		{name: "native http localhost refused", body: `{"application_type":"native","redirect_uris":["http://localhost/cb"]}`, wantCode: oauth.ErrCodeInvalidRedirectURI, wantDesc: "redirect_uris[0] may use http only with a loopback IP address (127.0.0.1 or [::1])"},
		{name: "native http remote refused", body: `{"application_type":"native","redirect_uris":["http://rp.example.com/cb"]}`, wantCode: oauth.ErrCodeInvalidRedirectURI, wantDesc: "redirect_uris[0] may use http only with a loopback IP address (127.0.0.1 or [::1])"},
		{name: "native https claimed", body: `{"application_type":"native","redirect_uris":["https://app.example.com/cb"]}`},
		{name: "native https localhost refused", body: `{"application_type":"native","redirect_uris":["https://localhost/cb"]}`, wantCode: oauth.ErrCodeInvalidRedirectURI, wantDesc: "redirect_uris[0] must not use https with localhost for a native app"},
		{name: "post logout uri checked", body: `{` + cb + `,"post_logout_redirect_uris":["http://rp.example.com/"]}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "post_logout_redirect_uris[0] must use https"},

		// Other URLs.
		{name: "logo_uri http", body: `{` + cb + `,"logo_uri":"http://rp.example.com/l.png"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "logo_uri must use https"},
		{name: "client_uri javascript", body: `{` + cb + `,"client_uri":"javascript:alert(1)"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "client_uri must be an absolute URI"},
		{name: "policy_uri relative", body: `{` + cb + `,"policy_uri":"/policy"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "policy_uri must be an absolute URI"},
		{name: "tos_uri ftp", body: `{` + cb + `,"tos_uri":"ftp://rp.example.com/tos"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "tos_uri must use https"},
		{name: "jwks_uri http", body: `{` + cb + `,"jwks_uri":"http://rp.example.com/jwks"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "jwks_uri must use https"},
		{name: "backchannel_logout_uri http", body: `{` + cb + `,"backchannel_logout_uri":"http://rp.example.com/bcl"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "backchannel_logout_uri must use https"},
		{name: "backchannel_logout_uri fragment", body: `{` + cb + `,"backchannel_logout_uri":"https://rp.example.com/bcl#x"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "backchannel_logout_uri must not contain a fragment"},
		{name: "frontchannel_logout_uri fragment", body: `{` + cb + `,"frontchannel_logout_uri":"https://rp.example.com/fcl#x"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "frontchannel_logout_uri must not contain a fragment"},
		{name: "frontchannel_logout_uri relative", body: `{` + cb + `,"frontchannel_logout_uri":"/fcl"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "frontchannel_logout_uri must be an absolute URI"},
		{name: "backchannel session flag without uri", body: `{` + cb + `,"backchannel_logout_session_required":true}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "backchannel_logout_session_required needs backchannel_logout_uri"},
		{name: "frontchannel session flag without uri", body: `{` + cb + `,"frontchannel_logout_session_required":true}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "frontchannel_logout_session_required needs frontchannel_logout_uri"},
		{name: "logout metadata accepted", body: `{` + cb + `,"backchannel_logout_uri":"https://rp.example.com/bcl?x=1","backchannel_logout_session_required":true,"frontchannel_logout_uri":"https://rp.example.com/fcl","frontchannel_logout_session_required":true,"post_logout_redirect_uris":["https://rp.example.com/bye"]}`},
		{name: "logo_uri http loopback in dev", cfg: dev, body: `{` + cb + `,"logo_uri":"http://localhost:9000/l.png"}`},
		{name: "all https URLs", body: `{` + cb + `,"logo_uri":"https://rp.example.com/l.png","client_uri":"https://rp.example.com","policy_uri":"https://rp.example.com/p","tos_uri":"https://rp.example.com/t"}`},

		// Grant and response types (RFC 7591 §2.1).
		{name: "unsupported grant type", body: `{` + cb + `,"grant_types":["authorization_code","password"]}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "unsupported grant_type: password"},
		{name: "unsupported response type", body: `{` + cb + `,"response_types":["code token"],"grant_types":["authorization_code","implicit"]}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "unsupported response_type: code token"},
		{name: "response type order-insensitive", body: `{` + cb + `,"response_types":["token id_token"],"grant_types":["implicit"]}`},
		{name: "code without authorization_code", body: `{` + cb + `,"response_types":["code"],"grant_types":["implicit"]}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "response_type code requires the authorization_code grant_type"},
		{name: "id_token without implicit", body: `{` + cb + `,"response_types":["code id_token"],"grant_types":["authorization_code"]}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "response_type code id_token requires the implicit grant_type"},
		{name: "authorization_code without code", body: `{` + cb + `,"response_types":["id_token"],"grant_types":["implicit","authorization_code"]}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "grant_type authorization_code requires a response_type containing code"},
		{name: "implicit without token", body: `{` + cb + `,"grant_types":["authorization_code","implicit"]}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "grant_type implicit requires a response_type containing token or id_token"},
		{name: "refresh_token alongside", body: `{` + cb + `,"grant_types":["authorization_code","refresh_token"]}`},
		{name: "implicit unsupported by config", cfg: func(c *Config) { c.SupportedGrantTypes = nil; c.SupportedResponseTypes = nil }, body: `{` + cb + `,"response_types":["id_token"]}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "unsupported grant_type: implicit"},
		{name: "response type with bad characters", body: `{` + cb + `,"response_types":["co\"de"]}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "unsupported response_type: (value not shown)"},

		// Client authentication.
		{name: "unknown auth method", body: `{` + cb + `,"token_endpoint_auth_method":"tls_client_auth"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "unsupported token_endpoint_auth_method: tls_client_auth"},
		{name: "auth method not allowed", cfg: func(c *Config) { c.AllowedAuthMethods = []string{oauth.AuthMethodClientSecretBasic} }, body: `{` + cb + `,"token_endpoint_auth_method":"none"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "unsupported token_endpoint_auth_method: none"},
		{name: "private_key_jwt without keys", body: `{` + cb + `,"token_endpoint_auth_method":"private_key_jwt"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "private_key_jwt requires jwks or jwks_uri"},
		{name: "private_key_jwt with jwks", body: `{` + cb + `,"token_endpoint_auth_method":"private_key_jwt","jwks":` + pub + `}`},
		// Mutual TLS (RFC 8705 §2.1.2, §2.2.2), when the server allows it.
		{name: "tls_client_auth not enabled", body: `{` + cb + `,"token_endpoint_auth_method":"tls_client_auth","tls_client_auth_subject_dn":"CN=rp"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "unsupported token_endpoint_auth_method: tls_client_auth"},
		{name: "tls_client_auth with subject DN", cfg: withMTLS, body: `{` + cb + `,"token_endpoint_auth_method":"tls_client_auth","tls_client_auth_subject_dn":"CN=rp,O=Example"}`},
		{name: "tls_client_auth without name", cfg: withMTLS, body: `{` + cb + `,"token_endpoint_auth_method":"tls_client_auth"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "tls_client_auth requires exactly one of tls_client_auth_subject_dn, tls_client_auth_san_dns, tls_client_auth_san_uri, tls_client_auth_san_ip, tls_client_auth_san_email"},
		{name: "tls_client_auth with two names", cfg: withMTLS, body: `{` + cb + `,"token_endpoint_auth_method":"tls_client_auth","tls_client_auth_subject_dn":"CN=rp","tls_client_auth_san_dns":"rp.example.com"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "tls_client_auth requires exactly one of tls_client_auth_subject_dn, tls_client_auth_san_dns, tls_client_auth_san_uri, tls_client_auth_san_ip, tls_client_auth_san_email"},
		{name: "tls_client_auth bad IP", cfg: withMTLS, body: `{` + cb + `,"token_endpoint_auth_method":"tls_client_auth","tls_client_auth_san_ip":"not-an-ip"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "tls_client_auth_san_ip is not an IP address"},
		{name: "tls_client_auth member with another method", body: `{` + cb + `,"tls_client_auth_san_dns":"rp.example.com"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "tls_client_auth_* members require token_endpoint_auth_method tls_client_auth"},
		{name: "self_signed_tls_client_auth with jwks", cfg: withMTLS, body: `{` + cb + `,"token_endpoint_auth_method":"self_signed_tls_client_auth","jwks":` + pub + `}`},
		{name: "self_signed_tls_client_auth with jwks_uri", cfg: withMTLS, body: `{` + cb + `,"token_endpoint_auth_method":"self_signed_tls_client_auth","jwks_uri":"https://rp.example.com/jwks"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "self_signed_tls_client_auth requires jwks (jwks_uri is not supported for it)"},
		{name: "dpop_bound_access_tokens", body: `{` + cb + `,"dpop_bound_access_tokens":true,"tls_client_certificate_bound_access_tokens":true}`},
		{name: "dpop_bound_access_tokens not a boolean", body: `{` + cb + `,"dpop_bound_access_tokens":"yes"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "invalid dpop_bound_access_tokens: expected a boolean"},
		{name: "private_key_jwt with jwks_uri", body: `{` + cb + `,"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://rp.example.com/jwks"}`},
		{name: "jwks and jwks_uri", body: `{` + cb + `,"jwks_uri":"https://rp.example.com/jwks","jwks":` + pub + `}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "jwks and jwks_uri must not both be present"},
		{name: "jwks with private key", body: `{` + cb + `,"jwks":` + priv + `}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "jwks is not a valid public JWK set"},
		{name: "jwks not a set", body: `{` + cb + `,"jwks":5}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "jwks is not a valid public JWK set"},
		{name: "jwks empty", body: `{` + cb + `,"jwks":{"keys":[]}}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "jwks is not a valid public JWK set"},
		{name: "jwks null is absent", body: `{` + cb + `,"token_endpoint_auth_method":"private_key_jwt","jwks":null}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "private_key_jwt requires jwks or jwks_uri"},
		{name: "injected jwks validator", body: `{` + cb + `,"jwks":` + pub + `}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "jwks is not a valid public JWK set"},
		{name: "public client with client_credentials", body: `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"none"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "client_credentials requires an authenticated client"},

		// Algorithms.
		{name: "id_token alg supported", body: `{` + cb + `,"id_token_signed_response_alg":"ES256"}`},
		{name: "id_token alg none", body: `{` + cb + `,"id_token_signed_response_alg":"none"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "unsupported id_token_signed_response_alg: none"},
		{name: "id_token alg unsupported", body: `{` + cb + `,"id_token_signed_response_alg":"PS512"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "unsupported id_token_signed_response_alg: PS512"},
		{name: "userinfo alg unsupported", body: `{` + cb + `,"userinfo_signed_response_alg":"HS256"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "unsupported userinfo_signed_response_alg: HS256"},
		{name: "request object alg none", body: `{` + cb + `,"request_object_signing_alg":"none"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "unsupported request_object_signing_alg: none"},
		{name: "request object alg HMAC", body: `{` + cb + `,"request_object_signing_alg":"HS256"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "unsupported request_object_signing_alg: HS256"},
		{name: "request object alg PS256", body: `{` + cb + `,"request_object_signing_alg":"PS256","require_signed_request_object":true}`},
		{name: "request object encryption supported", body: `{` + cb + `,"request_object_encryption_alg":"ECDH-ES","request_object_encryption_enc":"A256GCM"}`},
		{name: "request object encryption alg unsupported", body: `{` + cb + `,"request_object_encryption_alg":"RSA1_5"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "unsupported request_object_encryption_alg: RSA1_5"},
		{name: "request object encryption enc unsupported", body: `{` + cb + `,"request_object_encryption_alg":"RSA-OAEP-256","request_object_encryption_enc":"A128CBC-HS256"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "unsupported request_object_encryption_enc: A128CBC-HS256 (A256GCM, with request_object_encryption_alg)"},
		{name: "JARM alg supported", body: `{` + cb + `,"authorization_signed_response_alg":"ES256"}`},
		{name: "JARM alg none", body: `{` + cb + `,"authorization_signed_response_alg":"none"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "unsupported authorization_signed_response_alg: none"},
		{name: "JARM alg unsupported", body: `{` + cb + `,"authorization_signed_response_alg":"HS256"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "unsupported authorization_signed_response_alg: HS256"},
		{name: "JARM encryption", body: `{` + cb + `,"authorization_encrypted_response_alg":"RSA-OAEP-256"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "authorization_encrypted_response_alg and authorization_encrypted_response_enc are not supported: JWT authorisation responses are signed, not encrypted"},
		{name: "auth signing alg without jwt method", body: `{` + cb + `,"token_endpoint_auth_signing_alg":"RS256"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "token_endpoint_auth_signing_alg requires a JWT token_endpoint_auth_method"},
		{name: "private_key_jwt with HS256", body: `{` + cb + `,"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://rp.example.com/jwks","token_endpoint_auth_signing_alg":"HS256"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "unsupported token_endpoint_auth_signing_alg: HS256"},
		{name: "client_secret_jwt with HS256", body: `{` + cb + `,"token_endpoint_auth_method":"client_secret_jwt","token_endpoint_auth_signing_alg":"HS256"}`},

		// Subject type, application type, scope, misc.
		{name: "subject_type public", body: `{` + cb + `,"subject_type":"public"}`},
		{name: "subject_type pairwise", body: `{` + cb + `,"subject_type":"pairwise"}`},
		{name: "subject_type pairwise, sector unverifiable", body: `{` + cb + `,"subject_type":"pairwise","sector_identifier_uri":"https://rp.example.com/sector"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "sector_identifier_uri cannot be verified: no fetcher configured"},
		{name: "subject_type other", body: `{` + cb + `,"subject_type":"x"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "unsupported subject_type: x"},
		{name: "application_type other", body: `{` + cb + `,"application_type":"desktop"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "application_type must be web or native"},
		{name: "scope valid", body: `{` + cb + `,"scope":"openid  email"}`},
		{name: "scope invalid token", body: `{` + cb + `,"scope":"openid e\\\"mail"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "scope contains an invalid token"},
		{name: "scope not supported", cfg: func(c *Config) { c.SupportedScopes = []string{"openid"} }, body: `{` + cb + `,"scope":"openid admin"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "unsupported scope: admin"},
		{name: "negative default_max_age", body: `{` + cb + `,"default_max_age":-1}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "default_max_age must not be negative"},
		{name: "code_challenge_method bad", body: `{` + cb + `,"code_challenge_method":"S512"}`, wantCode: oauth.ErrCodeInvalidClientMetadata, wantDesc: "code_challenge_method must be S256 or plain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.cfg)
			if tt.name == "injected jwks validator" {
				f.svc.ValidateJWKS = func([]byte) error { return errors.New("refused by validator") }
			}
			reg, err := registerJSON(t.Context(), f.svc, tt.body)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("Register: %v", err)
				}
				if reg.ClientID == "" {
					t.Fatal("no client_id")
				}
				return
			}
			oe := oauth.AsError(err)
			if oe == nil {
				t.Fatalf("Register error = %v, want *oauth.Error %s", err, tt.wantCode)
			}
			got := struct {
				Code, Desc string
				Status     int
			}{oe.Code, oe.Description, oe.Status}
			want := struct {
				Code, Desc string
				Status     int
			}{tt.wantCode, tt.wantDesc, 400}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s", diff)
			}
			if !oauth.ValidErrorCode(oe.Description) {
				t.Errorf("description %q has characters RFC 6749 §4.1.2.1 forbids", oe.Description)
			}
			if n := len(f.store.clients); n != 0 {
				t.Errorf("store holds %d clients after a refused registration", n)
			}
		})
	}
}

// TestDefaults checks the metadata defaults of RFC 7591 §2 and OIDC
// Dynamic Registration §2 as stored and returned.
func TestDefaults(t *testing.T) {
	tests := []struct {
		name string
		body string
		want store.ClientMetadata
	}{
		{
			name: "nothing given",
			body: `{"redirect_uris":["https://rp.example.com/cb"]}`,
			want: store.ClientMetadata{
				RedirectURIs: []string{"https://rp.example.com/cb"}, ResponseTypes: []string{"code"},
				GrantTypes: []string{"authorization_code"}, ApplicationType: "web",
				TokenEndpointAuthMethod: "client_secret_basic",
			},
		},
		{
			name: "grant types derived from response types",
			body: `{"redirect_uris":["https://rp.example.com/cb"],"response_types":["code","code id_token"]}`,
			want: store.ClientMetadata{
				RedirectURIs: []string{"https://rp.example.com/cb"}, ResponseTypes: []string{"code", "code id_token"},
				GrantTypes: []string{"authorization_code", "implicit"}, ApplicationType: "web",
				TokenEndpointAuthMethod: "client_secret_basic",
			},
		},
		{
			name: "no response types for client_credentials only",
			body: `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_post","scope":"b a b"}`,
			want: store.ClientMetadata{
				GrantTypes: []string{"client_credentials"}, ApplicationType: "web",
				TokenEndpointAuthMethod: "client_secret_post", Scope: "b a",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			reg, err := registerJSON(t.Context(), f.svc, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, reg.Metadata); diff != "" {
				t.Errorf("metadata (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, f.store.clients[reg.ClientID].Metadata); diff != "" {
				t.Errorf("stored metadata (-want +got):\n%s", diff)
			}
		})
	}
}
