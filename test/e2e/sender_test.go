package e2e

import (
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	gojose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/internal/testcerts"
	"github.com/keyward/keyward/internal/testdpop"
)

// sendForm posts a form with extra headers and decodes the JSON answer.
func (e *env) sendForm(path string, form url.Values, header map[string]string) (int, map[string]any, http.Header) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return e.do(req)
}

func (e *env) do(req *http.Request) (int, map[string]any, http.Header) {
	e.t.Helper()
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	if resp.StatusCode >= 500 {
		e.t.Errorf("%s %s: status %d: %s", req.Method, req.URL.Path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out, resp.Header
}

// TestDPoPEndToEnd: a public client binds its authorisation to a DPoP key
// at PAR, redeems the code with a proof of that key, and uses the bound
// tokens at UserInfo and for refresh (RFC 9449 §5, §7, §10.1). Without
// the key the tokens are useless.
func TestDPoPEndToEnd(t *testing.T) {
	e := newEnv(t)
	r := e.newRP(map[string]any{"token_endpoint_auth_method": "none"})
	key, other := testdpop.New(t), testdpop.New(t)
	tokenURL, parURL, userinfoURL := e.issuer+"/token", e.issuer+"/par", e.issuer+"/userinfo"

	// Discovery advertises the proof algorithms.
	var disc map[string]any
	status, disc := e.doJSON(mustRequest(t, http.MethodGet, e.issuer+"/.well-known/openid-configuration"))
	if algs, _ := disc["dpop_signing_alg_values_supported"].([]any); status != 200 || !slices.Contains(algs, any("ES256")) {
		t.Fatalf("discovery dpop_signing_alg_values_supported = %v", disc["dpop_signing_alg_values_supported"])
	}

	flow := func(proofKey *testdpop.Client) (code, verifier string) {
		t.Helper()
		verifier = oauth2.GenerateVerifier()
		push := url.Values{
			"response_type": {"code"}, "client_id": {r.clientID}, "redirect_uri": {r.redirectURI},
			"scope": {"openid email offline_access"}, "state": {"s"}, "prompt": {"consent"},
			"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
		}
		st, body, _ := e.sendForm("/par", push, map[string]string{"DPoP": proofKey.Proof("POST", parURL, testdpop.Opts{})})
		if st != http.StatusCreated {
			t.Fatalf("PAR with DPoP: %d %v", st, body)
		}
		authURL := e.issuer + "/login?" + url.Values{"client_id": {r.clientID}, "request_uri": {body["request_uri"].(string)}}.Encode()
		params, _ := r.loginViaAPI(authURL, "alice", "")
		if params.Get("code") == "" {
			t.Fatalf("no code: %v", params)
		}
		return params.Get("code"), verifier
	}
	redeem := func(code, verifier string, header map[string]string) (int, map[string]any, http.Header) {
		return e.sendForm("/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {r.redirectURI}, "client_id": {r.clientID}, "code_verifier": {verifier}}, header)
	}

	// A code bound at PAR cannot be redeemed with another key.
	code, verifier := flow(key)
	st, body, _ := redeem(code, verifier, map[string]string{"DPoP": other.Proof("POST", tokenURL, testdpop.Opts{})})
	wantOAuthError(t, st, body, 400, "invalid_dpop_proof")

	// A proof for another endpoint (htu) is refused before the code is
	// touched; so is a proof carrying its private key.
	code, verifier = flow(key)
	st, body, _ = redeem(code, verifier, map[string]string{"DPoP": key.Proof("POST", parURL, testdpop.Opts{})})
	wantOAuthError(t, st, body, 400, "invalid_dpop_proof")
	st, body, _ = redeem(code, verifier, map[string]string{"DPoP": key.Proof("POST", tokenURL, testdpop.Opts{PrivateJWK: true})})
	wantOAuthError(t, st, body, 400, "invalid_dpop_proof")
	proof := key.Proof("POST", tokenURL, testdpop.Opts{})
	st, tok, hdr := redeem(code, verifier, map[string]string{"DPoP": proof})
	if st != 200 || tok["token_type"] != "DPoP" || hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("redeem with the key: %d %v", st, tok)
	}
	at := tok["access_token"].(string)
	if cnf, _ := jwtClaims(t, at)["cnf"].(map[string]any); cnf["jkt"] != key.JKT() {
		t.Fatalf("access token cnf = %v, want jkt %s", cnf, key.JKT())
	}

	userinfo := func(header map[string]string) (int, map[string]any, http.Header) {
		req := mustRequest(t, http.MethodGet, userinfoURL)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		return e.do(req)
	}
	st, info, _ := userinfo(map[string]string{"Authorization": "DPoP " + at,
		"DPoP": key.Proof("GET", userinfoURL, testdpop.Opts{AccessToken: at})})
	if st != 200 || info["sub"] != "alice" {
		t.Fatalf("userinfo with DPoP: %d %v", st, info)
	}
	// The bound token as a bearer token, with another key's proof, without
	// a proof, and with a replayed proof.
	st, body, hdr = userinfo(map[string]string{"Authorization": "Bearer " + at})
	wantOAuthError(t, st, body, 401, "invalid_token")
	if !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "DPoP ") {
		t.Errorf("WWW-Authenticate = %q, want the DPoP scheme", hdr.Get("WWW-Authenticate"))
	}
	st, body, _ = userinfo(map[string]string{"Authorization": "DPoP " + at,
		"DPoP": other.Proof("GET", userinfoURL, testdpop.Opts{AccessToken: at})})
	wantOAuthError(t, st, body, 401, "invalid_token")
	st, body, hdr = userinfo(map[string]string{"Authorization": "DPoP " + at})
	wantOAuthError(t, st, body, 401, "invalid_dpop_proof")
	if h := hdr.Get("WWW-Authenticate"); !strings.Contains(h, `error="invalid_dpop_proof"`) || !strings.Contains(h, `algs="`) {
		t.Errorf("WWW-Authenticate = %q", h)
	}
	replayed := key.Proof("GET", userinfoURL, testdpop.Opts{AccessToken: at})
	if st, _, _ := userinfo(map[string]string{"Authorization": "DPoP " + at, "DPoP": replayed}); st != 200 {
		t.Fatalf("fresh proof: %d", st)
	}
	st, body, _ = userinfo(map[string]string{"Authorization": "DPoP " + at, "DPoP": replayed})
	wantOAuthError(t, st, body, 401, "invalid_dpop_proof")

	// Introspection reports the binding (RFC 9449 §6.2).
	st, in, _ := e.sendForm("/token/introspect", url.Values{"token": {at}}, map[string]string{"Authorization": "Bearer " + e.apiToken})
	if cnf, _ := in["cnf"].(map[string]any); st != 200 || in["active"] != true || in["token_type"] != "DPoP" || cnf["jkt"] != key.JKT() {
		t.Errorf("introspection: %d %v", st, in)
	}

	// The public client's refresh token is bound too.
	rt := tok["refresh_token"].(string)
	refresh := func(header map[string]string) (int, map[string]any, http.Header) {
		return e.sendForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {r.clientID}}, header)
	}
	st, body, _ = refresh(nil)
	wantOAuthError(t, st, body, 400, "invalid_dpop_proof")
	st, body, _ = refresh(map[string]string{"DPoP": other.Proof("POST", tokenURL, testdpop.Opts{})})
	wantOAuthError(t, st, body, 400, "invalid_grant")
	st, body, _ = refresh(map[string]string{"DPoP": key.Proof("POST", tokenURL, testdpop.Opts{})})
	if st != 200 || body["token_type"] != "DPoP" {
		t.Fatalf("refresh with the key: %d %v", st, body)
	}
	// The same proof for the token endpoint twice.
	st, body, _ = refresh(map[string]string{"DPoP": proof})
	wantOAuthError(t, st, body, 400, "invalid_dpop_proof")
}

