package token

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/jose"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// Form parameter names of client authentication (RFC 6749 §2.3.1,
// RFC 7521 §4.2).
const (
	paramClientID            = "client_id"
	paramClientSecret        = "client_secret"
	paramClientAssertion     = "client_assertion"
	paramClientAssertionType = "client_assertion_type"
)

// Algorithm allow-lists for client assertions (OIDC Core §9).
var (
	hmacAlgs = oauth.HMACAlgs()
	asymAlgs = oauth.AsymmetricAlgs()
)

// maxAssertionLen bounds the client assertion we are willing to parse; a
// bigger one cannot be a sane JWT, and parsing it would only cost us.
const maxAssertionLen = 16 << 10

// authFailure is why a client failed to authenticate, for the logs only.
type authFailure struct {
	clientID string
	reason   string
	cause    error
}

// AuthenticateClient authenticates the client of a token or PAR request by
// exactly one method (RFC 6749 §2.3, OIDC Core §9, RFC 7523 §2.2) — the one
// the client registered (token_endpoint_auth_method, default
// client_secret_basic).
//
// Errors: invalid_request (400) for two methods at once, repeated or
// malformed parameters; invalid_client (401) with a generic description for
// an unknown client, a wrong or expired secret, a bad or replayed assertion,
// or a method other than the registered one; server_error for store or
// sealer failures. The reason is logged with a random client_auth_id that
// the description echoes, never with the secret.
func (s *Service) AuthenticateClient(ctx context.Context, c Credentials) (*store.Client, error) {
	for _, p := range []string{paramClientID, paramClientSecret, paramClientAssertion, paramClientAssertionType} {
		if len(c.Form[p]) > 1 {
			return nil, oauth.InvalidRequest("repeated parameter " + p)
		}
	}
	formID := c.Form.Get(paramClientID)
	formSecret, hasFormSecret := c.Form.Get(paramClientSecret), c.Form.Has(paramClientSecret)
	assertion := c.Form.Get(paramClientAssertion)
	hasAssertion := c.Form.Has(paramClientAssertion) || c.Form.Has(paramClientAssertionType)

	methods := 0
	for _, used := range []bool{c.HasBasic, hasFormSecret, hasAssertion} {
		if used {
			methods++
		}
	}
	if methods > 1 {
		return nil, oauth.InvalidRequest("more than one client authentication method")
	}

	var (
		client *store.Client
		fail   *authFailure
		err    error
	)
	switch {
	case c.HasBasic:
		if formID != "" && formID != c.BasicID {
			return nil, oauth.InvalidRequest("client_id does not match the authenticated client")
		}
		client, fail, err = s.authSecret(ctx, c.BasicID, c.BasicSecret, oauth.AuthMethodClientSecretBasic)
	case hasFormSecret:
		client, fail, err = s.authSecret(ctx, formID, formSecret, oauth.AuthMethodClientSecretPost)
	case hasAssertion:
		if c.Form.Get(paramClientAssertionType) != oauth.ClientAssertionTypeJWTBearer {
			return nil, oauth.InvalidRequest("client_assertion_type must be " + oauth.ClientAssertionTypeJWTBearer)
		}
		if assertion == "" {
			return nil, oauth.InvalidRequest("missing client_assertion")
		}
		client, fail, err = s.authAssertion(ctx, formID, assertion)
	case formID != "":
		client, fail, err = s.authByID(ctx, formID, c)
	default:
		fail = &authFailure{reason: "no client authentication"}
	}
	if err != nil {
		return nil, err
	}
	if fail != nil {
		return nil, s.invalidClient(ctx, fail)
	}
	if err := s.checkProfileAuth(client, assertion); err != nil {
		return nil, err
	}
	return client, nil
}

// invalidClient logs the failure under a fresh client_auth_id and returns
// the generic invalid_client error echoing that ID (as Connect2id's
// client_auth_id): the client learns nothing about which check failed, and
// an operator finds the reason in the log by the ID.
func (s *Service) invalidClient(ctx context.Context, f *authFailure) *oauth.Error {
	id, err := secret.Token(s.Rand, 12)
	if err != nil {
		id = "unavailable"
	}
	s.log().InfoContext(ctx, "client authentication failed",
		slog.String("client_auth_id", id),
		slog.String("client_id", f.clientID),
		slog.String("reason", f.reason),
		slog.Any("err", f.cause))
	return oauth.InvalidClient("client authentication failed (client_auth_id " + id + ")").WithCause(errors.New(f.reason))
}

