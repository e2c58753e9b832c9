package clientreg

import (
	"encoding/json"

	"github.com/keyward/keyward/store"
)

// Registration is the client information response of RFC 7591 §3.2.1 and
// RFC 7592 §3: the registered metadata plus the server-issued members.
//
// ClientSecret and RegistrationAccessToken are stored only as digests, so
// they are present only in the response that issued them: at registration,
// on secret rotation (refresh_client_secret) and, for the registration
// access token, on every RFC 7592 update (which rotates it). A read returns
// neither; the client keeps using the values it holds. This deviates from
// RFC 7592 §3, which calls registration_access_token REQUIRED in every
// response, in favour of never keeping recoverable credentials.
type Registration struct {
	ClientID string
	// ClientSecret is the plain secret, set only when it was just issued.
	ClientSecret string
	// ClientIDIssuedAt is in seconds since the epoch (RFC 7591 §3.2.1).
	ClientIDIssuedAt int64
	// ClientSecretExpiresAt is 0 for secrets that never expire; it is
	// meaningful only when HasSecret is true.
	ClientSecretExpiresAt int64
	// HasSecret reports whether the client holds a secret, so that
	// client_secret_expires_at is included (RFC 7591 §3.2.1 requires it
	// whenever a secret was issued) even when the secret is not echoed.
	HasSecret bool
	// RegistrationAccessToken is set only when it was just issued.
	RegistrationAccessToken string
	RegistrationClientURI   string
	Metadata                store.ClientMetadata
}

// wireRegistration flattens the metadata and the server-issued members into
// one JSON object.
type wireRegistration struct {
	ClientID                string `json:"client_id"`
	ClientSecret            string `json:"client_secret,omitempty"`
	ClientIDIssuedAt        int64  `json:"client_id_issued_at,omitempty"`
	ClientSecretExpiresAt   *int64 `json:"client_secret_expires_at,omitempty"`
	RegistrationAccessToken string `json:"registration_access_token,omitempty"`
	RegistrationClientURI   string `json:"registration_client_uri,omitempty"`
	store.ClientMetadata
}

// MarshalJSON encodes r as the RFC 7591 §3.2.1 response body.
func (r *Registration) MarshalJSON() ([]byte, error) {
	w := wireRegistration{
		ClientID:                r.ClientID,
		ClientSecret:            r.ClientSecret,
		ClientIDIssuedAt:        r.ClientIDIssuedAt,
		RegistrationAccessToken: r.RegistrationAccessToken,
		RegistrationClientURI:   r.RegistrationClientURI,
		ClientMetadata:          r.Metadata,
	}
	if r.HasSecret || r.ClientSecret != "" {
		exp := r.ClientSecretExpiresAt
		w.ClientSecretExpiresAt = &exp
	}
	return json.Marshal(w)
}
