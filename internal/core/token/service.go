package token

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"time"

	"github.com/keyward/keyward/internal/core/dpop"
	"github.com/keyward/keyward/internal/jose"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/store"
)

// Config holds the token endpoint settings, read-only after start.
type Config struct {
	// Issuer is the OpenID issuer identifier ("iss" of every token we sign).
	Issuer string
	// TokenEndpoint is Issuer + "/token"; a client assertion's "aud" must
	// name it or the issuer (RFC 7523 §3, OIDC Core §9).
	TokenEndpoint string
	// IDTokenAlg signs ID tokens unless the client registered
	// id_token_signed_response_alg. Default RS256 (OIDC Core §3.1.3.7).
	IDTokenAlg string
	// AccessTokenAlg signs SELF_CONTAINED access tokens. Default ES256.
	AccessTokenAlg string
	// Defaults fill the zero lifetimes and encoding of a grant's TokenSpec:
	// access token 600 s SELF_CONTAINED, ID token 300 s (Connect2id's
	// defaults, docs/configuration.md).
	Defaults store.TokenSpec
	// RotatedReuseGrace lets a rotated refresh token be presented again for
	// this long (a client retrying after a lost response) before the replay
	// revokes the grant. Zero: every replay revokes. The server sets it from
	// tokens.refresh_token_reuse_grace, 5 s by default as Connect2id's
	// authzStore.refreshToken.rotatedReuseGracePeriod
	// (https://connect2id.com/products/server/docs/config/authz-store).
	RotatedReuseGrace time.Duration
	// AssertionMaxAge bounds how far ahead a client assertion's "exp" may
	// be (and its verifier's MaxAge should match), so that the "jti" replay
	// cache always outlives the assertions it guards. Default 5 min.
	AssertionMaxAge time.Duration
	// AccessTokenProfile names the claims of SELF_CONTAINED access tokens:
	// ProfileRFC9068 (default) or ProfileC2ID11, Connect2id's. Tokens of
	// either profile are accepted whatever the setting, so that nodes of a
	// cluster may be switched one at a time.
	AccessTokenProfile string
	// Profile is the server-wide security profile (authz.profile): "" or
	// authzpolicy.ProfileFAPI2; a client may select it for itself.
	Profile string
	// Resources are the resource indicators (RFC 8707) every client may
	// request (authz.resources); a client's allowed_resources add to them.
	Resources []string
}

// Defaults of Config.
const (
	DefaultIDTokenAlg          = oauth.AlgRS256
	DefaultAccessTokenAlg      = oauth.AlgES256
	DefaultAccessTokenLifetime = 600 * time.Second
	DefaultIDTokenLifetime     = 300 * time.Second
	DefaultAssertionMaxAge     = jose.DefaultAssertionMaxAge
)

// withDefaults returns c with every zero setting replaced by its default.
func (c Config) withDefaults() Config {
	if c.IDTokenAlg == "" {
		c.IDTokenAlg = DefaultIDTokenAlg
	}
	if c.AccessTokenAlg == "" {
		c.AccessTokenAlg = DefaultAccessTokenAlg
	}
	if c.TokenEndpoint == "" && c.Issuer != "" {
		c.TokenEndpoint = c.Issuer + "/token"
	}
	if c.Defaults.AccessTokenLifetime <= 0 {
		c.Defaults.AccessTokenLifetime = DefaultAccessTokenLifetime
	}
	if c.Defaults.IDTokenLifetime <= 0 {
		c.Defaults.IDTokenLifetime = DefaultIDTokenLifetime
	}
	if c.Defaults.AccessTokenEncoding == "" {
		c.Defaults.AccessTokenEncoding = oauth.TokenEncodingSelfContained
	}
	if c.AssertionMaxAge <= 0 {
		c.AssertionMaxAge = DefaultAssertionMaxAge
	}
	if c.AccessTokenProfile == "" {
		c.AccessTokenProfile = ProfileRFC9068
	}
	return c
}

