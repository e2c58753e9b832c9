package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/core/authz"
	"github.com/keyward/keyward/internal/core/authzstore"
	"github.com/keyward/keyward/internal/core/clientreg"
	"github.com/keyward/keyward/internal/core/dpop"
	"github.com/keyward/keyward/internal/core/logout"
	"github.com/keyward/keyward/internal/core/session"
	"github.com/keyward/keyward/internal/core/sessionstore"
	"github.com/keyward/keyward/internal/core/token"
	"github.com/keyward/keyward/internal/jose"
	"github.com/keyward/keyward/internal/metrics"
	"github.com/keyward/keyward/internal/mtls"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/testkeys"
	"github.com/keyward/keyward/internal/testlog"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store/memstore"
)

const (
	testIssuer = "https://op.example.com"
	// apiToken guards the authorisation session, registration and
	// monitoring APIs, as the server's generated API token does.
	apiToken = "test-api-token-0123456789abcdefghijklmnop"
	// monitorToken is a monitoring-only token (api_tokens.monitor).
	monitorToken = "test-monitor-token-0123456789abcdefghijk"
)

// env is the HTTP layer over the real core services and an in-memory store,
// wired as server.New wires them.
type env struct {
	t           testing.TB
	api         *API
	public      http.Handler
	integration http.Handler
	logs        *testlog.Buffer
}

type envOptions struct {
	split bool
	// ready replaces the readiness check of /monitor/v1/ping.
	ready func(context.Context) error
	// health replaces the checks of /monitor/v1/healthcheck (default: one
	// that lists the in-memory store's keys).
	health []HealthCheck
	// prometheusOpen serves /metrics without a token.
	prometheusOpen bool
	// clientCA is the CA of tls_client_auth certificates.
	clientCA *x509.CertPool
	// dpopNonce makes DPoP proofs carry a server nonce.
	dpopNonce bool
	// pprof serves /debug/pprof/.
	pprof bool
}

// Mutual TLS in the tests: a client certificate comes in certHeader, as a
// TLS-terminating proxy would send it, and is trusted only when the
// request also carries trustedProxyHeader (standing in for the proxy's
// address being among trusted_proxies).
const (
	certHeader         = "X-Client-Cert"
	trustedProxyHeader = "X-Test-Trusted-Proxy"
)

