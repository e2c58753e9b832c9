package clientreg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// DefaultCacheTTL bounds how long a node may serve a client record changed
// on another node whose announcement it missed.
const DefaultCacheTTL = 10 * time.Second

// Entropy of generated values, in bytes.
const (
	clientIDBytes = 16 // 128 bits
	secretBytes   = 32 // 256 bits
	tokenBytes    = 32 // 256 bits
)

// Bounds on operator-chosen values (CreateOptions).
const (
	maxClientIDLen     = 80
	minSecretLen       = 16
	minJWTSecretLen    = 32 // RFC 7518 §3.2: an HS256 key is at least 256 bits
	maxSecretLen       = 256
	defaultListLimit   = 100
	maxListLimit       = 1000
	statusNotFound     = 404
	registrationPrefix = "/clients/"
)

// Config shapes what clients may register. Zero values take the defaults
// documented per field.
type Config struct {
	// Issuer prefixes registration_client_uri: Issuer + "/clients/" + id.
	Issuer string
	// DevLoopbackHTTP admits http:// loopback URIs (127.0.0.1, [::1],
	// localhost) for web clients too. Development only.
	DevLoopbackHTTP bool
	// AllowedAuthMethods defaults to all of client_secret_basic,
	// client_secret_post, client_secret_jwt, private_key_jwt and none.
	AllowedAuthMethods []string
	// SupportedResponseTypes lists the accepted response_type token sets,
	// order-insensitive; default [["code"]].
	SupportedResponseTypes [][]string
	// SupportedGrantTypes defaults to authorization_code and refresh_token.
	SupportedGrantTypes []string
	// SupportedIDTokenAlgs are the algorithms the key manager can sign ID
	// tokens (and UserInfo responses) with; default RS256.
	SupportedIDTokenAlgs []string
	// SupportedScopes, when not empty, limits the scope member.
	SupportedScopes []string
	// CacheTTL is the lifetime of a Get cache entry; default DefaultCacheTTL.
	CacheTTL time.Duration
	// AuthorizationDetailsTypes are the server's authorization_details
	// types (authz.authorization_details_types); a client's
	// authorization_details_types must be among them.
	AuthorizationDetailsTypes []string
	// Profile is the server-wide security profile (authz.profile); under
	// "fapi2" every client is registered to the FAPI 2.0 rules.
	Profile string
}

func (c Config) authMethods() []string {
	if len(c.AllowedAuthMethods) > 0 {
		return c.AllowedAuthMethods
	}
	return []string{
		oauth.AuthMethodClientSecretBasic, oauth.AuthMethodClientSecretPost,
		oauth.AuthMethodClientSecretJWT, oauth.AuthMethodPrivateKeyJWT, oauth.AuthMethodNone,
	}
}

func (c Config) responseTypes() [][]string {
	if len(c.SupportedResponseTypes) > 0 {
		return c.SupportedResponseTypes
	}
	return [][]string{{oauth.ResponseTypeCode}}
}

func (c Config) grantTypes() []string {
	if len(c.SupportedGrantTypes) > 0 {
		return c.SupportedGrantTypes
	}
	return []string{oauth.GrantTypeAuthorizationCode, oauth.GrantTypeRefreshToken}
}

func (c Config) idTokenAlgs() []string {
	if len(c.SupportedIDTokenAlgs) > 0 {
		return c.SupportedIDTokenAlgs
	}
	return []string{oauth.AlgRS256}
}

func (c Config) cacheTTL() time.Duration {
	if c.CacheTTL > 0 {
		return c.CacheTTL
	}
	return DefaultCacheTTL
}