// TestDPoPNonce: with dpop.nonce_required the server answers
// use_dpop_nonce with a DPoP-Nonce header, and the retry succeeds.
func TestDPoPNonce(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.DPoP.NonceRequired = true })
	r := e.newRP(map[string]any{"token_endpoint_auth_method": "none", "dpop_bound_access_tokens": true})
	key := testdpop.New(t)
	verifier := oauth2.GenerateVerifier()
	q := r.baseQuery()
	q.Set("code_challenge", oauth2.S256ChallengeFromVerifier(verifier))
	q.Set("dpop_jkt", key.JKT())
	params, _ := r.loginViaAPI(e.issuer+"/login?"+q.Encode(), "alice", "")
	form := url.Values{"grant_type": {"authorization_code"}, "code": {params.Get("code")},
		"redirect_uri": {r.redirectURI}, "client_id": {r.clientID}, "code_verifier": {verifier}}
	// dpop_bound_access_tokens: no proof at all is refused.
	st, body, _ := e.sendForm("/token", form, nil)
	wantOAuthError(t, st, body, 400, "invalid_dpop_proof")
	st, body, hdr := e.sendForm("/token", form, map[string]string{"DPoP": key.Proof("POST", e.issuer+"/token", testdpop.Opts{})})
	wantOAuthError(t, st, body, 400, "use_dpop_nonce")
	nonce := hdr.Get("DPoP-Nonce")
	if nonce == "" {
		t.Fatal("use_dpop_nonce without a DPoP-Nonce header")
	}
	st, body, hdr = e.sendForm("/token", form, map[string]string{"DPoP": key.Proof("POST", e.issuer+"/token", testdpop.Opts{Nonce: nonce})})
	if st != 200 || body["token_type"] != "DPoP" || hdr.Get("DPoP-Nonce") == "" {
		t.Fatalf("with the nonce: %d %v (DPoP-Nonce %q)", st, body, hdr.Get("DPoP-Nonce"))
	}
}

