package conformance

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Dynamic OP plan (oidcc-dynamic-certification-test-plan, response_type
// code), the modules that apply without implicit flows or request objects.
// Clients register over RFC 7591 and, unless
// a module says otherwise, authenticate with private_key_jwt.

// 4. oidcc-ensure-redirect-uri-in-authorization-request: with two
// registered redirect URIs a request without redirect_uri gets an error
// page (OIDC Core §3.1.2.1: required).
func TestOIDCCEnsureRedirectURIInAuthorizationRequest(t *testing.T) {
	e := newEnv(t)
	c := e.newClient("private_key_jwt", map[string]any{
		"redirect_uris": []string{freeLoopbackURL(t, "/cb1"), freeLoopbackURL(t, "/cb2")},
	})
	q := c.authQuery()
	q.Del("redirect_uri")
	checkErrorPage(t, e.authorize(q.Encode(), "", alice), "invalid_request")
	checkLoginUIErrorPage(t, e, q)
}

// 5. oidcc-redirect-uri-query-OK: a registered redirect URI with a query,
// sent exactly, works; the query is kept in the response (RFC 6749
// §3.1.2).
func TestOIDCCRedirectURIQueryOK(t *testing.T) {
	e := newEnv(t)
	c := e.newClient("private_key_jwt", map[string]any{
		"redirect_uris": []string{freeLoopbackURL(t, "/cb") + "?foo=bar"},
	})
	f := c.codeFlow(c.authQuery(), "", alice, nil)
	if got := f.authz.location.Query().Get("foo"); got != "bar" {
		t.Errorf("response redirect %s lost the registered query foo=bar", f.authz.location)
	}
}

// 6. oidcc-redirect-uri-query-mismatch: a different query is an error
// page (OIDC Core §3.1.2.1: exact match).
func TestOIDCCRedirectURIQueryMismatch(t *testing.T) {
	e := newEnv(t)
	base := freeLoopbackURL(t, "/cb")
	c := e.newClient("private_key_jwt", map[string]any{"redirect_uris": []string{base + "?foo=bar"}})
	q := c.authQuery()
	q.Set("redirect_uri", base+"?foo=zot")
	checkErrorPage(t, e.authorize(q.Encode(), "", alice), "invalid_request")
	checkLoginUIErrorPage(t, e, q)
}

// 7. oidcc-redirect-uri-query-added: a query added to a registered URI
// without one is an error page.
func TestOIDCCRedirectURIQueryAdded(t *testing.T) {
	e := newEnv(t)
	c := e.newClient("private_key_jwt", nil)
	q := c.authQuery()
	q.Set("redirect_uri", c.redirectURI+"?foo=bar")
	checkErrorPage(t, e.authorize(q.Encode(), "", alice), "invalid_request")
	checkLoginUIErrorPage(t, e, q)
}

// 8. oidcc-redirect-uri-regfrag: a redirect URI with a fragment is refused
// at registration (RFC 6749 §3.1.2, RFC 7591 §3.2.2).
func TestOIDCCRedirectURIRegFrag(t *testing.T) {
	e := newEnv(t)
	r := e.register(map[string]any{
		"redirect_uris":              []string{freeLoopbackURL(t, "/cb") + "#fragment"},
		"token_endpoint_auth_method": "private_key_jwt",
		"jwks":                       publicJWKS(newRSAKey(t)),
	})
	if r.status != http.StatusBadRequest || r.body == nil {
		t.Fatalf("registration with a fragment: status %d %s, want 400 JSON", r.status, r.raw)
	}
	if code := r.str("error"); code != "invalid_redirect_uri" && code != "invalid_client_metadata" {
		t.Errorf("error = %q, want invalid_redirect_uri or invalid_client_metadata", code)
	}
}

// 10. oidcc-server (dynamic): the happy flow with a dynamically registered
// private_key_jwt client, keys inline in jwks (OIDC Core §9).
func TestOIDCCServerPrivateKeyJWT(t *testing.T) {
	e := newEnv(t)
	c := e.newClient("private_key_jwt", nil)
	f := c.codeFlow(c.authQuery(), "", alice, nil)
	checkUserInfo(t, e.userinfo(http.MethodGet, f.tok.str("access_token")), f.id)

	// The same code flow with a wrong key must not authenticate.
	other := *c
	other.key = newRSAKey(t)
	ar := e.authorize(c.authQuery().Encode(), f.authz.subSID, alice)
	if r := other.redeem(ar.params.Get("code"), nil); r.status != http.StatusUnauthorized || r.str("error") != "invalid_client" {
		t.Errorf("assertion signed by an unregistered key: %d %s, want 401 invalid_client", r.status, r.raw)
	}
}

// Beyond the suite: a client assertion valid for 24 hours is refused, as
// its jti could not be remembered that long; the same client then
// authenticates with a short-lived one.
func TestLongLivedClientAssertionRefused(t *testing.T) {
	e := newEnv(t)
	c := e.newClient("private_key_jwt", nil)
	ar := e.authorize(c.authQuery().Encode(), "", alice)
	long := *c
	long.assertionLife = 24 * time.Hour
	if r := long.redeem(ar.params.Get("code"), nil); r.status != http.StatusUnauthorized || r.str("error") != "invalid_client" {
		t.Fatalf("24-hour assertion: %d %q, want 401 invalid_client", r.status, r.str("error"))
	}
	if r := c.redeem(ar.params.Get("code"), nil); r.status != http.StatusOK {
		t.Errorf("short-lived assertion after the refused one: %d %s", r.status, r.str("error"))
	}
}

// jwksServer serves a client's public keys at a jwks_uri the test can
// change (RP key rotation).
type jwksServer struct {
	mu   sync.Mutex
	set  jose.JSONWebKeySet
	hits int
	url  string
}

func newJWKSServer(t *testing.T, keys ...*jose.JSONWebKey) *jwksServer {
	t.Helper()
	s := &jwksServer{set: publicJWKS(keys...)}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits++
		b, err := json.Marshal(s.set)
		s.mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}))
	t.Cleanup(ts.Close)
	s.url = ts.URL + "/jwks.json"
	return s
}

