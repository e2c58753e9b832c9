package store

import (
	"context"
	"encoding/json"
	"time"
)

// Client is a registered OAuth client (RFC 7591). Secrets are never stored in
// the clear: SecretHash holds the SHA-256 of a server-generated secret for the
// methods that only compare it; SecretSealed holds it encrypted under the
// master key when the plain value is needed (client_secret_jwt).
type Client struct {
	ID                    string
	SecretHash            []byte
	SecretSealed          []byte
	SecretExpiresAt       time.Time // zero: never
	RegistrationTokenHash []byte
	Metadata              ClientMetadata
	CreatedAt             time.Time
	UpdatedAt             time.Time
}

// ClientMetadata is the registered metadata of RFC 7591 §2, OIDC Dynamic
// Registration §2 and the extensions Keyward supports, with their wire names.
type ClientMetadata struct {
	RedirectURIs                       []string        `json:"redirect_uris,omitempty"`
	ResponseTypes                      []string        `json:"response_types,omitempty"`
	GrantTypes                         []string        `json:"grant_types,omitempty"`
	ApplicationType                    string          `json:"application_type,omitempty"`
	Contacts                           []string        `json:"contacts,omitempty"`
	ClientName                         string          `json:"client_name,omitempty"`
	LogoURI                            string          `json:"logo_uri,omitempty"`
	ClientURI                          string          `json:"client_uri,omitempty"`
	PolicyURI                          string          `json:"policy_uri,omitempty"`
	TOSURI                             string          `json:"tos_uri,omitempty"`
	JWKSURI                            string          `json:"jwks_uri,omitempty"`
	JWKS                               json.RawMessage `json:"jwks,omitempty"`
	SectorIdentifierURI                string          `json:"sector_identifier_uri,omitempty"`
	SubjectType                        string          `json:"subject_type,omitempty"`
	IDTokenSignedResponseAlg           string          `json:"id_token_signed_response_alg,omitempty"`
	UserInfoSignedResponseAlg          string          `json:"userinfo_signed_response_alg,omitempty"`
	RequestObjectSigningAlg            string          `json:"request_object_signing_alg,omitempty"`
	TokenEndpointAuthMethod            string          `json:"token_endpoint_auth_method,omitempty"`
	TokenEndpointAuthSigningAlg        string          `json:"token_endpoint_auth_signing_alg,omitempty"`
	DefaultMaxAge                      *int64          `json:"default_max_age,omitempty"`
	RequireAuthTime                    bool            `json:"require_auth_time,omitempty"`
	DefaultACRValues                   []string        `json:"default_acr_values,omitempty"`
	InitiateLoginURI                   string          `json:"initiate_login_uri,omitempty"`
	RequestURIs                        []string        `json:"request_uris,omitempty"`
	Scope                              string          `json:"scope,omitempty"`
	SoftwareID                         string          `json:"software_id,omitempty"`
	SoftwareVersion                    string          `json:"software_version,omitempty"`
	PostLogoutRedirectURIs             []string        `json:"post_logout_redirect_uris,omitempty"`
	FrontchannelLogoutURI              string          `json:"frontchannel_logout_uri,omitempty"`
	FrontchannelLogoutSessionRequired  bool            `json:"frontchannel_logout_session_required,omitempty"`
	BackchannelLogoutURI               string          `json:"backchannel_logout_uri,omitempty"`
	BackchannelLogoutSessionRequired   bool            `json:"backchannel_logout_session_required,omitempty"`
	RequirePushedAuthorizationRequests bool            `json:"require_pushed_authorization_requests,omitempty"`
	// RequireSignedRequestObject refuses the client's authorisation
	// requests unless their parameters come in a signed request object
	// (RFC 9101 §10.5).
	RequireSignedRequestObject bool `json:"require_signed_request_object,omitempty"`
	// AuthorizationSignedResponseAlg signs the client's JWT-secured
	// authorisation responses (JARM §3); RS256 when empty.
	AuthorizationSignedResponseAlg string `json:"authorization_signed_response_alg,omitempty"`
	// AuthorizationEncryptedResponseAlg and AuthorizationEncryptedResponseEnc
	// are read only so that registration can refuse them by name: JARM
	// encryption is not implemented.
	AuthorizationEncryptedResponseAlg string `json:"authorization_encrypted_response_alg,omitempty"`
	AuthorizationEncryptedResponseEnc string `json:"authorization_encrypted_response_enc,omitempty"`
	// RequestObjectEncryptionAlg and RequestObjectEncryptionEnc are how the
	// client encrypts its request objects (OIDC Dynamic Registration §2);
	// registration admits only what we can decrypt.
	RequestObjectEncryptionAlg string `json:"request_object_encryption_alg,omitempty"`
	RequestObjectEncryptionEnc string `json:"request_object_encryption_enc,omitempty"`
	// CodeChallengeMethod forces PKCE with this method for the client
	// (a Connect2id extension).
	CodeChallengeMethod string `json:"code_challenge_method,omitempty"`
	// IntrospectionAllowed lets the client (a resource server) introspect
	// tokens issued to other clients (a Connect2id extension).
	IntrospectionAllowed bool `json:"introspection_allowed,omitempty"`
	// Data is free-form JSON the operator attaches to the client.
	Data map[string]any `json:"data,omitempty"`
	// AuthorizationDetailsTypes are the authorization_details types the
	// client may request (RFC 9396 §10); empty: the server's
	// authz.authorization_details_types.
	AuthorizationDetailsTypes []string `json:"authorization_details_types,omitempty"`
	// AllowedResources are the resource indicators the client may request
	// (RFC 8707), on top of the server's authz.resources.
	AllowedResources []string `json:"allowed_resources,omitempty"`
	// Profile "fapi2" applies the FAPI 2.0 Security Profile to this client
	// (internal/core/authzpolicy).
	Profile string `json:"profile,omitempty"`

	// DPoPBoundAccessTokens makes every token request of the client carry
	// a DPoP proof (RFC 9449 §5.2).
	DPoPBoundAccessTokens bool `json:"dpop_bound_access_tokens,omitempty"`
	// TLSClientCertificateBoundAccessTokens binds the client's access
	// tokens to its TLS client certificate (RFC 8705 §3.4).
	TLSClientCertificateBoundAccessTokens bool `json:"tls_client_certificate_bound_access_tokens,omitempty"`
	// The certificate a tls_client_auth client authenticates with names
	// exactly one of these (RFC 8705 §2.1.2).
	TLSClientAuthSubjectDN string `json:"tls_client_auth_subject_dn,omitempty"`
	TLSClientAuthSANDNS    string `json:"tls_client_auth_san_dns,omitempty"`
	TLSClientAuthSANURI    string `json:"tls_client_auth_san_uri,omitempty"`
	TLSClientAuthSANIP     string `json:"tls_client_auth_san_ip,omitempty"`
	TLSClientAuthSANEmail  string `json:"tls_client_auth_san_email,omitempty"`
}

// ClientStore keeps client registrations. Durable.
type ClientStore interface {
	// Create stores a new client; ErrExists if the ID is taken.
	Create(ctx context.Context, c *Client) error
	// Get returns the client or ErrNotFound.
	Get(ctx context.Context, id string) (*Client, error)
	// Update applies fn atomically and returns the stored result.
	Update(ctx context.Context, id string, fn func(*Client) error) (*Client, error)
	// Delete removes the client together with everything issued to it:
	// its grants (with their tokens) and its long-lived authorisations, in
	// one atomic step, so that a client registered later under the same ID
	// inherits nothing. ErrNotFound if unknown (and nothing is removed).
	Delete(ctx context.Context, id string) error
	// List returns up to limit clients with IDs greater than after, by ID.
	List(ctx context.Context, after string, limit int) ([]*Client, error)
}