// loginUIMarker stands in for the login UI: the routes only have to reach it.
var loginUIMarker = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Login-UI", r.URL.Path)
	w.WriteHeader(http.StatusTeapot)
})

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	km := testkeys.Manager(t)
	master := make([]byte, secret.MasterKeySize)
	rand.Read(master)
	keys, err := secret.DeriveKeys(master)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := memstore.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dur, eph := ms.Durable(), ms.Ephemeral()
	logs := &testlog.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	clients := &clientreg.Service{
		Config: clientreg.Config{
			Issuer:               testIssuer,
			SupportedIDTokenAlgs: km.Algorithms(),
		},
		Store:        dur.Clients,
		Sealer:       keys.Sealer,
		ValidateJWKS: func(raw []byte) error { _, err := jose.ParseJWKS(raw); return err },
		Now:          time.Now,
		Rand:         rand.Reader,
		Log:          log,
	}
	sessions := &session.Service{
		Store: eph.SubjectSessions, MACKey: keys.SessionMAC, Now: time.Now, Rand: rand.Reader, Log: log,
	}
	authzSvc := &authz.Service{
		Config:          authz.Config{Issuer: testIssuer},
		Clients:         clients,
		SubjectSessions: sessions,
		Sessions:        eph.AuthzSessions,
		Codes:           eph.Codes,
		PAR:             eph.PAR,
		Authorizations:  dur.Authorizations,
		IDTokens:        km,
		Sealer:          keys.Sealer,
		Now:             time.Now,
		Rand:            rand.Reader,
		Log:             log,
	}
	tokenSvc := &token.Service{
		Config:         token.Config{Issuer: testIssuer, TokenEndpoint: testIssuer + "/token"},
		Clients:        clients,
		Sealer:         keys.Sealer,
		Codes:          eph.Codes,
		Grants:         dur.Grants,
		RefreshTokens:  dur.RefreshTokens,
		AccessTokens:   dur.AccessTokens,
		Replay:         eph.Replay,
		Keys:           km,
		ClientKeys:     jose.NewClientKeys(nil, time.Now),
		Authorizations: dur.Authorizations,
		Journal:        &token.Journal{Store: dur.Revocations, Now: time.Now, Log: log},
		DPoP: &dpop.Verifier{Algs: dpop.DefaultAlgs(), Replay: eph.Replay, Sealer: keys.Sealer,
			NonceRequired: o.dpopNonce, Now: time.Now},
		Certs: &mtls.Verifier{Roots: o.clientCA},
		Now:   time.Now,
		Rand:  rand.Reader,
		Log:   log,
	}
	authzSvc.Tokens = tokenSvc
	tokens, err := NewTokenSet([]string{apiToken}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The server gives ?access_token= only the monitoring-only tokens,
	// never the master API token.
	monitorOnly, err := NewTokenSet([]string{monitorToken}, nil)
	if err != nil {
		t.Fatal(err)
	}
	health := o.health
	if health == nil {
		health = []HealthCheck{{Name: "durableStore", Check: func(ctx context.Context) error {
			_, err := dur.Keys.List(ctx)
			return err
		}}}
	}
	api, err := New(Deps{
		Authz:  authzSvc,
		Tokens: tokenSvc,
		ClientCerts: &mtls.Extractor{Header: certHeader,
			TrustedProxy: func(r *http.Request) bool { return r.Header.Get(trustedProxyHeader) == "yes" }},
		Clients:             clients,
		Keys:                km,
		Metadata:            testMetadata(km.Algorithms()),
		AuthzSessionTokens:  tokens,
		RegistrationTokens:  tokens,
		DirectAuthzTokens:   tokens,
		MonitorTokens:       append(slices.Clone(tokens), monitorOnly...),
		MonitorQueryTokens:  monitorOnly,
		IntrospectionTokens: tokens,
		AuthzStore: &authzstore.Service{
			Issuer:         testIssuer,
			Authorizations: dur.Authorizations,
			Clients:        clients,
			Revoker: authzstore.GrantRevoker{
				Grants: dur.Grants, Authorizations: dur.Authorizations, Tokens: tokenSvc, Now: time.Now,
			},
			Inspector: authzstore.TokenInspector{Tokens: tokenSvc},
			Now:       time.Now,
			Log:       log,
		},
		AuthzStoreTokens:   tokens,
		SessionStore:       &sessionstore.Service{Sessions: sessions},
		SessionStoreTokens: tokens,
		Logout: &logout.Service{
			Config: logout.Config{Issuer: testIssuer}, Sessions: sessions, Clients: clients, Keys: km,
			Revoker: tokenSvc, Sealer: keys.Sealer, Replay: eph.Replay, Now: time.Now, Rand: rand.Reader, Log: log,
		},
		LogoutTokens: tokens,
		LoginUI:      loginUIMarker,
		LogoutUI:     loginUIMarker,
		Ready:        o.ready,
		Log:          log,

		Metrics:        metrics.New(nil),
		HealthChecks:   health,
		PrometheusOpen: o.prometheusOpen,
		Pprof:          o.pprof,
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, api: api, logs: logs}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	})
	e.public, e.integration = api.Handlers(o.split)
	return e
}

