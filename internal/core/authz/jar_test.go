package authz

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	gojose "github.com/go-jose/go-jose/v4"

	"github.com/keyward/keyward/internal/jose"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// The real verifier and key manager satisfy the interfaces we declare.
var (
	_ RequestObjectVerifier = (*jose.RequestObjects)(nil)
	_ ResponseSigner        = (*jose.KeyManager)(nil)
)

// jarEnv is env with request objects, request_uri fetching and JARM
// enabled, and clients "jar" and "jar2" with their own ES256 keys.
type jarEnv struct {
	*env
	key, key2 *ecdsa.PrivateKey
	fetched   map[string]string
}

type mapFetcher map[string]string

func (m mapFetcher) Fetch(_ context.Context, rawURL string, _ int64) ([]byte, error) {
	if body, ok := m[rawURL]; ok {
		return []byte(body), nil
	}
	return nil, errors.New("404")
}

func newJAREnv(t *testing.T, cfg Config) *jarEnv {
	t.Helper()
	e := newEnv(t, cfg)
	j := &jarEnv{env: e, fetched: map[string]string{}}
	j.key = mustECKey(t)
	j.key2 = mustECKey(t)
	for id, k := range map[string]*ecdsa.PrivateKey{"jar": j.key, "jar2": j.key2, "strict": j.key} {
		set, err := json.Marshal(gojose.JSONWebKeySet{Keys: []gojose.JSONWebKey{{Key: &k.PublicKey, KeyID: id + "-key", Use: "sig"}}})
		if err != nil {
			t.Fatal(err)
		}
		md := testClients()[0].Metadata
		md.JWKS = set
		md.RequestURIs = []string{"https://rp.example.com/ro/", "https://rp.example.com/exact.jwt"}
		md.RequireSignedRequestObject = id == "strict"
		if err := e.dur.Clients.Create(context.Background(), &store.Client{ID: id, Metadata: md}); err != nil {
			t.Fatal(err)
		}
	}
	e.svc.RequestObjects = &jose.RequestObjects{
		Keys: jose.NewClientKeys(nil, e.clock.Now), Decrypter: e.keys,
		Algs: oauth.AsymmetricAlgs(),
	}
	e.svc.RequestURIs = mapFetcher(j.fetched)
	e.svc.Responses = e.keys
	return j
}

func mustECKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// object returns the claims of a good request object of client id; kv
// pairs override (nil deletes).
func (j *jarEnv) object(id string, kv ...any) map[string]any {
	c := map[string]any{
		"iss": id, "aud": issuer, "exp": j.clock.Now().Add(time.Minute).Unix(), "iat": j.clock.Now().Unix(),
		"client_id": id, "response_type": "code", "redirect_uri": rpCB, "scope": "openid email",
		"state": "from-object", "nonce": "n-1", "code_challenge": challenge, "code_challenge_method": "S256",
		"max_age": 3600,
		"claims":  map[string]any{"userinfo": map[string]any{"email": map[string]any{"essential": true}}},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
		} else {
			c[kv[i].(string)] = kv[i+1]
		}
	}
	return c
}

