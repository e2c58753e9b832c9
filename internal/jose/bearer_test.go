package jose

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	gojose "github.com/go-jose/go-jose/v4"

	"github.com/keyward/keyward/internal/jwksfetch"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

const stsIssuer = "https://sts.example.org"

type bearerEnv struct {
	clk    interface{ Now() time.Time }
	v      *JWTBearerVerifier
	client *store.Client
	own    clientKey // the client's key
	sts    clientKey // the trusted issuer's key (inline set)
	secret []byte
	nosec  *store.Client
}

func newBearerEnv(t *testing.T) (*bearerEnv, func(time.Duration)) {
	clk := newClock()
	own := newClientKey(t, gojose.ES256, "own")
	sts := newClientKey(t, gojose.RS256, "sts-1")
	set, err := ParseIssuerJWKS(jwksOf(t, sts))
	if err != nil {
		t.Fatal(err)
	}
	e := &bearerEnv{
		clk: clk, own: own, sts: sts, secret: []byte(strings.Repeat("k", 32)),
		client: &store.Client{ID: testClientID, Metadata: store.ClientMetadata{JWKS: jwksOf(t, own)}},
		nosec:  &store.Client{ID: "other", Metadata: store.ClientMetadata{JWKS: jwksOf(t, own)}},
	}
	e.v = &JWTBearerVerifier{
		Keys:      NewClientKeys(nil, clk.Now),
		Issuers:   []TrustedIssuer{{Issuer: stsIssuer, Keys: set}},
		Audiences: audiences,
		ClientSecret: func(_ context.Context, c *store.Client) ([]byte, error) {
			if c.ID == testClientID {
				return e.secret, nil
			}
			return nil, nil
		},
	}
	return e, clk.Advance
}

func (e *bearerEnv) verify(t *testing.T, tok string) error {
	t.Helper()
	_, err := e.v.Verify(t.Context(), tok, e.client, e.clk.Now())
	return err
}

func thirdParty(now time.Time, sub string) map[string]any {
	return with(goodClaims(now), "iss", stsIssuer, "sub", sub)
}