// Credentials are what the HTTP layer extracted from a token (or PAR)
// request. The HTTP layer does not judge them; AuthenticateClient does.
type Credentials struct {
	// BasicID and BasicSecret come from "Authorization: Basic", already
	// form-URL-decoded (RFC 6749 §2.3.1). HasBasic is set when the header
	// was present at all.
	BasicID, BasicSecret string
	HasBasic             bool
	// Form is the POST body.
	Form url.Values
	// DPoP holds the values of the DPoP request headers (RFC 9449 §4.1);
	// more than one is refused.
	DPoP []string
	// URL is the absolute URL the request was sent to, for the proof's
	// "htu"; Config.TokenEndpoint (or the PAR endpoint) when empty.
	URL string
	// CertThumbprint is the base64url SHA-256 of the DER of the TLS client
	// certificate the request came with (RFC 8705 §3.1), empty without
	// one; ClientCert is the certificate itself.
	CertThumbprint string
	ClientCert     *x509.Certificate
}

// Response is the successful token response of RFC 6749 §5.1 (and OIDC
// Core §3.1.3.3); it marshals to the wire JSON.
type Response struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	// RefreshTokenExpiresIn is set only when the returned refresh token
	// expires (a Connect2id extension of RFC 6749 §5.1).
	RefreshTokenExpiresIn int64  `json:"refresh_token_expires_in,omitempty"`
	IDToken               string `json:"id_token,omitempty"`
	Scope                 string `json:"scope,omitempty"`
	// AuthorizationDetails are the authorization_details the access token
	// carries (RFC 9396 §7).
	AuthorizationDetails []json.RawMessage `json:"authorization_details,omitempty"`

	// DPoPNonce is not part of the body: the HTTP layer sends it as the
	// DPoP-Nonce header when the server issues nonces.
	DPoPNonce string `json:"-"`
}

// ClientGetter finds registered clients. It is on the hot path of every
// token request, so the server passes a caching one; store.ClientStore
// satisfies it too. Get returns an error wrapping store.ErrNotFound for an
// unknown client.
type ClientGetter interface {
	Get(ctx context.Context, id string) (*store.Client, error)
}

// Signer signs and verifies the server's own JWTs (internal/jose's
// KeyManager). Keys are parsed once by the implementation.
type Signer interface {
	// Sign serialises claims to a compact JWS with the active key for alg
	// and the given "typ" header.
	Sign(alg, typ string, claims any) (string, error)
	// Verify checks the signature with one of the algorithms allowed and
	// returns the payload.
	Verify(token string, algs []string) ([]byte, error)
}

// AssertionVerifier verifies client assertions (RFC 7523 §3): signature
// with the client's secret (client_secret_jwt) or keys (private_key_jwt),
// iss = sub = client ID, an audience among audiences, expiry and a "jti".
// It does not track "jti" replay; the token core does. *jose.ClientKeys
// implements it. Any verification failure is
// an error; the core answers invalid_client without repeating why.
type AssertionVerifier interface {
	VerifyAssertion(ctx context.Context, assertion string, client *store.Client, method string, secret []byte, algs []string, audiences []string) (*jose.AssertionClaims, error)
}

// AccessTokenEncrypter wraps self-contained access tokens in a JWE and
// opens them again (internal/jose's DirEncrypter, with a key every node
// derives from the master key).
type AccessTokenEncrypter interface {
	Encrypt(jws string) (string, error)
	Decrypt(jwe string) (string, error)
}

// CertVerifier checks a client certificate against the registration of a
// client that authenticates with method (internal/mtls.Verifier).
type CertVerifier interface {
	VerifyClientCert(ctx context.Context, cert *x509.Certificate, client *store.Client, method string) error
}

// ClaimsResolver fetches the claims of a subject from the claims sources
// (internal/core/claims.Resolver).
type ClaimsResolver interface {
	Get(ctx context.Context, req plugin.ClaimsRequest) (map[string]any, error)
}

