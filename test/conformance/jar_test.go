package conformance

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Request objects (RFC 9101) and JWT-secured authorisation responses
// (JARM), black box: the RP signs and encrypts its objects with go-jose,
// serves them from its own request_uri, and verifies the responses
// against the published /jwks.json (docs/api.md §21).

// requestObject signs claims with the client's key as an RFC 9101 request
// object (typ oauth-authz-req+jwt), with iss, aud and a one-minute exp
// unless claims set them (nil deletes).
func (c *client) requestObject(key *jose.JSONWebKey, claims map[string]any) string {
	t := c.e.t
	t.Helper()
	now := c.e.clock.Now()
	all := map[string]any{"iss": c.id, "aud": c.e.issuer, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
	for k, v := range claims {
		if v == nil {
			delete(all, k)
		} else {
			all[k] = v
		}
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("oauth-authz-req+jwt").WithHeader("kid", key.KeyID))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(all)
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := obj.CompactSerialize()
	return out
}

// objectClaims are the parameters of a code request as object claims.
func (c *client) objectClaims(q url.Values) map[string]any {
	out := map[string]any{}
	for k := range q {
		out[k] = q.Get(k)
	}
	return out
}

// publishedKeys fetches /jwks.json as a relying party would.
func publishedKeys(t *testing.T, e *env) jose.JSONWebKeySet {
	t.Helper()
	r := e.get(e.issuer+"/jwks.json", "")
	var set jose.JSONWebKeySet
	if r.status != http.StatusOK || json.Unmarshal(r.raw, &set) != nil {
		t.Fatalf("GET /jwks.json: %d %s", r.status, r.raw)
	}
	return set
}

// encryptToOP encrypts a signed request object to the OP's published
// encryption key for alg, A256GCM (RFC 9101 §6.1).
func encryptToOP(t *testing.T, e *env, alg jose.KeyAlgorithm, signed string) string {
	t.Helper()
	for _, k := range publishedKeys(t, e).Keys {
		if k.Use != "enc" || k.Algorithm != string(alg) {
			continue
		}
		enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: alg, Key: k.Key, KeyID: k.KeyID},
			(&jose.EncrypterOptions{}).WithContentType("JWT"))
		if err != nil {
			t.Fatal(err)
		}
		obj, err := enc.Encrypt([]byte(signed))
		if err != nil {
			t.Fatal(err)
		}
		out, _ := obj.CompactSerialize()
		return out
	}
	t.Fatalf("/jwks.json has no use=enc %s key", alg)
	return ""
}

