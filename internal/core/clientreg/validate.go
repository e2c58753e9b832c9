package clientreg

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"reflect"
	"slices"
	"strings"

	jose "github.com/keyward/keyward/internal/jose"

	"github.com/keyward/keyward/internal/core/authzpolicy"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// MaxBodySize bounds a registration or update request body, as Connect2id's
// op.reg.httpMaxRequestSize does.
const MaxBodySize = 250_000

// Metadata member names used in error descriptions.
const (
	memberRedirectURIs           = "redirect_uris"
	memberPostLogoutRedirectURIs = "post_logout_redirect_uris"
)

// Request is a registration (RFC 7591 §3.1) or update (RFC 7592 §2.2)
// request, as DecodeRequest reads it from a JSON body. Unknown members are
// ignored (RFC 7591 §2).
type Request struct {
	store.ClientMetadata
	// ClientID must repeat the current client ID on update (RFC 7592 §2.2).
	ClientID *string `json:"client_id"`
	// ClientSecret, when sent on update, must match the current secret
	// (RFC 7592 §2.2).
	ClientSecret *string `json:"client_secret"`
	// RefreshClientSecret asks for a new secret on update (Connect2id).
	RefreshClientSecret bool `json:"refresh_client_secret"`
	// Operator is set by the HTTP layer, never from the body, when the
	// registration was made with the registration API token: only then may
	// it grant introspection_allowed.
	Operator bool `json:"-"`
}

// errIntrospectionNotAllowed refuses introspection_allowed from anyone but
// the operator: it lets a client read every other client's tokens.
func errIntrospectionNotAllowed() *oauth.Error {
	return oauth.InvalidClientMetadata("introspection_allowed may only be set with the registration API token")
}

// DecodeRequest parses body as one JSON object of at most MaxBodySize
// bytes. Errors are invalid_client_metadata (400, RFC 7591 §3.2.2) naming
// the member of the wrong type where there is one. It checks only the
// shape: Register and Update validate the metadata.
func DecodeRequest(body []byte) (*Request, *oauth.Error) {
	if len(body) > MaxBodySize {
		return nil, oauth.InvalidClientMetadata(fmt.Sprintf("request body exceeds %d bytes", MaxBodySize))
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, oauth.InvalidClientMetadata("request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	var req Request
	if err := dec.Decode(&req); err != nil {
		return nil, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, oauth.InvalidClientMetadata("request body must hold a single JSON object")
	}
	return &req, nil
}

func decodeError(err error) *oauth.Error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		field := typeErr.Field
		// Go names members of the embedded metadata by their JSON path,
		// sometimes prefixed with the embedded type's name.
		field = strings.TrimPrefix(field, "ClientMetadata.")
		return oauth.InvalidClientMetadata(fmt.Sprintf("invalid %s: expected %s", field, jsonKind(typeErr.Type))).WithCause(err)
	}
	return oauth.InvalidClientMetadata("request body is not valid JSON").WithCause(err)
}