// lookup returns the client registered as id and checks that it registered
// method. A nil client with a nil error means a failure already described.
func (s *Service) lookup(ctx context.Context, id, method string) (*store.Client, *authFailure, error) {
	if id == "" {
		return nil, &authFailure{reason: "empty client_id"}, nil
	}
	client, err := s.Clients.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &authFailure{clientID: id, reason: "unknown client"}, nil
	}
	if err != nil {
		return nil, nil, s.serverError(ctx, "get client", err)
	}
	registered := client.Metadata.TokenEndpointAuthMethod
	if registered == "" {
		registered = oauth.AuthMethodClientSecretBasic
	}
	if registered != method {
		return nil, &authFailure{clientID: id, reason: "method " + method + " used, " + registered + " registered"}, nil
	}
	return client, nil, nil
}

func (s *Service) authSecret(ctx context.Context, id, presented, method string) (*store.Client, *authFailure, error) {
	client, fail, err := s.lookup(ctx, id, method)
	if client == nil {
		return nil, fail, err
	}
	if !secret.MatchesHash(presented, client.SecretHash) {
		return nil, &authFailure{clientID: id, reason: "wrong client secret"}, nil
	}
	if expired(client.SecretExpiresAt, s.now()) {
		return nil, &authFailure{clientID: id, reason: "client secret expired"}, nil
	}
	return client, nil, nil
}

// authByID authenticates a client that sent only its client_id: a public
// client (none), or a mutual TLS one (RFC 8705 §2) whose certificate
// came with the request.
func (s *Service) authByID(ctx context.Context, id string, c Credentials) (*store.Client, *authFailure, error) {
	method := oauth.AuthMethodNone
	if c.ClientCert != nil {
		client, err := s.Clients.Get(ctx, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, nil, s.serverError(ctx, "get client", err)
		}
		if client != nil {
			switch m := client.Metadata.TokenEndpointAuthMethod; m {
			case oauth.AuthMethodTLSClientAuth, oauth.AuthMethodSelfSignedTLSClientAuth:
				method = m
			}
		}
	}
	client, fail, err := s.lookup(ctx, id, method)
	if client == nil || method == oauth.AuthMethodNone {
		return client, fail, err
	}
	if s.Certs == nil {
		return nil, &authFailure{clientID: id, reason: "mutual TLS is not configured"}, nil
	}
	if err := s.Certs.VerifyClientCert(ctx, c.ClientCert, client, method); err != nil {
		return nil, &authFailure{clientID: id, reason: "client certificate rejected", cause: err}, nil
	}
	return client, nil, nil
}