// testMetadata is a discovery document like the one the server builds for
// its defaults (server/metadata.go), with the key manager's real algorithms.
func testMetadata(idAlgs []string) *ProviderMetadata {
	return &ProviderMetadata{
		Issuer:                             testIssuer,
		AuthorizationEndpoint:              testIssuer + "/login",
		TokenEndpoint:                      testIssuer + "/token",
		UserInfoEndpoint:                   testIssuer + "/userinfo",
		JWKSURI:                            testIssuer + "/jwks.json",
		RegistrationEndpoint:               testIssuer + "/clients",
		PushedAuthorizationRequestEndpoint: testIssuer + "/par",
		IntrospectionEndpoint:              testIssuer + "/token/introspect",
		RevocationEndpoint:                 testIssuer + "/token/revoke",
		ScopesSupported: []string{oauth.ScopeOpenID, oauth.ScopeProfile, oauth.ScopeEmail,
			oauth.ScopeAddress, oauth.ScopePhone, oauth.ScopeOfflineAccess},
		// As node.ResponseTypeStrings with the default configuration.
		ResponseTypesSupported: []string{"code", "id_token", "code id_token", "id_token token", "code token", "code id_token token"},
		ResponseModesSupported: append([]string{oauth.ResponseModeQuery, oauth.ResponseModeFragment, oauth.ResponseModeFormPost}, oauth.JARMResponseModes()...),
		GrantTypesSupported:    []string{oauth.GrantTypeAuthorizationCode, oauth.GrantTypeRefreshToken, oauth.GrantTypeImplicit},
		SubjectTypesSupported:  []string{"public"},
		// Left out of the document when empty (omitempty).
		ACRValuesSupported:               nil,
		IDTokenSigningAlgValuesSupported: idAlgs,
		TokenEndpointAuthMethodsSupported: []string{oauth.AuthMethodClientSecretBasic, oauth.AuthMethodClientSecretPost,
			oauth.AuthMethodClientSecretJWT, oauth.AuthMethodPrivateKeyJWT, oauth.AuthMethodNone},
		TokenEndpointAuthSigningAlgValuesSupported: []string{"RS256", "ES256", "EdDSA", "HS256"},
		IntrospectionEndpointAuthMethodsSupported: []string{oauth.AuthMethodClientSecretBasic, oauth.AuthMethodClientSecretPost,
			oauth.AuthMethodClientSecretJWT, oauth.AuthMethodPrivateKeyJWT, oauth.AuthMethodNone},
		RevocationEndpointAuthMethodsSupported: []string{oauth.AuthMethodClientSecretBasic, oauth.AuthMethodClientSecretPost,
			oauth.AuthMethodClientSecretJWT, oauth.AuthMethodPrivateKeyJWT, oauth.AuthMethodNone},
		IntrospectionSigningAlgValuesSupported:     []string{"RS256"},
		DisplayValuesSupported:                     []string{oauth.DisplayPage, oauth.DisplayPopup},
		ClaimsSupported:                            []string{"sub", "iss", "aud", "exp", "iat", "email", "email_verified"},
		ClaimsParameterSupported:                   true,
		CodeChallengeMethodsSupported:              []string{oauth.PKCEMethodS256},
		PromptValuesSupported:                      []string{oauth.PromptNone, oauth.PromptLogin, oauth.PromptConsent},
		UILocalesSupported:                         []string{"en"},
		AuthorizationResponseIssParameterSupported: true,
		EndSessionEndpoint:                         testIssuer + "/logout",
		BackchannelLogoutSupported:                 true,
		BackchannelLogoutSessionSupported:          true,
		FrontchannelLogoutSupported:                true,
		FrontchannelLogoutSessionSupported:         true,

		RequestParameterSupported:                 true,
		RequestURIParameterSupported:              true,
		RequireRequestURIRegistration:             true,
		RequestObjectSigningAlgValuesSupported:    oauth.AsymmetricAlgs(),
		RequestObjectEncryptionAlgValuesSupported: jose.RequestObjectEncAlgs,
		RequestObjectEncryptionEncValuesSupported: jose.RequestObjectEncs,
		AuthorizationSigningAlgValuesSupported:    idAlgs,
		DPoPSigningAlgValuesSupported:             dpop.DefaultAlgs(),

		// As with authz.authorization_details_types: [payment_initiation];
		// absent by default (omitempty).
		AuthorizationDetailsTypesSupported: []string{"payment_initiation"},
	}
}

// response is one recorded answer, with its JSON body decoded when the
// content type says JSON: into body when it is an object, into json always.
type response struct {
	status  int
	header  http.Header
	raw     []byte
	json    any
	jsonErr error
	body    map[string]any
}

// request describes one call; the zero value is a bare GET.
type request struct {
	method, path string
	header       map[string]string
	body         string
}

// do serves req on h in-process, through the same middleware the listeners
// use. It never fails the test itself, so subtests may share the env.
func (e *env) do(h http.Handler, req request) *response {
	e.t.Helper()
	if req.method == "" {
		req.method = http.MethodGet
	}
	var body io.Reader
	if req.body != "" {
		body = strings.NewReader(req.body)
	}
	r := httptest.NewRequestWithContext(e.t.Context(), req.method, testIssuer+req.path, body)
	for k, v := range req.header {
		r.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	res := &response{status: rec.Code, header: rec.Header(), raw: rec.Body.Bytes()}
	if strings.HasPrefix(res.header.Get("Content-Type"), "application/json") {
		res.jsonErr = json.Unmarshal(res.raw, &res.json)
		res.body, _ = res.json.(map[string]any)
	}
	return res
}

// jsonStrict decodes one JSON value with no member v does not know.
func jsonStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

func jsonHeaders(tok string) map[string]string {
	h := map[string]string{"Content-Type": "application/json"}
	if tok != "" {
		h["Authorization"] = "Bearer " + tok
	}
	return h
}

var formHeader = map[string]string{"Content-Type": "application/x-www-form-urlencoded"}

// formBearer is a form body with a bearer token.
func formBearer(tok string) map[string]string {
	return map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": "Bearer " + tok}
}