// Service registers clients and serves the client cache. Build it once as a
// struct literal and share it; it must not be copied after first use.
// Store and Now are required; Sealer is required to register
// client_secret_jwt clients.
type Service struct {
	Config Config
	// Store deletes a client together with its grants, tokens and
	// long-lived authorisations (store.ClientStore.Delete).
	Store store.ClientStore
	// PushedRequests, when set, loses a deleted client's pending pushed
	// authorisation requests, which live in the ephemeral store.
	PushedRequests store.PARStore
	// Sealer encrypts client_secret_jwt secrets, bound to the client ID.
	Sealer *secret.Sealer
	// ValidateJWKS checks a registered jwks value and must reject private
	// keys; nil uses a go-jose based check (non-empty set of valid public
	// keys).
	ValidateJWKS func(raw []byte) error
	// Sectors fetches sector_identifier_uri documents (OIDC Core §8.1);
	// without it a sector_identifier_uri is refused.
	Sectors Fetcher
	Now     func() time.Time
	// Rand is the randomness source; nil means crypto/rand.
	Rand io.Reader
	// Log receives registration events; never secrets. Nil discards.
	Log *slog.Logger
	// Changed, when set, is called after every successful local write so
	// the server can announce the change to the other nodes, which then
	// call Invalidate.
	Changed func(ctx context.Context, clientID string)

	cache cache
}

// CreateOptions carries operator choices for Create.
type CreateOptions struct {
	// PreferredID is used as the client ID: 1–80 characters from
	// A-Z a-z 0-9 . _ ~ -. A taken ID yields invalid_client_metadata.
	PreferredID string
	// PreferredSecret replaces the generated secret: printable ASCII,
	// 16–256 characters (at least 32 for client_secret_jwt). It is refused
	// for methods that take no secret.
	PreferredSecret string
}

// Register performs RFC 7591 §3.1 dynamic registration of req (from
// DecodeRequest); its update-only members are ignored. Errors:
// invalid_client_metadata / invalid_redirect_uri (400, RFC 7591 §3.2.2);
// other errors are internal failures.
func (s *Service) Register(ctx context.Context, req *Request) (*Registration, error) {
	if req == nil {
		return nil, errNoRequest
	}
	md := cloneMetadata(req.ClientMetadata)
	if oerr := s.validate(&md); oerr != nil {
		return nil, oerr
	}
	if err := s.checkSector(ctx, &md); err != nil {
		return nil, err
	}
	if md.IntrospectionAllowed && !req.Operator {
		return nil, errIntrospectionNotAllowed()
	}
	if len(md.AllowedResources) > 0 && !req.Operator {
		return nil, errAllowedResourcesNotAllowed()
	}
	return s.create(ctx, md, CreateOptions{})
}

// Create registers a client on the operator's behalf (command line, demo
// seeding), with the same validation as Register.
func (s *Service) Create(ctx context.Context, md store.ClientMetadata, opts CreateOptions) (*Registration, error) {
	md = cloneMetadata(md)
	if oerr := s.validate(&md); oerr != nil {
		return nil, oerr
	}
	if err := s.checkSector(ctx, &md); err != nil {
		return nil, err
	}
	return s.create(ctx, md, opts)
}

func (s *Service) create(ctx context.Context, md store.ClientMetadata, opts CreateOptions) (*Registration, error) {
	id := opts.PreferredID
	if id != "" {
		if !validClientID(id) {
			return nil, oauth.InvalidClientMetadata("preferred client_id must be 1-80 characters from A-Z a-z 0-9 . _ ~ -")
		}
	} else {
		var err error
		if id, err = secret.Token(s.Rand, clientIDBytes); err != nil {
			return nil, fmt.Errorf("generate client id: %w", err)
		}
	}
	now := s.Now().UTC()
	c := &store.Client{ID: id, Metadata: md, CreatedAt: now, UpdatedAt: now}
	plainSecret, err := s.issueSecret(c, opts.PreferredSecret)
	if err != nil {
		return nil, err
	}
	regToken, err := secret.Token(s.Rand, tokenBytes)
	if err != nil {
		return nil, fmt.Errorf("generate registration access token: %w", err)
	}
	c.RegistrationTokenHash = secret.HashBytes(regToken)
	if err := s.Store.Create(ctx, c); err != nil {
		if errors.Is(err, store.ErrExists) && opts.PreferredID != "" {
			return nil, oauth.InvalidClientMetadata("client_id taken").WithCause(err)
		}
		return nil, fmt.Errorf("create client: %w", err)
	}
	s.changed(ctx, id)
	s.log().InfoContext(ctx, "client registered", "client_id", id,
		"auth_method", md.TokenEndpointAuthMethod, "application_type", md.ApplicationType)
	return s.registration(c, plainSecret, regToken), nil
}