// Service is the token endpoint and UserInfo core. Every field is set by the
// server once; a Service is safe for concurrent use when its dependencies
// are. Required: Config.Issuer, Clients, Codes, Grants, RefreshTokens,
// AccessTokens, Replay, Keys, Now. Optional: Sealer and ClientKeys (without
// them client_secret_jwt / private_key_jwt clients cannot authenticate),
// Claims (without it tokens and UserInfo carry no source claims), Handlers,
// Rand (crypto/rand when nil) and Log (discarded when nil).
type Service struct {
	Config        Config
	Clients       ClientGetter
	Sealer        *secret.Sealer
	Codes         store.CodeStore
	Grants        store.GrantStore
	RefreshTokens store.RefreshTokenStore
	AccessTokens  store.AccessTokenStore
	Replay        store.ReplayCache
	Keys          Signer
	ClientKeys    AssertionVerifier
	Claims        ClaimsResolver
	// Authorizations are the long-lived authorisations a revocation by
	// subject or client removes; required by Revoke.
	Authorizations store.AuthorizationStore
	// Journal is the node's copy of the revocation journal; required by
	// Revoke and RevokeToken. Without it UserInfo and introspection check
	// only the grant.
	Journal *Journal
	// Encrypter encrypts access tokens when a consent asks for it; without
	// it such a consent fails with server_error and encrypted tokens are
	// not accepted.
	Encrypter AccessTokenEncrypter
	// PairwiseSalt keys pairwise subject identifiers (OIDC Core §8.1);
	// every node must have the same (secret.Keys.PairwiseSalt).
	PairwiseSalt []byte
	// Handlers are additional grants (password, client_credentials,
	// jwt-bearer, saml2-bearer). The authorization_code and refresh_token
	// grants are built in; a handler for one of their types is ignored.
	Handlers []Grant
	// DPoP verifies DPoP proofs (RFC 9449); without it a request with a
	// DPoP header is refused with invalid_dpop_proof.
	DPoP *dpop.Verifier
	// Certs checks the TLS client certificates of tls_client_auth and
	// self_signed_tls_client_auth clients (internal/mtls); without it
	// those clients cannot authenticate.
	Certs CertVerifier
	// CertBoundAccessTokens binds every access token of a request made
	// with a TLS client certificate to it (RFC 8705 §3), not only those of
	// clients registered with tls_client_certificate_bound_access_tokens.
	CertBoundAccessTokens bool
	Now                   func() time.Time
	Rand                  io.Reader
	Log                   *slog.Logger
}

func (s *Service) now() time.Time { return s.Now().UTC() }

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// tokenBytes is the entropy of every token and code we mint: 256 bits,
// well over the 128 bits RFC 6749 §10.10 and the conformance suite ask for.
const tokenBytes = 32

func (s *Service) newToken() (string, error) { return secret.Token(s.Rand, tokenBytes) }

// markUsed records a one-time identifier in the replay cache. The cache
// gets the identifier's hex SHA-256 (secret.Hash), never the identifier:
// "jti" values are chosen by clients and may be long or not valid text, and
// hashing here, once, gives every backend the same bounded key (see
// store.ReplayCache).
func (s *Service) markUsed(ctx context.Context, id string, until, now time.Time) (alreadyUsed bool, err error) {
	return s.Replay.MarkUsed(ctx, secret.Hash(id), until, now)
}

// spec returns the grant's token settings with the configured defaults for
// what it leaves unset.
func (s *Service) spec(t store.TokenSpec) store.TokenSpec {
	d := s.Config.withDefaults().Defaults
	if t.AccessTokenLifetime <= 0 {
		t.AccessTokenLifetime = d.AccessTokenLifetime
	}
	if t.AccessTokenEncoding == "" {
		t.AccessTokenEncoding = d.AccessTokenEncoding
	}
	if t.IDTokenLifetime <= 0 {
		t.IDTokenLifetime = d.IDTokenLifetime
	}
	return t
}

// serverError logs err with op and returns a server_error that carries it
// only as the log-only cause.
func (s *Service) serverError(ctx context.Context, op string, err error) *oauth.Error {
	if store.IsUnavailable(err) {
		// An outage, not a fault: the HTTP layer answers 503 and logs it.
		s.log().WarnContext(ctx, "token core: backend unavailable", slog.String("op", op), slog.Any("err", err))
		return oauth.ServerError("internal error").WithCause(err)
	}
	s.log().ErrorContext(ctx, "token core failure", slog.String("op", op), slog.Any("err", err))
	return oauth.ServerError("internal error").WithCause(err)
}