// TestMTLSBehindProxy: a TLS-terminating proxy forwards the client
// certificate in a header (RFC 8705 with mtls.client_cert_header);
// tls_client_auth and self_signed_tls_client_auth clients authenticate
// with it and get certificate-bound tokens; the header is ignored from a
// sender not among trusted_proxies.
func TestMTLSBehindProxy(t *testing.T) {
	ca := testcerts.CA(t, "Keyward test client CA")
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	proxied := func(trusted string) func(*config.Config) {
		return func(c *config.Config) {
			c.MTLS.ClientCertHeader = "X-Client-Cert"
			c.TrustedProxies = []string{trusted}
			c.TLS.ClientCA = caFile
		}
	}
	e := newEnv(t, proxied("127.0.0.1"))
	pkiCert := testcerts.Issue(t, ca, testcerts.Template{Subject: pkix.Name{CommonName: "batch", Organization: []string{"Example"}}})
	wrongName := testcerts.Issue(t, ca, testcerts.Template{Subject: pkix.Name{CommonName: "intruder", Organization: []string{"Example"}}})
	self := testcerts.Issue(t, nil, testcerts.Template{Subject: pkix.Name{CommonName: "self"}})
	selfJWKS := map[string]any{"keys": []any{ecJWK(t, self)}}

	_, disc := e.doJSON(mustRequest(t, http.MethodGet, e.issuer+"/.well-known/openid-configuration"))
	methods, _ := disc["token_endpoint_auth_methods_supported"].([]any)
	aliases, _ := disc["mtls_endpoint_aliases"].(map[string]any)
	if !slices.Contains(methods, any("tls_client_auth")) || !slices.Contains(methods, any("self_signed_tls_client_auth")) ||
		aliases["token_endpoint"] != e.issuer+"/token" || disc["tls_client_certificate_bound_access_tokens"] != true {
		t.Fatalf("discovery: methods %v aliases %v bound %v", methods, aliases, disc["tls_client_certificate_bound_access_tokens"])
	}

	register := func(md map[string]any) string {
		t.Helper()
		md["grant_types"], md["response_types"], md["scope"] = []string{"client_credentials"}, []string{}, "read"
		md["tls_client_certificate_bound_access_tokens"] = true
		st, reg := e.registerClient(md)
		if st != http.StatusCreated {
			t.Fatalf("register: %d %v", st, reg)
		}
		return reg["client_id"].(string)
	}
	pkiID := register(map[string]any{"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_subject_dn": "CN=batch,O=Example"})
	selfID := register(map[string]any{"token_endpoint_auth_method": "self_signed_tls_client_auth", "jwks": selfJWKS})

	token := func(env *env, id string, cert *testcerts.Cert) (int, map[string]any) {
		h := map[string]string{}
		if cert != nil {
			h["X-Client-Cert"] = url.QueryEscape(string(cert.PEM()))
		}
		st, body, _ := env.sendForm("/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}}, h)
		return st, body
	}
	for _, c := range []struct {
		id   string
		cert *testcerts.Cert
	}{{pkiID, pkiCert}, {selfID, self}} {
		st, body := token(e, c.id, c.cert)
		if st != 200 || body["token_type"] != "Bearer" {
			t.Fatalf("client_credentials with certificate: %d %v", st, body)
		}
		cnf, _ := jwtClaims(t, body["access_token"].(string))["cnf"].(map[string]any)
		if cnf["x5t#S256"] == nil || cnf["x5t#S256"] == "" {
			t.Errorf("access token cnf = %v, want x5t#S256", cnf)
		}
	}
	// A certificate that does not match, none, or a self-signed one for
	// the CA client.
	for name, c := range map[string]struct {
		id   string
		cert *testcerts.Cert
	}{"wrong subject": {pkiID, wrongName}, "no certificate": {pkiID, nil}, "self-signed for CA client": {pkiID, self},
		"other key for self-signed client": {selfID, pkiCert}} {
		st, body := token(e, c.id, c.cert)
		if st != 401 || body["error"] != "invalid_client" {
			t.Errorf("%s: %d %v, want 401 invalid_client", name, st, body)
		}
	}
	st, body, _ := e.sendForm("/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {pkiID}},
		map[string]string{"X-Client-Cert": "garbage"})
	wantOAuthError(t, st, body, 400, "invalid_request")

	// A public client's certificate-bound token at UserInfo: only over a
	// connection with the same certificate (RFC 8705 §3).
	r := e.newRP(map[string]any{"token_endpoint_auth_method": "none", "tls_client_certificate_bound_access_tokens": true})
	verifier := oauth2.GenerateVerifier()
	q := r.baseQuery()
	q.Set("code_challenge", oauth2.S256ChallengeFromVerifier(verifier))
	params, _ := r.loginViaAPI(e.issuer+"/login?"+q.Encode(), "alice", "")
	certHeader := func(c *testcerts.Cert) map[string]string {
		return map[string]string{"X-Client-Cert": url.QueryEscape(string(c.PEM()))}
	}
	st, tok, _ := e.sendForm("/token", url.Values{"grant_type": {"authorization_code"}, "code": {params.Get("code")},
		"redirect_uri": {r.redirectURI}, "client_id": {r.clientID}, "code_verifier": {verifier}}, certHeader(self))
	if st != 200 {
		t.Fatalf("redeem with a certificate: %d %v", st, tok)
	}
	at := tok["access_token"].(string)
	userinfo := func(h map[string]string) (int, map[string]any) {
		req := mustRequest(t, http.MethodGet, e.issuer+"/userinfo")
		req.Header.Set("Authorization", "Bearer "+at)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		st, body, _ := e.do(req)
		return st, body
	}
	if st, body := userinfo(certHeader(self)); st != 200 || body["sub"] != "alice" {
		t.Fatalf("userinfo with the certificate: %d %v", st, body)
	}
	st, body = userinfo(certHeader(pkiCert))
	wantOAuthError(t, st, body, 401, "invalid_token")
	st, body = userinfo(nil)
	wantOAuthError(t, st, body, 401, "invalid_token")

	// From a sender that is not a trusted proxy the header counts for
	// nothing.
	untrusted := newEnv(t, proxied("192.0.2.1"))
	st2, reg := untrusted.registerClient(map[string]any{"token_endpoint_auth_method": "tls_client_auth",
		"tls_client_auth_subject_dn": "CN=batch,O=Example", "grant_types": []string{"client_credentials"},
		"response_types": []string{}, "scope": "read"})
	if st2 != http.StatusCreated {
		t.Fatalf("register: %d %v", st2, reg)
	}
	st, body = token(untrusted, reg["client_id"].(string), pkiCert)
	wantOAuthError(t, st, body, 401, "invalid_client")
}

func mustRequest(t *testing.T, method, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// ecJWK is the public JWK of a certificate's key, as a
// self_signed_tls_client_auth client registers it.
func ecJWK(t *testing.T, c *testcerts.Cert) map[string]any {
	t.Helper()
	raw, err := json.Marshal(gojose.JSONWebKey{Key: c.Key.Public(), KeyID: "tls", Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