// Access is the authority a client configuration request (RFC 7592) is
// made with: the client's registration access token, or the operator's
// (the master API token, checked by the HTTP layer, or the command line).
// Build it with WithRegistrationToken or AsOperator. The zero value holds
// no token and is refused like a missing one, so the operator path cannot
// be taken by leaving a field unset.
type Access struct {
	token    string
	operator bool
}

// WithRegistrationToken is access with a client's registration access
// token, checked in constant time by every operation. An unknown client
// answers like a wrong token (RFC 7592 §2.1), so that client IDs cannot be
// probed.
func WithRegistrationToken(token string) Access { return Access{token: token} }

// AsOperator is access on the operator's behalf: no token is checked, and
// an unknown client yields invalid_client with status 404 whose cause
// wraps store.ErrNotFound.
func AsOperator() Access { return Access{operator: true} }

// CheckAccess reports the error a request for client id under acc fails
// with before its body is looked at: with a registration access token, a
// missing or wrong token or an unknown client (invalid_token, 401). Operator
// access passes; the operation itself reports an unknown client. The HTTP
// layer calls it before reporting a malformed update body, so that a caller
// without a valid token learns nothing from the body's fate.
func (s *Service) CheckAccess(ctx context.Context, id string, acc Access) error {
	if acc.operator {
		return nil
	}
	_, err := s.authorize(ctx, id, acc.token)
	return err
}

// Read returns the client's current registration (RFC 7592 §2.1). Errors
// per Access. Secrets are not echoed (see Registration).
func (s *Service) Read(ctx context.Context, id string, acc Access) (*Registration, error) {
	if acc.operator {
		c, err := s.Store.Get(ctx, id)
		if err != nil {
			return nil, s.adminStoreError(err, "get client")
		}
		return s.registration(c, "", ""), nil
	}
	c, err := s.authorize(ctx, id, acc.token)
	if err != nil {
		return nil, err
	}
	return s.registration(c, "", ""), nil
}

// Update replaces the client's metadata with req's (RFC 7592 §2.2):
// omitted members return to their defaults. req must repeat the client_id;
// a client_secret in it must be the current one; refresh_client_secret:true
// issues a new secret. With a registration access token every update
// rotates the token (returned in the result), as Connect2id does by
// default; operator access leaves it unchanged. A secret is also issued
// when a new authentication method needs one the client lacks, and dropped
// when the method needs none. Errors per Access, and
// invalid_client_metadata / invalid_redirect_uri (400) for req.
func (s *Service) Update(ctx context.Context, id string, acc Access, req *Request) (*Registration, error) {
	if err := s.CheckAccess(ctx, id, acc); err != nil {
		return nil, err
	}
	return s.update(ctx, id, acc, req)
}

// Delete removes the client (RFC 7592 §2.3); errors per Access.
func (s *Service) Delete(ctx context.Context, id string, acc Access) error {
	if acc.operator {
		if err := s.Store.Delete(ctx, id); err != nil {
			return s.adminStoreError(err, "delete client")
		}
		return s.deleted(ctx, id)
	}
	if _, err := s.authorize(ctx, id, acc.token); err != nil {
		return err
	}
	if err := s.Store.Delete(ctx, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return invalidRegistrationToken().WithCause(err)
		}
		return fmt.Errorf("delete client: %w", err)
	}
	return s.deleted(ctx, id)
}