func (s *jwksServer) serve(keys ...*jose.JSONWebKey) {
	s.mu.Lock()
	s.set = publicJWKS(keys...)
	s.mu.Unlock()
}

func (s *jwksServer) fetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits
}

// 14. oidcc-registration-jwks-uri: keys at a registered jwks_uri, fetched
// by the OP to verify private_key_jwt assertions.
func TestOIDCCRegistrationJWKSURI(t *testing.T) {
	e := newEnv(t)
	key := newRSAKey(t)
	js := newJWKSServer(t, key)
	c := e.newClient("private_key_jwt", map[string]any{"jwks_uri": js.url})
	c.key = key
	c.codeFlow(c.authQuery(), "", alice, nil)
	if js.fetches() == 0 {
		t.Errorf("the OP authenticated the client without fetching its jwks_uri")
	}
}

// Beyond the suite: a jwks_uri that redirects is refused (invalid_client)
// and its redirect target, which could be an internal address, receives
// no request.
func TestJWKSURIRedirectRefused(t *testing.T) {
	e := newEnv(t)
	key := newRSAKey(t)
	target := newJWKSServer(t, key)
	var hits atomic.Int32
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, target.url, http.StatusFound)
	}))
	t.Cleanup(redirector.Close)
	c := e.newClient("private_key_jwt", map[string]any{"jwks_uri": redirector.URL + "/jwks.json"})
	c.key = key
	ar := e.authorize(c.authQuery().Encode(), "", alice)
	if r := c.redeem(ar.params.Get("code"), nil); r.status != http.StatusUnauthorized || r.str("error") != "invalid_client" {
		t.Errorf("assertion verified through a redirecting jwks_uri: %d %q, want 401 invalid_client", r.status, r.str("error"))
	}
	if hits.Load() == 0 {
		t.Error("the jwks_uri was never requested")
	}
	if n := target.fetches(); n != 0 {
		t.Errorf("the redirect target received %d requests, want none", n)
	}
}