func TestJWTBearerSelfIssuedAndThirdParty(t *testing.T) {
	e, _ := newBearerEnv(t)
	now := e.clk.Now()
	got, err := e.v.Verify(t.Context(), sign(t, e.own.alg, e.own.priv, "own", with(goodClaims(now), "groups", []string{"a"})), e.client, now)
	if err != nil {
		t.Fatal(err)
	}
	if !got.SelfIssued || got.Subject != testClientID || got.ID != "jti-1" || got.ExpiresAt.Unix() != now.Add(time.Minute).Unix() || got.Claims["groups"] == nil {
		t.Errorf("self-issued: %+v", got)
	}
	got, err = e.v.Verify(t.Context(), sign(t, gojose.HS256, e.secret, "", goodClaims(now)), e.client, now)
	if err != nil || !got.SelfIssued {
		t.Fatalf("HMAC self-issued: %+v %v", got, err)
	}
	got, err = e.v.Verify(t.Context(), sign(t, e.sts.alg, e.sts.priv, "sts-1", thirdParty(now, "alice")), e.client, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.SelfIssued || got.Subject != "alice" || got.Issuer != stsIssuer {
		t.Errorf("third party: %+v", got)
	}
}

// TestJWTBearerRefusals: every bad assertion is invalid_grant.
func TestJWTBearerRefusals(t *testing.T) {
	e, _ := newBearerEnv(t)
	now := e.clk.Now()
	stranger := newClientKey(t, gojose.ES256, "own")
	rsaPub, err := x509.MarshalPKIXPublicKey(e.sts.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	ownPub, err := x509.MarshalPKIXPublicKey(e.own.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	good := goodClaims(now)
	own := func(c map[string]any) string { return sign(t, e.own.alg, e.own.priv, "own", c) }
	sts := func(c map[string]any) string { return sign(t, e.sts.alg, e.sts.priv, "sts-1", c) }
	tests := map[string]string{
		"alg none":                         "eyJhbGciOiJub25lIn0." + b64(`{"iss":"client-1","sub":"client-1","aud":"https://op.example/token","exp":9999999999,"jti":"x"}`) + ".",
		"expired":                          own(with(good, "exp", now.Add(-2*time.Minute).Unix())),
		"no exp":                           own(with(good, "exp", nil)),
		"too far ahead":                    own(with(good, "exp", now.Add(2*time.Hour).Unix())),
		"not yet valid":                    own(with(good, "nbf", now.Add(10*time.Minute).Unix())),
		"issued in the future":             own(with(good, "iat", now.Add(10*time.Minute).Unix())),
		"wrong audience":                   own(with(good, "aud", "https://elsewhere.example/token")),
		"no jti":                           own(with(good, "jti", nil)),
		"self-issued sub not client":       own(with(good, "sub", "alice")),
		"bad signature":                    sign(t, stranger.alg, stranger.priv, "own", good),
		"unknown issuer":                   sign(t, e.sts.alg, e.sts.priv, "sts-1", with(good, "iss", "https://evil.example", "sub", "alice")),
		"third party signed by client key": own(thirdParty(now, "alice")),
		"third party HMAC":                 sign(t, gojose.HS256, e.secret, "", thirdParty(now, "alice")),
		"HS256 with issuer public key":     sign(t, gojose.HS256, rsaPub, "sts-1", thirdParty(now, "alice")),
		"HS256 with client public key":     sign(t, gojose.HS256, ownPub, "own", with(good, "jti", "pk")),
		"third party no sub":               sts(with(thirdParty(now, "alice"), "sub", nil)),
		"unknown kid":                      sign(t, stranger.alg, stranger.priv, "nope", good),
		"garbage":                          "not.a.jwt",
		"oversized":                        own(with(good, "pad", strings.Repeat("x", 20_000))),
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			err := e.verify(t, tok)
			if oe := oauth.AsError(err); oe == nil || oe.Code != oauth.ErrCodeInvalidGrant {
				t.Fatalf("err = %v, want invalid_grant", err)
			}
			if strings.Contains(oauth.AsError(err).Description, "jti") {
				t.Errorf("description reveals the check: %q", oauth.AsError(err).Description)
			}
		})
	}
	// A client without a recoverable secret cannot use HMAC at all.
	tok := sign(t, gojose.HS256, e.secret, "", with(good, "iss", "other", "sub", "other"))
	if _, err := e.v.Verify(t.Context(), tok, e.nosec, now); oauth.AsError(err) == nil || oauth.AsError(err).Code != oauth.ErrCodeInvalidGrant {
		t.Errorf("HMAC without client secret: err = %v", err)
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// TestJWTBearerIssuerJWKSURIRotation: the trusted issuer's keys come from a
// real HTTP server; its key rotates mid-test and the unknown kid triggers a
// re-fetch (rate-limited), and an unreachable set is temporarily_unavailable.
func TestJWTBearerIssuerJWKSURIRotation(t *testing.T) {
	e, advance := newBearerEnv(t)
	k1 := newClientKey(t, gojose.ES256, "r1")
	k2 := newClientKey(t, gojose.ES256, "r2")
	js := &jwksServer{body: jwksOf(t, k1)}
	srv := httptest.NewTLSServer(js)
	defer srv.Close()
	e.v.Keys = NewClientKeys(jwksfetch.New(srv.Client()), e.clk.Now)
	e.v.Issuers = []TrustedIssuer{{Issuer: stsIssuer, JWKSURI: srv.URL + "/jwks.json"}}
	tok := func(k clientKey, jti string) string {
		return sign(t, k.alg, k.priv, k.kid, with(thirdParty(e.clk.Now(), "alice"), "jti", jti))
	}
	if err := e.verify(t, tok(k1, "a")); err != nil {
		t.Fatal(err)
	}
	js.set(jwksOf(t, k2))
	advance(time.Second)
	if err := e.verify(t, tok(k2, "b")); oauth.AsError(err) == nil || oauth.AsError(err).Code != oauth.ErrCodeInvalidGrant {
		t.Errorf("new kid right after a fetch: err = %v, want invalid_grant", err)
	}
	advance(15 * time.Second)
	if err := e.verify(t, tok(k2, "c")); err != nil {
		t.Errorf("rotated key after the re-fetch interval: %v", err)
	}
	if got := js.fetches.Load(); got != 2 {
		t.Errorf("fetches = %d, want 2", got)
	}
	js.mu.Lock()
	js.status = 500
	js.mu.Unlock()
	advance(time.Hour)
	err := e.verify(t, tok(k2, "d"))
	if oe := oauth.AsError(err); oe == nil || oe.Code != oauth.ErrCodeTemporarilyUnavailable || !errors.Is(err, errFetch) {
		t.Errorf("unreachable jwks_uri: err = %v, want temporarily_unavailable", err)
	}
}

func FuzzJWTBearerVerify(f *testing.F) {
	clk := newClock()
	own := newClientKey(f, gojose.ES256, "own")
	secret := []byte(strings.Repeat("s", 32))
	client := &store.Client{ID: testClientID, Metadata: store.ClientMetadata{JWKS: jwksOf(f, own)}}
	set, _ := ParseIssuerJWKS(jwksOf(f, own))
	v := &JWTBearerVerifier{
		Keys: NewClientKeys(nil, clk.Now), Audiences: audiences,
		Issuers:      []TrustedIssuer{{Issuer: stsIssuer, Keys: set}},
		ClientSecret: func(context.Context, *store.Client) ([]byte, error) { return secret, nil },
	}
	f.Add(sign(f, own.alg, own.priv, "own", goodClaims(clk.Now())))
	f.Add(sign(f, gojose.HS256, secret, "", goodClaims(clk.Now())))
	f.Add(sign(f, own.alg, own.priv, "own", thirdParty(clk.Now(), "alice")))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("..")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := v.Verify(t.Context(), s, client, clk.Now())
		if err == nil {
			if got == nil || got.ID == "" || got.Subject == "" || got.ExpiresAt.IsZero() {
				t.Fatalf("accepted an incomplete assertion: %+v", got)
			}
			return
		}
		if oe := oauth.AsError(err); oe == nil || oe.Code != oauth.ErrCodeInvalidGrant {
			t.Fatalf("err = %v, want invalid_grant", err)
		}
	})
}