// jarmResponse verifies the "response" JWT of a JARM redirect against
// /jwks.json and returns its claims, after checking iss, aud and exp.
func jarmResponse(t *testing.T, e *env, c *client, ar *authzResult) map[string]any {
	t.Helper()
	if ar.params == nil || len(ar.params) != 1 || ar.params.Get("response") == "" {
		t.Fatalf("want a JARM response carrying only the response parameter, got %v / %v", ar.final, ar.params)
	}
	tok, err := jose.ParseSignedCompact(ar.params.Get("response"), []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA, jose.PS256})
	if err != nil {
		t.Fatal(err)
	}
	kid := tok.Signatures[0].Header.KeyID
	set := publishedKeys(t, e)
	keys := set.Key(kid)
	if len(keys) != 1 || keys[0].Use != "sig" {
		t.Fatalf("response JWT kid %q is not one published signing key", kid)
	}
	payload, err := tok.Verify(keys[0].Key)
	if err != nil {
		t.Fatalf("response JWT does not verify against /jwks.json: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	exp, _ := claims["exp"].(float64)
	if claims["iss"] != e.issuer || claims["aud"] != c.id || exp < float64(e.clock.Now().Unix()) {
		t.Errorf("response JWT claims %v: want iss %s, aud %s and a future exp", claims, e.issuer, c.id)
	}
	return claims
}

// A client that requires signed request objects sends one signed with its
// registered key, asks for query.jwt, and redeems the code from the
// verified response JWT with go-oidc's checks on the ID token.
func TestJARSignedRequestObjectWithJARM(t *testing.T) {
	e := newEnv(t)
	_, md := e.discovery()
	for _, want := range []string{"query.jwt", "fragment.jwt", "form_post.jwt", "jwt"} {
		if !slices.Contains(asSlice(md["response_modes_supported"]), any(want)) {
			t.Errorf("response_modes_supported lacks %s", want)
		}
	}
	if md["request_parameter_supported"] != true || md["request_uri_parameter_supported"] != true ||
		slices.Contains(asSlice(md["request_object_signing_alg_values_supported"]), any("none")) {
		t.Errorf("request object metadata: %v %v %v", md["request_parameter_supported"], md["request_uri_parameter_supported"], md["request_object_signing_alg_values_supported"])
	}
	c := e.newClient("private_key_jwt", map[string]any{"require_signed_request_object": true})
	q := c.authQuery()
	q.Set("response_mode", "query.jwt")
	obj := c.objectClaims(q)
	// Only client_id (and the object) travel outside it.
	ar := e.authorize(url.Values{"client_id": {c.id}, "request": {c.requestObject(c.key, obj)}}.Encode(), "", alice)
	if ar.final["mode"] != "query.jwt" {
		t.Errorf("final response mode %v, want query.jwt", ar.final["mode"])
	}
	claims := jarmResponse(t, e, c, ar)
	if claims["state"] != q.Get("state") {
		t.Errorf("state %v, want %s", claims["state"], q.Get("state"))
	}
	code, _ := claims["code"].(string)
	tok := c.redeem(code, nil)
	if tok.status != http.StatusOK {
		t.Fatalf("redeem the JARM code: %d %s", tok.status, tok.raw)
	}
	id, err := c.verifier.Verify(e.ctx(), tok.str("id_token"))
	if err != nil || id.Nonce != q.Get("nonce") {
		t.Fatalf("ID token: %v (nonce %q)", err, id.Nonce)
	}
}

// An encrypted request object by reference from the client's registered
// request_uris, and one pushed to the PAR endpoint, each answered in
// form_post.jwt.
func TestJARRequestURIAndPARWithEncryption(t *testing.T) {
	e := newEnv(t)
	objects := map[string]string{}
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		obj, ok := objects[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/oauth-authz-req+jwt")
		w.Write([]byte(obj))
	}))
	t.Cleanup(rp.Close)
	c := e.newClient("private_key_jwt", map[string]any{"request_uris": []string{rp.URL + "/ro/"}})

	for _, alg := range []jose.KeyAlgorithm{jose.RSA_OAEP_256, jose.ECDH_ES} {
		q := c.authQuery()
		q.Set("response_mode", "form_post.jwt")
		objects["/ro/"+string(alg)] = encryptToOP(t, e, alg, c.requestObject(c.key, c.objectClaims(q)))
		ar := e.authorize(url.Values{"client_id": {c.id}, "request_uri": {rp.URL + "/ro/" + string(alg)}}.Encode(), "", alice)
		if ar.final["mode"] != "form_post.jwt" {
			t.Errorf("%s: mode %v", alg, ar.final["mode"])
		}
		if claims := jarmResponse(t, e, c, ar); claims["state"] != q.Get("state") || claims["code"] == nil {
			t.Errorf("%s: claims %v", alg, claims)
		}
	}

	q := c.authQuery()
	obj := encryptToOP(t, e, jose.RSA_OAEP_256, c.requestObject(c.key, c.objectClaims(q)))
	par := c.par(url.Values{"client_id": {c.id}, "request": {obj}})
	if par.status != http.StatusCreated {
		t.Fatalf("PAR with a request object: %d %s", par.status, par.raw)
	}
	ar := e.authorize(url.Values{"client_id": {c.id}, "request_uri": {par.str("request_uri")}}.Encode(), "", alice)
	if ar.params.Get("state") != q.Get("state") || ar.params.Get("code") == "" {
		t.Errorf("pushed request object: response %v", ar.params)
	}
}

// par pushes form to the PAR endpoint with a private_key_jwt assertion.
func (c *client) par(form url.Values) *response {
	c.e.t.Helper()
	form = cloneValues(form)
	form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	form.Set("client_assertion", c.assertion(c.key, c.e.issuer))
	return c.e.postForm(c.e.issuer+"/par", form, nil)
}