// 17. oidcc-server-rotate-keys: after the operator rotates the signing
// keys the JWKS has a new key (failure if not) and still the old one (a
// warning in the suite; required here since retired keys stay published),
// and new ID tokens are signed with the new key.
func TestOIDCCServerRotateKeys(t *testing.T) {
	e := newEnv(t)
	c := e.newClient("private_key_jwt", nil)
	before := c.codeFlow(c.authQuery(), "", alice, nil)
	_, md := e.discovery()
	jwksURI := md["jwks_uri"].(string)
	oldKids := checkJWKS(t, e, jwksURI)

	if err := e.srv.RotateKeys(t.Context()); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	newKids := checkJWKS(t, e, jwksURI)
	for _, k := range oldKids {
		if !slices.Contains(newKids, k) {
			t.Errorf("old kid %q is no longer published after the rotation", k)
		}
	}
	added := slices.DeleteFunc(slices.Clone(newKids), func(k string) bool { return slices.Contains(oldKids, k) })
	if len(added) == 0 {
		t.Fatalf("no new key after the rotation: %v", newKids)
	}

	after := c.codeFlow(c.authQuery(), before.authz.subSID, alice, nil)
	if after.id.kid == before.id.kid || !slices.Contains(added, after.id.kid) {
		t.Errorf("ID token after rotation signed with kid %q, want a new one of %v (before: %q)", after.id.kid, added, before.id.kid)
	}
	// A token issued before the rotation still verifies.
	if _, err := c.verifier.Verify(e.ctx(), before.id.raw); err != nil {
		t.Errorf("ID token from before the rotation no longer verifies: %v", err)
	}
}

// 18. oidcc-refresh-token-rp-key-rotation: the RP replaces its key at its
// jwks_uri and, after the suite's 60 s wait (the shared clock moves),
// refreshes with an assertion signed by the new key; the OP must re-fetch
// on the unknown kid. The old key is then no longer accepted.
func TestOIDCCRefreshTokenRPKeyRotation(t *testing.T) {
	e := newEnv(t)
	oldKey := newRSAKey(t)
	js := newJWKSServer(t, oldKey)
	c := e.newClient("private_key_jwt", map[string]any{"jwks_uri": js.url})
	c.key = oldKey
	q := c.authQuery()
	q.Set("scope", "openid offline_access")
	q.Set("prompt", "consent")
	f := c.codeFlow(q, "", alice, nil)
	rt := f.tok.str("refresh_token")
	if rt == "" {
		t.Fatalf("no refresh token: %s", f.tok.raw)
	}

	newKey := newRSAKey(t)
	js.serve(newKey)
	e.clock.Advance(61 * time.Second)
	c.key = newKey
	r := c.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	checkRefresh(t, c, f, r)
	if rot, ok := r.body["refresh_token"].(string); ok {
		rt = rot
	}

	c.key = oldKey
	r = c.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	if r.status != http.StatusUnauthorized || r.str("error") != "invalid_client" {
		t.Errorf("assertion signed by the removed key: %d %s, want 401 invalid_client", r.status, r.raw)
	}
}

// 23. oidcc-ensure-client-assertion-with-iss-aud-succeeds: a client
// assertion whose aud is the issuer rather than the token endpoint (OIDC
// Core §9 allows either; RFC 7523 §3). The suite only warns on a proper
// error; Keyward accepts the issuer, so success is required.
func TestOIDCCEnsureClientAssertionWithIssAudSucceeds(t *testing.T) {
	e := newEnv(t)
	c := e.newClient("private_key_jwt", nil)
	c.assertionAud = e.issuer
	c.codeFlow(c.authQuery(), "", alice, nil)

	// An audience that is neither must fail, or the check above proves
	// nothing.
	c.assertionAud = e.issuer + "/elsewhere"
	ar := e.authorize(c.authQuery().Encode(), "", alice)
	if r := c.redeem(ar.params.Get("code"), nil); r.status != http.StatusUnauthorized || r.str("error") != "invalid_client" {
		t.Errorf("assertion with aud %s: %d %s, want 401 invalid_client", c.assertionAud, r.status, r.raw)
	}
}