func jsonKind(t reflect.Type) string {
	if t == nil {
		return "of another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array of " + strings.TrimPrefix(strings.TrimPrefix(jsonKind(t.Elem()), "a "), "an ") + "s"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "of another type"
}

// forbiddenSchemes can execute or read local content in a user agent.
var forbiddenSchemes = []string{"javascript", "data", "vbscript", "file"}

// reservedRedirectParams would collide with the authorisation response
// (RFC 6749 §4.1.2, RFC 9207) if a redirect URI carried them.
var reservedRedirectParams = []string{"code", "state", "response", "iss", "error"}

// signingAlgs are the JWS algorithms (RFC 7518 §3.1) a client may name for
// its own request objects and client assertions.
var (
	asymmetricAlgs = oauth.AsymmetricAlgs()
	symmetricAlgs  = oauth.HMACAlgs()
)

// validate checks md against RFC 7591 §2, OIDC Dynamic Registration §2 and
// the server's configuration, filling in defaults. It returns
// invalid_redirect_uri for a bad redirect URI and invalid_client_metadata
// for everything else (RFC 7591 §3.2.2).
func (s *Service) validate(md *store.ClientMetadata) *oauth.Error {
	steps := []func(*store.ClientMetadata) *oauth.Error{
		s.checkApplicationType,
		s.checkGrantAndResponseTypes,
		s.checkRedirectURIs,
		s.checkAuthMethod,
		checkMTLS,
		s.checkURIs,
		s.checkAlgorithms,
		s.checkSubjectType,
		s.checkScope,
		checkMisc,
		s.checkProfile,
	}
	for _, step := range steps {
		if err := step(md); err != nil {
			return err
		}
	}
	return nil
}

// OIDC Dynamic Registration §2: application_type defaults to web.
func (s *Service) checkApplicationType(md *store.ClientMetadata) *oauth.Error {
	switch md.ApplicationType {
	case "":
		md.ApplicationType = oauth.ApplicationTypeWeb
	case oauth.ApplicationTypeWeb, oauth.ApplicationTypeNative:
	default:
		return oauth.InvalidClientMetadata("application_type must be web or native")
	}
	return nil
}

// checkGrantAndResponseTypes applies the defaults and the consistency table
// of RFC 7591 §2.1: code ⇔ authorization_code, token / id_token ⇔ implicit.
func (s *Service) checkGrantAndResponseTypes(md *store.ClientMetadata) *oauth.Error {
	respGiven, grantGiven := len(md.ResponseTypes) > 0, len(md.GrantTypes) > 0
	switch {
	case !respGiven && !grantGiven:
		md.ResponseTypes = []string{oauth.ResponseTypeCode}
		md.GrantTypes = []string{oauth.GrantTypeAuthorizationCode}
	case !respGiven:
		// A client registering only, say, client_credentials has no use for
		// the authorisation endpoint; give it response types only when its
		// grants imply them.
		if slices.Contains(md.GrantTypes, oauth.GrantTypeAuthorizationCode) {
			md.ResponseTypes = []string{oauth.ResponseTypeCode}
		}
	case !grantGiven:
		for _, rt := range md.ResponseTypes {
			for _, g := range grantsFor(strings.Fields(rt)) {
				if !slices.Contains(md.GrantTypes, g) {
					md.GrantTypes = append(md.GrantTypes, g)
				}
			}
		}
	}

	supportedGrants := s.Config.grantTypes()
	for _, g := range md.GrantTypes {
		if !slices.Contains(supportedGrants, g) {
			return oauth.InvalidClientMetadata("unsupported grant_type: " + safe(g))
		}
	}
	supportedResp := s.Config.responseTypes()
	for _, rt := range md.ResponseTypes {
		toks := strings.Fields(rt)
		if !slices.ContainsFunc(supportedResp, func(sup []string) bool { return sameSet(sup, toks) }) {
			return oauth.InvalidClientMetadata("unsupported response_type: " + safe(rt))
		}
		for _, g := range grantsFor(toks) {
			if !slices.Contains(md.GrantTypes, g) {
				return oauth.InvalidClientMetadata(fmt.Sprintf("response_type %s requires the %s grant_type", safe(rt), g))
			}
		}
	}
	needs := func(tok ...string) bool {
		return slices.ContainsFunc(md.ResponseTypes, func(rt string) bool {
			return slices.ContainsFunc(strings.Fields(rt), func(t string) bool { return slices.Contains(tok, t) })
		})
	}
	if slices.Contains(md.GrantTypes, oauth.GrantTypeAuthorizationCode) && !needs(oauth.ResponseTypeCode) {
		return oauth.InvalidClientMetadata("grant_type authorization_code requires a response_type containing code")
	}
	if slices.Contains(md.GrantTypes, oauth.GrantTypeImplicit) && !needs(oauth.ResponseTypeToken, oauth.ResponseTypeIDToken) {
		return oauth.InvalidClientMetadata("grant_type implicit requires a response_type containing token or id_token")
	}
	return nil
}

// grantsFor maps response type tokens to the grant types they need
// (RFC 7591 §2.1).
func grantsFor(toks []string) []string {
	var out []string
	for _, t := range toks {
		var g string
		switch t {
		case oauth.ResponseTypeCode:
			g = oauth.GrantTypeAuthorizationCode
		case oauth.ResponseTypeToken, oauth.ResponseTypeIDToken:
			g = oauth.GrantTypeImplicit
		default:
			continue
		}
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

func sameSet(a, b []string) bool {
	if len(b) == 0 {
		return false
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			return false
		}
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// checkRedirectURIs enforces OIDC Dynamic Registration §2 and RFC 8252 §7
// on every redirect URI; they are required when a redirect-based grant is
// registered.
func (s *Service) checkRedirectURIs(md *store.ClientMetadata) *oauth.Error {
	redirecting := slices.Contains(md.GrantTypes, oauth.GrantTypeAuthorizationCode) ||
		slices.Contains(md.GrantTypes, oauth.GrantTypeImplicit)
	if redirecting && len(md.RedirectURIs) == 0 {
		return oauth.InvalidRedirectURI("redirect_uris is required for the authorization_code and implicit grants")
	}
	for i, raw := range md.RedirectURIs {
		if why := s.redirectURIProblem(raw, md.ApplicationType); why != "" {
			return oauth.InvalidRedirectURI(fmt.Sprintf("%s[%d] %s", memberRedirectURIs, i, why))
		}
	}
	for i, raw := range md.PostLogoutRedirectURIs {
		if why := s.redirectURIProblem(raw, md.ApplicationType); why != "" {
			return oauth.InvalidClientMetadata(fmt.Sprintf("%s[%d] %s", memberPostLogoutRedirectURIs, i, why))
		}
	}
	return nil
}

// redirectURIProblem says what is wrong with a redirect URI, or "" when it
// is acceptable. The value itself is never echoed: error descriptions must
// stay within the RFC 6749 §4.1.2.1 character set.
func (s *Service) redirectURIProblem(raw, appType string) string {
	if raw == "" {
		return "must not be empty"
	}
	if tmpl, ok := strings.CutPrefix(raw, redirectTemplatePrefix); ok {
		// A template (Connect2id's urn:c2id:redirect_uri_template:) must
		// be a valid redirect URI once its one placeholder, which only a
		// DNS label can fill, is replaced.
		if strings.Count(tmpl, templatePlaceholder) != 1 {
			return "must contain " + templatePlaceholder + " exactly once"
		}
		filled := strings.Replace(tmpl, templatePlaceholder, "param", 1)
		if u, err := url.Parse(filled); err != nil || !strings.Contains(u.Host, "param") {
			return "must have " + templatePlaceholder + " in its host"
		}
		return s.redirectURIProblem(filled, appType)
	}
	if strings.Contains(raw, "#") {
		return "must not contain a fragment"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "is not a valid URI"
	}
	if u.Scheme == "" {
		return "must be an absolute URI"
	}
	if slices.Contains(forbiddenSchemes, u.Scheme) {
		return "uses a forbidden scheme"
	}
	if u.User != nil {
		return "must not contain user information"
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "has a malformed query"
	}
	for _, p := range reservedRedirectParams {
		if q.Has(p) {
			return "must not carry the reserved query parameter " + p
		}
	}
	host := u.Hostname()
	native := appType == oauth.ApplicationTypeNative
	switch u.Scheme {
	case "https":
		if host == "" || u.Opaque != "" {
			return "must name a host"
		}
		// RFC 8252 §8.3: native apps use loopback IP literals over http,
		// never https to localhost.
		if native && strings.EqualFold(host, "localhost") {
			return "must not use https with localhost for a native app"
		}
	case "http":
		switch {
		case isLoopbackIP(host):
			if native || s.Config.DevLoopbackHTTP {
				return ""
			}
		case strings.EqualFold(host, "localhost"):
			if s.Config.DevLoopbackHTTP {
				return ""
			}
		}
		if native {
			return "may use http only with a loopback IP address (127.0.0.1 or [::1])"
		}
		return "must use https"
	default:
		if !native {
			return "must use https"
		}
		// RFC 8252 §7.1: private-use schemes are reverse domain names.
		if !strings.Contains(u.Scheme, ".") {
			return "must use a reverse-domain private-use scheme"
		}
	}
	return ""
}

func isLoopbackIP(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && (ip.Equal(net.IPv4(127, 0, 0, 1)) || ip.Equal(net.IPv6loopback))
}

// webURIProblem checks a URL the server or the user agent fetches or shows:
// https, or http to a loopback host in development.
func (s *Service) webURIProblem(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "is not a valid URI"
	}
	if u.Scheme == "" || u.Opaque != "" {
		return "must be an absolute URI"
	}
	if u.User != nil {
		return "must not contain user information"
	}
	host := u.Hostname()
	if host == "" {
		return "must name a host"
	}
	switch u.Scheme {
	case "https":
		return ""
	case "http":
		if s.Config.DevLoopbackHTTP && (isLoopbackIP(host) || strings.EqualFold(host, "localhost")) {
			return ""
		}
	}
	return "must use https"
}

func (s *Service) checkURIs(md *store.ClientMetadata) *oauth.Error {
	single := []struct {
		name, value string
	}{
		{"logo_uri", md.LogoURI},
		{"client_uri", md.ClientURI},
		{"policy_uri", md.PolicyURI},
		{"tos_uri", md.TOSURI},
		{"jwks_uri", md.JWKSURI},
		{"sector_identifier_uri", md.SectorIdentifierURI},
		{"initiate_login_uri", md.InitiateLoginURI},
		{"frontchannel_logout_uri", md.FrontchannelLogoutURI},
		{"backchannel_logout_uri", md.BackchannelLogoutURI},
	}
	for _, f := range single {
		if f.value == "" {
			continue
		}
		if why := s.webURIProblem(f.value); why != "" {
			return oauth.InvalidClientMetadata(f.name + " " + why)
		}
	}
	for i, raw := range md.RequestURIs {
		if why := s.webURIProblem(raw); why != "" {
			return oauth.InvalidClientMetadata(fmt.Sprintf("request_uris[%d] %s", i, why))
		}
	}
	// Back-Channel Logout 1.0 §2.2 and Front-Channel Logout 1.0 §2: the
	// logout URIs may carry a query but never a fragment; the session
	// flags make sense only with their URI.
	for _, f := range []struct {
		name, value string
	}{
		{"frontchannel_logout_uri", md.FrontchannelLogoutURI},
		{"backchannel_logout_uri", md.BackchannelLogoutURI},
	} {
		if strings.Contains(f.value, "#") {
			return oauth.InvalidClientMetadata(f.name + " must not contain a fragment")
		}
	}
	if md.FrontchannelLogoutSessionRequired && md.FrontchannelLogoutURI == "" {
		return oauth.InvalidClientMetadata("frontchannel_logout_session_required needs frontchannel_logout_uri")
	}
	if md.BackchannelLogoutSessionRequired && md.BackchannelLogoutURI == "" {
		return oauth.InvalidClientMetadata("backchannel_logout_session_required needs backchannel_logout_uri")
	}
	return nil
}

// checkAuthMethod applies RFC 7591 §2: token_endpoint_auth_method defaults
// to client_secret_basic; jwks and jwks_uri are mutually exclusive; keys
// are required for private_key_jwt.
func (s *Service) checkAuthMethod(md *store.ClientMetadata) *oauth.Error {
	if md.TokenEndpointAuthMethod == "" {
		md.TokenEndpointAuthMethod = oauth.AuthMethodClientSecretBasic
	}
	if !slices.Contains(s.Config.authMethods(), md.TokenEndpointAuthMethod) {
		return oauth.InvalidClientMetadata("unsupported token_endpoint_auth_method: " + safe(md.TokenEndpointAuthMethod))
	}
	if bytes.Equal(bytes.TrimSpace(md.JWKS), []byte("null")) {
		md.JWKS = nil
	}
	if len(md.JWKS) > 0 && md.JWKSURI != "" {
		return oauth.InvalidClientMetadata("jwks and jwks_uri must not both be present")
	}
	if md.TokenEndpointAuthMethod == oauth.AuthMethodPrivateKeyJWT && len(md.JWKS) == 0 && md.JWKSURI == "" {
		return oauth.InvalidClientMetadata("private_key_jwt requires jwks or jwks_uri")
	}
	if len(md.JWKS) > 0 {
		validate := s.ValidateJWKS
		if validate == nil {
			validate = defaultValidateJWKS
		}
		if err := validate(md.JWKS); err != nil {
			return oauth.InvalidClientMetadata("jwks is not a valid public JWK set").WithCause(err)
		}
	}
	if md.TokenEndpointAuthMethod == oauth.AuthMethodNone && slices.Contains(md.GrantTypes, oauth.GrantTypeClientCredentials) {
		return oauth.InvalidClientMetadata("client_credentials requires an authenticated client")
	}
	return nil
}

// defaultValidateJWKS accepts what the server can verify with: a
// non-empty set of usable public keys (internal/jose decides which).
func defaultValidateJWKS(raw []byte) error {
	_, err := jose.ParseJWKS(raw)
	return err
}

// checkAlgorithms covers OIDC Dynamic Registration §2's *_alg members.
// Unsigned ID tokens are refused.
func (s *Service) checkAlgorithms(md *store.ClientMetadata) *oauth.Error {
	idAlgs := s.Config.idTokenAlgs()
	for _, f := range []struct{ name, value string }{
		{"id_token_signed_response_alg", md.IDTokenSignedResponseAlg},
		{"userinfo_signed_response_alg", md.UserInfoSignedResponseAlg},
	} {
		if f.value != "" && (f.value == oauth.AlgNone || !slices.Contains(idAlgs, f.value)) {
			return oauth.InvalidClientMetadata("unsupported " + f.name + ": " + safe(f.value))
		}
	}
	// Request objects are verified with the client's public keys only
	// (docs/api.md §21): neither unsigned nor HMAC-signed ones are accepted.
	if a := md.RequestObjectSigningAlg; a != "" && !slices.Contains(asymmetricAlgs, a) {
		return oauth.InvalidClientMetadata("unsupported request_object_signing_alg: " + safe(a))
	}
	if a := md.RequestObjectEncryptionAlg; a != "" && !slices.Contains(jose.RequestObjectEncAlgs, a) {
		return oauth.InvalidClientMetadata("unsupported request_object_encryption_alg: " + safe(a))
	}
	if e := md.RequestObjectEncryptionEnc; e != "" && (md.RequestObjectEncryptionAlg == "" || !slices.Contains(jose.RequestObjectEncs, e)) {
		return oauth.InvalidClientMetadata("unsupported request_object_encryption_enc: " + safe(e) + " (A256GCM, with request_object_encryption_alg)")
	}
	// JARM §3: responses are signed with one of our keys, never unsigned.
	if a := md.AuthorizationSignedResponseAlg; a != "" && (a == oauth.AlgNone || !slices.Contains(idAlgs, a)) {
		return oauth.InvalidClientMetadata("unsupported authorization_signed_response_alg: " + safe(a))
	}
	if md.AuthorizationEncryptedResponseAlg != "" || md.AuthorizationEncryptedResponseEnc != "" {
		return oauth.InvalidClientMetadata("authorization_encrypted_response_alg and authorization_encrypted_response_enc are not supported: JWT authorisation responses are signed, not encrypted")
	}
	if a := md.TokenEndpointAuthSigningAlg; a != "" {
		var allowed []string
		switch md.TokenEndpointAuthMethod {
		case oauth.AuthMethodPrivateKeyJWT:
			allowed = asymmetricAlgs
		case oauth.AuthMethodClientSecretJWT:
			allowed = symmetricAlgs
		default:
			return oauth.InvalidClientMetadata("token_endpoint_auth_signing_alg requires a JWT token_endpoint_auth_method")
		}
		if !slices.Contains(allowed, a) {
			return oauth.InvalidClientMetadata("unsupported token_endpoint_auth_signing_alg: " + safe(a))
		}
	}
	return nil
}

// checkSubjectType admits public and pairwise subjects (OIDC Core §8);
// the sector of a pairwise client is verified by checkSector, which needs
// the network.
func (s *Service) checkSubjectType(md *store.ClientMetadata) *oauth.Error {
	switch md.SubjectType {
	case "", "public", SubjectTypePairwise:
		return nil
	}
	return oauth.InvalidClientMetadata("unsupported subject_type: " + safe(md.SubjectType))
}

// RFC 7591 §2: scope is a space-separated list of RFC 6749 §3.3 tokens.
func (s *Service) checkScope(md *store.ClientMetadata) *oauth.Error {
	if md.Scope == "" {
		return nil
	}
	for _, tok := range strings.Split(md.Scope, " ") {
		if tok == "" {
			continue
		}
		if !oauth.ValidScopeToken(tok) {
			return oauth.InvalidClientMetadata("scope contains an invalid token")
		}
		if sup := s.Config.SupportedScopes; len(sup) > 0 && !slices.Contains(sup, tok) {
			return oauth.InvalidClientMetadata("unsupported scope: " + safe(tok))
		}
	}
	md.Scope = oauth.ParseScope(md.Scope).String()
	return nil
}

func checkMisc(md *store.ClientMetadata) *oauth.Error {
	if md.DefaultMaxAge != nil && *md.DefaultMaxAge < 0 {
		return oauth.InvalidClientMetadata("default_max_age must not be negative")
	}
	switch md.CodeChallengeMethod {
	case "", oauth.PKCEMethodS256, oauth.PKCEMethodPlain:
	default:
		return oauth.InvalidClientMetadata("code_challenge_method must be S256 or plain")
	}
	for i, c := range md.Contacts {
		if strings.TrimSpace(c) == "" {
			return oauth.InvalidClientMetadata(fmt.Sprintf("contacts[%d] must not be empty", i))
		}
	}
	return nil
}

// errAllowedResourcesNotAllowed refuses allowed_resources from anyone but
// the operator: it decides which resource servers accept the client's
// tokens (RFC 8707).
func errAllowedResourcesNotAllowed() *oauth.Error {
	return oauth.InvalidClientMetadata("allowed_resources may only be set with the registration API token")
}

// subset reports whether every element of a is in b.
func subset(a, b []string) bool {
	for _, v := range a {
		if !slices.Contains(b, v) {
			return false
		}
	}
	return true
}

// checkProfile covers the metadata of RFC 9396 §10
// (authorization_details_types, among the server's types), RFC 8707
// (allowed_resources, absolute URIs without fragment) and the security
// profile: "profile" is empty or fapi2, and under FAPI 2.0 (the client's
// or the server's) authzpolicy.Policy.CheckMetadata applies.
func (s *Service) checkProfile(md *store.ClientMetadata) *oauth.Error {
	if !authzpolicy.ValidProfile(md.Profile) {
		return oauth.InvalidClientMetadata("unsupported profile: " + safe(md.Profile))
	}
	for _, t := range md.AuthorizationDetailsTypes {
		if !slices.Contains(s.Config.AuthorizationDetailsTypes, t) {
			return oauth.InvalidClientMetadata("unsupported authorization_details_types value: " + safe(t))
		}
	}
	for _, r := range md.AllowedResources {
		if !oauth.ValidResource(r) {
			return oauth.InvalidClientMetadata("allowed_resources must be absolute URIs without a fragment")
		}
	}
	return authzpolicy.For(s.Config.Profile, &store.Client{Metadata: *md}).CheckMetadata(md, s.Config.idTokenAlgs())
}

// safe returns v for an error description when it fits the RFC 6749
// §4.1.2.1 character set and is short, and a placeholder otherwise.
func safe(v string) string {
	if len(v) > 64 || !oauth.ValidErrorCode(v) {
		return "(value not shown)"
	}
	return v
}