// List returns up to limit registrations with client IDs after after, in
// ID order, for the master-token GET /clients. limit ≤ 0 means 100; it is
// capped at 1000.
func (s *Service) List(ctx context.Context, after string, limit int) ([]*Registration, error) {
	if limit <= 0 {
		limit = defaultListLimit
	}
	limit = min(limit, maxListLimit)
	cs, err := s.Store.List(ctx, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	out := make([]*Registration, 0, len(cs))
	for _, c := range cs {
		out = append(out, s.registration(c, "", ""))
	}
	return out, nil
}

// update implements Update once acc has been checked.
func (s *Service) update(ctx context.Context, id string, acc Access, req *Request) (*Registration, error) {
	if req == nil {
		return nil, errNoRequest
	}
	if req.ClientID == nil {
		return nil, oauth.InvalidClientMetadata("client_id is required")
	}
	if *req.ClientID != id {
		return nil, oauth.InvalidClientMetadata("client_id does not match the client")
	}
	md := cloneMetadata(req.ClientMetadata)
	if oerr := s.validate(&md); oerr != nil {
		return nil, oerr
	}
	if err := s.checkSector(ctx, &md); err != nil {
		return nil, err
	}
	now := s.Now().UTC()
	var plainSecret, newToken string
	updated, err := s.Store.Update(ctx, id, func(c *store.Client) error {
		// The store may run this more than once; only the last run counts.
		plainSecret, newToken = "", ""
		// Re-checked here so a concurrent rotation cannot be overwritten
		// by a holder of the old token.
		if !acc.operator && !secret.MatchesHash(acc.token, c.RegistrationTokenHash) {
			return invalidRegistrationToken()
		}
		if req.ClientSecret != nil && !secret.MatchesHash(*req.ClientSecret, c.SecretHash) {
			return oauth.InvalidClientMetadata("client_secret does not match the current secret")
		}
		// A client may drop introspection_allowed, never grant it itself.
		if !acc.operator && md.IntrospectionAllowed && !c.Metadata.IntrospectionAllowed {
			return errIntrospectionNotAllowed()
		}
		// Likewise allowed_resources: it may shrink, never grow.
		if !acc.operator && !subset(md.AllowedResources, c.Metadata.AllowedResources) {
			return errAllowedResourcesNotAllowed()
		}
		c.Metadata = md
		c.UpdatedAt = now
		method := md.TokenEndpointAuthMethod
		switch {
		case !needsSecret(method):
			c.SecretHash, c.SecretSealed, c.SecretExpiresAt = nil, nil, time.Time{}
		case req.RefreshClientSecret || len(c.SecretHash) == 0 ||
			(method == oauth.AuthMethodClientSecretJWT && len(c.SecretSealed) == 0):
			var err error
			if plainSecret, err = s.issueSecret(c, ""); err != nil {
				return err
			}
		case method != oauth.AuthMethodClientSecretJWT:
			// Keep no recoverable copy of a secret nobody needs to read.
			c.SecretSealed = nil
		}
		if !acc.operator {
			t, err := secret.Token(s.Rand, tokenBytes)
			if err != nil {
				return fmt.Errorf("generate registration access token: %w", err)
			}
			newToken = t
			c.RegistrationTokenHash = secret.HashBytes(t)
		}
		return nil
	})
	if err != nil {
		if oe := oauth.AsError(err); oe != nil {
			return nil, oe
		}
		if !acc.operator && errors.Is(err, store.ErrNotFound) {
			return nil, invalidRegistrationToken().WithCause(err)
		}
		return nil, s.adminStoreError(err, "update client")
	}
	s.changed(ctx, id)
	s.log().InfoContext(ctx, "client updated", "client_id", id, "secret_rotated", plainSecret != "")
	return s.registration(updated, plainSecret, newToken), nil
}

// authorize checks an RFC 7592 registration access token in constant time.
// An unknown client answers like a wrong token (RFC 7592 §2.1), so that
// client IDs cannot be probed.
func (s *Service) authorize(ctx context.Context, id, token string) (*store.Client, error) {
	if token == "" {
		return nil, oauth.InvalidToken("missing registration access token")
	}
	c, err := s.Store.Get(ctx, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, invalidRegistrationToken().WithCause(err)
		}
		return nil, fmt.Errorf("get client: %w", err)
	}
	if !secret.MatchesHash(token, c.RegistrationTokenHash) {
		return nil, invalidRegistrationToken()
	}
	return c, nil
}

// errNoRequest refuses a nil *Request from a caller that skipped
// DecodeRequest.
var errNoRequest = oauth.InvalidClientMetadata("missing registration request")

func invalidRegistrationToken() *oauth.Error {
	return oauth.InvalidToken("invalid registration access token")
}