// Every refusal of issue 15's bad-input list for JAR and JARM, with its
// exact error; none is a 5xx (the harness fails on any non-200 from the
// session API, and the PAR answers are checked).
func TestJARBadInput(t *testing.T) {
	e := newEnv(t)
	c := e.newClient("private_key_jwt", nil)
	strict := e.newClient("private_key_jwt", map[string]any{"require_signed_request_object": true})
	other := e.newClient("private_key_jwt", nil)
	q := c.authQuery()
	good := c.requestObject(c.key, c.objectClaims(q))
	none := unsignedRequestObject(t, map[string]any{
		"iss": c.id, "aud": e.issuer, "exp": e.clock.Now().Add(time.Minute).Unix(),
		"client_id": c.id, "response_type": "code", "redirect_uri": c.redirectURI, "scope": "openid",
	})
	for _, tc := range []struct {
		name  string
		query url.Values
		code  string
	}{
		{"unsigned for a client that requires signing", strict.authQuery(), "invalid_request"},
		{"alg none", url.Values{"client_id": {c.id}, "request": {none}}, "invalid_request_object"},
		{"another client's object", url.Values{"client_id": {c.id}, "request": {other.requestObject(other.key, other.objectClaims(other.authQuery()))}}, "invalid_request_object"},
		{"another client as iss, signed by it", url.Values{"client_id": {c.id}, "request": {other.requestObject(other.key, c.objectClaims(q))}}, "invalid_request_object"},
		{"expired", url.Values{"client_id": {c.id}, "request": {c.requestObject(c.key, map[string]any{
			"exp": e.clock.Now().Add(-5 * time.Minute).Unix(), "iat": e.clock.Now().Add(-6 * time.Minute).Unix(),
			"response_type": "code", "redirect_uri": c.redirectURI, "scope": "openid", "client_id": c.id,
		})}}, "invalid_request_object"},
		{"request and request_uri", url.Values{"client_id": {c.id}, "request": {good}, "request_uri": {"https://rp.example/ro.jwt"}}, "invalid_request"},
		{"unregistered request_uri", url.Values{"client_id": {c.id}, "request_uri": {"https://rp.example/ro.jwt"}}, "invalid_request_uri"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ar := e.authorize(tc.query.Encode(), "", alice)
			checkErrorPage(t, ar, tc.code)
		})
	}
	t.Run("unregistered response mode", func(t *testing.T) {
		q := c.authQuery()
		q.Set("response_mode", "query.jwe")
		checkErrorRedirect(t, e, q, e.authorize(q.Encode(), "", alice), "invalid_request")
	})
	t.Run("at the PAR endpoint", func(t *testing.T) {
		for name, form := range map[string]url.Values{
			"alg none":               {"client_id": {c.id}, "request": {none}},
			"another client's":       {"client_id": {c.id}, "request": {other.requestObject(other.key, other.objectClaims(other.authQuery()))}},
			"plain from strict":      strict.authQuery(),
			"encrypted to no key":    {"client_id": {c.id}, "request": {"eyJhbGciOiJSU0EtT0FFUC0yNTYiLCJlbmMiOiJBMjU2R0NNIn0.a.b.c.d"}},
			"request_uri in a push":  {"client_id": {c.id}, "request_uri": {"https://rp.example/ro.jwt"}},
			"nested request objects": {"client_id": {c.id}, "request": {c.requestObject(c.key, map[string]any{"request": good, "client_id": c.id})}},
		} {
			pc := c
			if name == "plain from strict" {
				pc = strict
			}
			r := pc.par(form)
			want := "invalid_request_object"
			if name == "plain from strict" || name == "request_uri in a push" {
				want = "invalid_request"
			}
			if r.status != http.StatusBadRequest || r.str("error") != want {
				t.Errorf("%s: PAR answered %d %s, want 400 %s", name, r.status, r.raw, want)
			}
			if d := r.str("error_description"); strings.ContainsAny(d, "\"\\") {
				t.Errorf("%s: error_description %q has characters RFC 6749 forbids", name, d)
			}
		}
	})
}