func (j *jarEnv) sign(key *ecdsa.PrivateKey, kid string, claims map[string]any) string {
	j.t.Helper()
	s, err := gojose.NewSigner(gojose.SigningKey{Algorithm: gojose.ES256, Key: gojose.JSONWebKey{Key: key, KeyID: kid}},
		(&gojose.SignerOptions{}).WithType("oauth-authz-req+jwt"))
	if err != nil {
		j.t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := s.Sign(payload)
	if err != nil {
		j.t.Fatal(err)
	}
	out, _ := obj.CompactSerialize()
	return out
}

// encrypt encrypts to our published encryption key for alg, A256GCM.
func (j *jarEnv) encrypt(alg, plaintext string) string {
	j.t.Helper()
	var set gojose.JSONWebKeySet
	if err := json.Unmarshal(j.keys.JWKS(), &set); err != nil {
		j.t.Fatal(err)
	}
	for _, k := range set.Keys {
		if k.Use == "enc" && k.Algorithm == alg {
			enc, err := gojose.NewEncrypter(gojose.A256GCM, gojose.Recipient{Algorithm: gojose.KeyAlgorithm(alg), Key: k.Key, KeyID: k.KeyID},
				(&gojose.EncrypterOptions{}).WithContentType("JWT"))
			if err != nil {
				j.t.Fatal(err)
			}
			obj, err := enc.Encrypt([]byte(plaintext))
			if err != nil {
				j.t.Fatal(err)
			}
			out, _ := obj.CompactSerialize()
			return out
		}
	}
	j.t.Fatalf("no %s key in JWKS", alg)
	return ""
}

func jarQuery(id string, kv ...string) string {
	v := url.Values{"client_id": {id}, "response_type": {"code"}, "scope": {"openid"}, "state": {"from-query"}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}

func TestRequestObjectByValue(t *testing.T) {
	j := newJAREnv(t, Config{})
	signed := j.sign(j.key, "jar-key", j.object("jar"))
	for name, raw := range map[string]string{
		"signed":                 signed,
		"signed then RSA-OAEP":   j.encrypt(jose.AlgRSAOAEP256, signed),
		"signed then ECDH-ES":    j.encrypt(jose.AlgECDHES, signed),
		"signed, strict client":  "",
		"signed, global setting": "",
	} {
		t.Run(name, func(t *testing.T) {
			client := "jar"
			e := j
			switch name {
			case "signed, strict client":
				client, raw = "strict", j.sign(j.key, "strict-key", j.object("strict"))
			case "signed, global setting":
				e = newJAREnv(t, Config{RequireSignedRequestObject: true})
				raw = e.sign(e.key, "jar-key", e.object("jar"))
			}
			m := e.start(jarQuery(client, "request", raw, "prompt", "none"), "")
			if m.Type != TypeAuth {
				t.Fatalf("Start = %+v, want the auth prompt (prompt=none outside the object is ignored)", m)
			}
			a, err := e.svc.Sessions.Get(context.Background(), m.SID, e.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			// The session API and every later step see the object's
			// parameters only (RFC 9101 §6.3).
			if a.Request.State != "from-object" || a.Request.RedirectURI != rpCB || a.Request.MaxAge == nil || *a.Request.MaxAge != 3600 ||
				a.Request.Claims == nil || len(a.Request.Prompt) != 0 {
				t.Errorf("stored request = %+v", a.Request)
			}
			if _, ok := a.Request.Params["request"]; ok {
				t.Error("the raw request object is kept in the parameters")
			}
			if a.Request.Params["claims"] == nil || a.Request.Params["iss"] != nil {
				t.Errorf("params = %v", a.Request.Params)
			}
			m = e.submit(e.submit(m.SID, authAlice).SID, consentAll_)
			_, v := params(t, m)
			if v.Get("state") != "from-object" || v.Get("code") == "" {
				t.Errorf("final response %v", v)
			}
		})
	}
}

func TestRequestObjectRefused(t *testing.T) {
	j := newJAREnv(t, Config{})
	now := j.clock.Now()
	payload, _ := json.Marshal(j.object("jar"))
	unsigned := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
	good := j.sign(j.key, "jar-key", j.object("jar"))
	for _, tc := range []struct {
		name, query, code, desc string
	}{
		{"alg none", jarQuery("jar", "request", unsigned), oauth.ErrCodeInvalidRequestObject, "alg none"},
		{"alg none encrypted", jarQuery("jar", "request", j.encrypt(jose.AlgECDHES, unsigned)), oauth.ErrCodeInvalidRequestObject, "alg none"},
		{"unsigned for a client that requires signing", jarQuery("strict", "redirect_uri", rpCB, "code_challenge", challenge, "code_challenge_method", "S256"), oauth.ErrCodeInvalidRequest, "require_signed_request_object"},
		{"alg none for a client that requires signing", jarQuery("strict", "request", unsigned), oauth.ErrCodeInvalidRequestObject, "alg none"},
		{"another client's object", jarQuery("jar", "request", j.sign(j.key2, "jar2-key", j.object("jar2"))), oauth.ErrCodeInvalidRequestObject, "no registered key"},
		{"another client's key", jarQuery("jar", "request", j.sign(j.key2, "jar-key", j.object("jar"))), oauth.ErrCodeInvalidRequestObject, "does not verify"},
		{"another client as iss", jarQuery("jar", "request", j.sign(j.key, "jar-key", j.object("jar", "iss", "jar2"))), oauth.ErrCodeInvalidRequestObject, "iss"},
		{"client_id mismatch inside", jarQuery("jar", "request", j.sign(j.key, "jar-key", j.object("jar", "client_id", "jar2"))), oauth.ErrCodeInvalidRequestObject, "client_id"},
		{"expired", jarQuery("jar", "request", j.sign(j.key, "jar-key", j.object("jar", "exp", now.Add(-2*time.Minute).Unix()))), oauth.ErrCodeInvalidRequestObject, "expired"},
		{"wrong aud", jarQuery("jar", "request", j.sign(j.key, "jar-key", j.object("jar", "aud", "https://other.example"))), oauth.ErrCodeInvalidRequestObject, "aud"},
		{"nested request", jarQuery("jar", "request", j.sign(j.key, "jar-key", j.object("jar", "request", good))), oauth.ErrCodeInvalidRequestObject, "must not contain"},
		{"garbage", jarQuery("jar", "request", "not-a-jwt"), oauth.ErrCodeInvalidRequestObject, ""},
		{"request and request_uri", jarQuery("jar", "request", good, "request_uri", "https://rp.example.com/exact.jwt"), oauth.ErrCodeInvalidRequest, "both"},
		{"unregistered request_uri", jarQuery("jar", "request_uri", "https://evil.example/ro.jwt"), oauth.ErrCodeInvalidRequestURI, "not registered"},
		{"request_uri outside the prefix", jarQuery("jar", "request_uri", "https://rp.example.com/ro/a/b.jwt"), oauth.ErrCodeInvalidRequestURI, "not registered"},
		{"request_uri dot-dot", jarQuery("jar", "request_uri", "https://rp.example.com/ro/.."), oauth.ErrCodeInvalidRequestURI, "not registered"},
		{"request_uri not fetchable", jarQuery("jar", "request_uri", "https://rp.example.com/ro/missing.jwt"), oauth.ErrCodeInvalidRequestURI, "fetched"},
		{"repeated request", jarQuery("jar", "request", good) + "&request=" + good, oauth.ErrCodeInvalidRequest, "repeated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := j.start(tc.query, "")
			if m.Type != TypeError || m.Error != tc.code || m.Parameters != nil {
				t.Fatalf("got %+v, want a non-redirected %s", m, tc.code)
			}
			if !strings.Contains(m.ErrorDescription, tc.desc) {
				t.Errorf("error_description %q does not mention %q", m.ErrorDescription, tc.desc)
			}
		})
	}
}

func TestRequestObjectByReference(t *testing.T) {
	j := newJAREnv(t, Config{})
	j.fetched["https://rp.example.com/ro/abc-1.jwt"] = j.sign(j.key, "jar-key", j.object("jar")) + "\n"
	j.fetched["https://rp.example.com/exact.jwt"] = j.encrypt(jose.AlgRSAOAEP256, j.sign(j.key, "jar-key", j.object("jar", "state", "exact")))
	for uri, state := range map[string]string{
		"https://rp.example.com/ro/abc-1.jwt":             "from-object",
		"https://rp.example.com/ro/abc-1.jwt#hash-of-obj": "",
		"https://rp.example.com/exact.jwt":                "exact",
	} {
		if state == "" {
			// A fragment is a cache key of the client; we fetch without it.
			j.fetched[uri] = j.fetched["https://rp.example.com/ro/abc-1.jwt"]
			state = "from-object"
		}
		m := j.start(jarQuery("jar", "request_uri", uri), "")
		if m.Type != TypeAuth {
			t.Fatalf("%s: Start = %+v", uri, m)
		}
		a, err := j.svc.Sessions.Get(context.Background(), m.SID, j.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if a.Request.State != state || a.Request.Params["request_uri"] != nil {
			t.Errorf("%s: stored request %+v", uri, a.Request)
		}
	}
}

func TestPushedRequestObject(t *testing.T) {
	j := newJAREnv(t, Config{})
	strict := j.client("strict")
	// A plain pushed request of a client that requires signing is refused
	// at the PAR endpoint.
	_, _, err := j.svc.Push(context.Background(), strict, pushParams("client_id", "strict"))
	if oe := oauth.AsError(err); oe == nil || oe.Code != oauth.ErrCodeInvalidRequest || oe.Status != 400 {
		t.Fatalf("plain push of a strict client: %v", err)
	}
	bad := url.Values{"client_id": {"strict"}, "request": {j.sign(j.key2, "strict-key", j.object("strict"))}}
	if _, _, err := j.svc.Push(context.Background(), strict, bad); oauth.AsError(err) == nil || oauth.AsError(err).Code != oauth.ErrCodeInvalidRequestObject {
		t.Fatalf("push with a badly signed object: %v", err)
	}
	obj := url.Values{"client_id": {"strict"}, "request": {j.sign(j.key, "strict-key", j.object("strict", "state", "pushed-object"))}}
	uri, _, err := j.svc.Push(context.Background(), strict, obj)
	if err != nil {
		t.Fatal(err)
	}
	m := j.start(url.Values{"client_id": {"strict"}, "request_uri": {uri}}.Encode(), "")
	if m.Type != TypeAuth {
		t.Fatalf("Start with the pushed object = %+v", m)
	}
	m = j.submit(j.submit(m.SID, authAlice).SID, consentAll_)
	if _, v := params(t, m); v.Get("state") != "pushed-object" {
		t.Errorf("final response %v", v)
	}
}

// jarmClaims verifies the response JWT of a JARM message against our
// keys and returns its claims.
func jarmClaims(t *testing.T, e *env, m *Message) map[string]any {
	t.Helper()
	if m.Type != TypeResponse || m.Parameters == nil {
		t.Fatalf("not a final response: %+v", m)
	}
	var jwt string
	if m.Parameters.Form != nil {
		jwt = m.Parameters.Form["response"]
		if len(m.Parameters.Form) != 1 || m.Parameters.URI != rpCB {
			t.Errorf("form_post.jwt parameters %+v", m.Parameters)
		}
	} else {
		u, err := url.Parse(m.Parameters.URI)
		if err != nil {
			t.Fatal(err)
		}
		raw := u.RawQuery
		if m.Mode == oauth.ResponseModeFragmentJWT {
			raw = u.Fragment
		}
		v, _ := url.ParseQuery(raw)
		if len(v) != 1 {
			t.Errorf("response carries %v besides the JWT", v)
		}
		jwt = v.Get("response")
	}
	payload, err := e.keys.Verify(jwt, []string{oauth.AlgRS256, oauth.AlgES256})
	if err != nil {
		t.Fatalf("response JWT does not verify with our keys: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	if c["iss"] != issuer || c["aud"] == nil || c["exp"] == nil {
		t.Errorf("response claims %v lack iss, aud or exp", c)
	}
	return c
}

func TestJARM(t *testing.T) {
	j := newJAREnv(t, Config{})
	for _, tc := range []struct{ mode, want string }{
		{oauth.ResponseModeQueryJWT, oauth.ResponseModeQueryJWT},
		{oauth.ResponseModeJWT, oauth.ResponseModeQueryJWT},
		{oauth.ResponseModeFragmentJWT, oauth.ResponseModeFragmentJWT},
		{oauth.ResponseModeFormPostJWT, oauth.ResponseModeFormPostJWT},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			m := j.login(query("response_mode", tc.mode), authAlice, consentAll_)
			if m.Mode != tc.want {
				t.Errorf("mode = %q, want %q", m.Mode, tc.want)
			}
			c := jarmClaims(t, j.env, m)
			if c["code"] == "" || c["code"] == nil || c["state"] != "st-1" || c["aud"] != "web" {
				t.Errorf("claims %v", c)
			}
		})
	}
	t.Run("error", func(t *testing.T) {
		m := j.start(query("response_mode", "query.jwt", "prompt", "bogus"), "")
		c := jarmClaims(t, j.env, m)
		if c["error"] != oauth.ErrCodeInvalidRequest || c["state"] != "st-1" {
			t.Errorf("claims %v", c)
		}
	})
	t.Run("query.jwt with tokens", func(t *testing.T) {
		// JARM §2.3.1: tokens in a signed but unencrypted query JWT.
		m := j.start(implicitQuery("id_token", "response_mode", "query.jwt"), "")
		if c := jarmClaims(t, j.env, m); c["error"] != oauth.ErrCodeInvalidRequest || c["id_token"] != nil {
			t.Errorf("claims %v", c)
		}
		m = j.start(implicitQuery("id_token", "response_mode", "jwt"), "")
		if m.Type != TypeAuth {
			t.Errorf("jwt with id_token: %+v, want the auth prompt (fragment.jwt)", m)
		}
	})
	t.Run("error before response_mode", func(t *testing.T) {
		m := j.start(query("response_mode", "jwt", "response_type", "token"), "")
		if m.Mode != oauth.ResponseModeFragmentJWT {
			t.Errorf("mode = %q, want fragment.jwt (the token response type's default)", m.Mode)
		}
		m = j.start(query("response_mode", "jwt", "response_type", "bogus"), "")
		if c := jarmClaims(t, j.env, m); c["error"] != oauth.ErrCodeUnsupportedResponseType {
			t.Errorf("claims %v", c)
		}
	})
	t.Run("client algorithm", func(t *testing.T) {
		_, err := j.dur.Clients.Update(context.Background(), "jar", func(c *store.Client) error {
			c.Metadata.AuthorizationSignedResponseAlg = oauth.AlgES256
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		m := j.start(jarQuery("jar", "request", j.sign(j.key, "jar-key", j.object("jar", "response_mode", "query.jwt"))), "")
		m = j.submit(j.submit(m.SID, authAlice).SID, consentAll_)
		c := jarmClaims(t, j.env, m)
		if c["aud"] != "jar" {
			t.Errorf("claims %v", c)
		}
		_, v := params(t, &Message{Type: TypeResponse, Mode: oauth.ResponseModeQuery, Parameters: m.Parameters})
		hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(v.Get("response"), ".")[0])
		if !strings.Contains(string(hdr), `"ES256"`) {
			t.Errorf("response JWT header %s, want ES256", hdr)
		}
	})
	for _, mode := range []string{"query.jwe", "jwt.query", "JWT"} {
		m := j.start(query("response_mode", mode), "")
		if m.Mode != oauth.ResponseModeQuery {
			t.Errorf("%s: mode %q", mode, m.Mode)
		}
		if _, v := params(t, m); v.Get("error") != oauth.ErrCodeInvalidRequest {
			t.Errorf("%s: response %v, want invalid_request", mode, v)
		}
	}
	t.Run("without a signer", func(t *testing.T) {
		e := newEnv(t, Config{})
		m := e.start(query("response_mode", "query.jwt"), "")
		if _, v := params(t, m); v.Get("error") != oauth.ErrCodeInvalidRequest || m.Mode != oauth.ResponseModeQuery {
			t.Errorf("JARM without a signer: %+v", m)
		}
	})
}