func (s *Service) adminStoreError(err error, op string) error {
	if errors.Is(err, store.ErrNotFound) {
		return oauth.InvalidClient("unknown client").WithStatus(statusNotFound).WithCause(err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// needsSecret reports whether method authenticates with a shared secret.
func needsSecret(method string) bool {
	switch method {
	case oauth.AuthMethodClientSecretBasic, oauth.AuthMethodClientSecretPost, oauth.AuthMethodClientSecretJWT:
		return true
	}
	return false
}

// issueSecret gives c a new secret (preferred, or 256 random bits) when
// its method needs one, and returns it in the clear for the one response
// that shows it. Only the SHA-256 is kept, plus, for client_secret_jwt, a
// copy sealed with the client ID as additional data: the token endpoint
// needs the plain value to verify HMAC assertions.
func (s *Service) issueSecret(c *store.Client, preferred string) (string, error) {
	method := c.Metadata.TokenEndpointAuthMethod
	c.SecretHash, c.SecretSealed, c.SecretExpiresAt = nil, nil, time.Time{}
	if !needsSecret(method) {
		if preferred != "" {
			return "", oauth.InvalidClientMetadata("token_endpoint_auth_method " + method + " takes no client secret")
		}
		return "", nil
	}
	plain := preferred
	if plain != "" {
		minLen := minSecretLen
		if method == oauth.AuthMethodClientSecretJWT {
			minLen = minJWTSecretLen
		}
		if len(plain) < minLen || len(plain) > maxSecretLen || !printableASCII(plain) {
			return "", oauth.InvalidClientMetadata(fmt.Sprintf("preferred client secret must be %d-%d printable ASCII characters", minLen, maxSecretLen))
		}
	} else {
		var err error
		if plain, err = secret.Token(s.Rand, secretBytes); err != nil {
			return "", fmt.Errorf("generate client secret: %w", err)
		}
	}
	c.SecretHash = secret.HashBytes(plain)
	if method == oauth.AuthMethodClientSecretJWT {
		if s.Sealer == nil {
			return "", errors.New("client_secret_jwt needs a sealer")
		}
		sealed, err := s.Sealer.Seal([]byte(plain), []byte(c.ID))
		if err != nil {
			return "", fmt.Errorf("seal client secret: %w", err)
		}
		c.SecretSealed = sealed
	}
	return plain, nil
}

func (s *Service) registration(c *store.Client, plainSecret, regToken string) *Registration {
	r := &Registration{
		ClientID:                c.ID,
		ClientSecret:            plainSecret,
		ClientIDIssuedAt:        c.CreatedAt.Unix(),
		HasSecret:               len(c.SecretHash) > 0,
		RegistrationAccessToken: regToken,
		RegistrationClientURI:   strings.TrimSuffix(s.Config.Issuer, "/") + registrationPrefix + url.PathEscape(c.ID),
		Metadata:                c.Metadata,
	}
	if !c.SecretExpiresAt.IsZero() {
		r.ClientSecretExpiresAt = c.SecretExpiresAt.Unix()
	}
	return r
}

func (s *Service) changed(ctx context.Context, id string) {
	s.Invalidate(id)
	if s.Changed != nil {
		s.Changed(ctx, id)
	}
}

// deleted finishes a deletion once the store has removed the client with
// its grants, tokens and authorisations: pending pushed requests go too,
// so that a client registered later under the same ID inherits nothing.
// Pushed requests are deleted after the client, so none can be pushed in
// between; a failure is reported, since the deletion is then incomplete
// until the requests expire.
func (s *Service) deleted(ctx context.Context, id string) error {
	s.changed(ctx, id)
	n := 0
	if s.PushedRequests != nil {
		var err error
		if n, err = s.PushedRequests.DeleteByClient(ctx, id); err != nil {
			return fmt.Errorf("delete pushed requests of deleted client %q: %w", id, err)
		}
	}
	s.log().InfoContext(ctx, "client deleted", "client_id", id, "pushed_requests", n)
	return nil
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

// validClientID keeps operator-chosen IDs URL-path safe and short.
func validClientID(id string) bool {
	if id == "" || len(id) > maxClientIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '_', c == '~', c == '-':
		default:
			return false
		}
	}
	return true
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// cloneMetadata copies the slices of md so that validation's defaults do
// not write into the caller's arrays.
func cloneMetadata(md store.ClientMetadata) store.ClientMetadata {
	md.RedirectURIs = append([]string(nil), md.RedirectURIs...)
	md.ResponseTypes = append([]string(nil), md.ResponseTypes...)
	md.GrantTypes = append([]string(nil), md.GrantTypes...)
	return md
}