func (s *Service) authAssertion(ctx context.Context, formID, assertion string) (*store.Client, *authFailure, error) {
	if len(assertion) > maxAssertionLen {
		return nil, &authFailure{clientID: formID, reason: "client assertion too large"}, nil
	}
	id, err := jose.UnverifiedClientID(assertion)
	if err != nil {
		return nil, &authFailure{clientID: formID, reason: "malformed client assertion", cause: err}, nil
	}
	if formID != "" && formID != id {
		return nil, &authFailure{clientID: formID, reason: "client_id does not match the assertion"}, nil
	}
	// The assertion's header names the algorithm, and therefore the method;
	// the registered method must then agree (RFC 7523 §2.2 leaves the
	// choice to the client's registration).
	method := oauth.AuthMethodPrivateKeyJWT
	algs := asymAlgs
	if strings.HasPrefix(headerAlg(assertion), "HS") {
		method, algs = oauth.AuthMethodClientSecretJWT, hmacAlgs
	}
	client, fail, err := s.lookup(ctx, id, method)
	if client == nil {
		return nil, fail, err
	}
	if reg := client.Metadata.TokenEndpointAuthSigningAlg; reg != "" {
		algs = []string{reg}
	}
	var key []byte
	if method == oauth.AuthMethodClientSecretJWT {
		if expired(client.SecretExpiresAt, s.now()) {
			return nil, &authFailure{clientID: id, reason: "client secret expired"}, nil
		}
		if s.Sealer == nil || len(client.SecretSealed) == 0 {
			return nil, &authFailure{clientID: id, reason: "no sealed secret for client_secret_jwt"}, nil
		}
		key, err = s.Sealer.Open(client.SecretSealed, []byte(client.ID))
		if err != nil {
			return nil, nil, s.serverError(ctx, "open client secret", err)
		}
	}
	if s.ClientKeys == nil {
		return nil, &authFailure{clientID: id, reason: "client assertions are not configured"}, nil
	}
	cfg := s.Config.withDefaults()
	// The introspection and revocation endpoints authenticate clients
	// here too; an assertion may name the endpoint it is sent to
	// (RFC 7523 §3), and its jti is single-use across all of them.
	audiences := []string{cfg.TokenEndpoint, cfg.Issuer, cfg.TokenEndpoint + "/introspect", cfg.TokenEndpoint + "/revoke"}
	claims, err := s.ClientKeys.VerifyAssertion(ctx, assertion, client, method, key, algs, audiences)
	if err != nil {
		return nil, &authFailure{clientID: id, reason: "client assertion rejected", cause: err}, nil
	}
	// Defence in depth: the verifier promises these, but a wrong answer
	// here would let one client act as another.
	now := s.now()
	if claims.Issuer != client.ID || claims.Subject != client.ID {
		return nil, &authFailure{clientID: id, reason: "assertion iss/sub is not the client"}, nil
	}
	if claims.ID == "" {
		return nil, &authFailure{clientID: id, reason: "assertion without jti"}, nil
	}
	// Remember the jti for as long as the verifier would accept the
	// assertion, exp plus its leeway, so no replay slips past an expired
	// entry. The verifier bounds exp; checking the bound again here keeps a
	// far exp from pinning replay-cache entries even if it did not.
	if claims.Expiry.After(now.Add(cfg.AssertionMaxAge + jose.AssertionLeeway)) {
		return nil, &authFailure{clientID: id, reason: "client assertion expires too far ahead"}, nil
	}
	until := claims.Expiry.Add(jose.AssertionLeeway)
	if !until.After(now) {
		until = now.Add(jose.AssertionLeeway)
	}
	used, err := s.markUsed(ctx, clientAssertionKey(client.ID, claims.ID), until, now)
	if err != nil {
		return nil, nil, s.serverError(ctx, "mark assertion used", err)
	}
	if used {
		return nil, &authFailure{clientID: id, reason: "client assertion replayed"}, nil
	}
	return client, nil, nil
}

// clientAssertionKey is the replay-cache key of a client's self-issued JWT.
func clientAssertionKey(clientID, jti string) string {
	return "client_assertion:" + clientID + ":" + jti
}

func expired(at, now time.Time) bool { return !at.IsZero() && !now.Before(at) }

// earliest returns the earliest non-zero time of ts, or zero when all are.
func earliest(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if !t.IsZero() && (out.IsZero() || t.Before(out)) {
			out = t
		}
	}
	return out
}

// headerAlg returns the "alg" of a compact JWS header, or "".
func headerAlg(token string) string {
	h, ok := jwsHeader(token)
	if !ok {
		return ""
	}
	return h.Alg
}

type header struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
}

// jwsHeader decodes the protected header of a compact JWS without
// verifying anything; callers only use it to choose how to verify.
func jwsHeader(token string) (header, bool) {
	var h header
	i := strings.IndexByte(token, '.')
	if i <= 0 || strings.Count(token, ".") != 2 {
		return h, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(token[:i])
	if err != nil || json.Unmarshal(raw, &h) != nil {
		return h, false
	}
	return h, true
}

// typIs compares a JWT "typ" with want, accepting the "application/" prefix
// and any case (RFC 7515 §4.1.9, RFC 9068 §4).
func typIs(typ, want string) bool {
	typ = strings.ToLower(typ)
	return typ == want || typ == "application/"+want
}
