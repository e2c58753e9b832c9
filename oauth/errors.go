package oauth

import "errors"

// Error codes of RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1, OIDC Core §3.1.2.6,
// RFC 7591 §3.2.2, RFC 9126 and RFC 9101.
const (
	ErrCodeInvalidRequest           = "invalid_request"
	ErrCodeInvalidClient            = "invalid_client"
	ErrCodeInvalidGrant             = "invalid_grant"
	ErrCodeUnauthorizedClient       = "unauthorized_client"
	ErrCodeUnsupportedGrantType     = "unsupported_grant_type"
	ErrCodeInvalidScope             = "invalid_scope"
	ErrCodeAccessDenied             = "access_denied"
	ErrCodeUnsupportedResponseType  = "unsupported_response_type"
	ErrCodeServerError              = "server_error"
	ErrCodeTemporarilyUnavailable   = "temporarily_unavailable"
	ErrCodeInvalidToken             = "invalid_token"
	ErrCodeInsufficientScope        = "insufficient_scope"
	ErrCodeInteractionRequired      = "interaction_required"
	ErrCodeLoginRequired            = "login_required"
	ErrCodeAccountSelectionRequired = "account_selection_required"
	ErrCodeConsentRequired          = "consent_required"
	ErrCodeInvalidRequestURI        = "invalid_request_uri"
	ErrCodeInvalidRequestObject     = "invalid_request_object"
	ErrCodeRequestNotSupported      = "request_not_supported"
	ErrCodeRequestURINotSupported   = "request_uri_not_supported"
	ErrCodeRegistrationNotSupported = "registration_not_supported"
	ErrCodeInvalidRedirectURI       = "invalid_redirect_uri"
	ErrCodeInvalidClientMetadata    = "invalid_client_metadata"
	ErrCodeInvalidTarget            = "invalid_target"
	// RFC 9449 §5 (token endpoint), §7.1 (resources), §8 (nonce).
	ErrCodeInvalidDPoPProof = "invalid_dpop_proof"
	ErrCodeUseDPoPNonce     = "use_dpop_nonce"
	// ErrCodeInvalidAuthorizationDetails is RFC 9396 §5.
	ErrCodeInvalidAuthorizationDetails = "invalid_authorization_details"
)

// Error is an OAuth 2.0 error response. Description is safe to show to the
// client; the cause is for logs only and never leaves the server.
//
// Errors compare equal under errors.Is when their codes match, so callers can
// write errors.Is(err, oauth.InvalidGrant("")).
type Error struct {
	Code        string
	Description string
	URI         string
	// Status is the HTTP status for direct (non-redirect) responses. The
	// package keeps to plain numbers so that the protocol core, which must
	// not import net/http, can use it.
	Status int

	// Scheme is the HTTP authentication scheme a 401 or 403 challenges
	// with: "DPoP" for DPoP-bound tokens (RFC 9449 §7.1); empty means
	// Bearer (RFC 6750 §3).
	Scheme string
	// DPoPNonce, when set, is sent in the DPoP-Nonce header (RFC 9449 §8,
	// §9) so that the client can retry with it.
	DPoPNonce string

	// noRedirect marks errors that must never be sent to the redirect URI
	// because the client or the redirect URI itself could not be trusted.
	noRedirect bool
	cause      error
}

func (e *Error) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

// Unwrap returns the log-only cause.
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// WithCause returns a copy of e carrying cause for the logs.
func (e *Error) WithCause(cause error) *Error {
	c := *e
	c.cause = cause
	return &c
}

// WithStatus returns a copy of e with another HTTP status.
func (e *Error) WithStatus(status int) *Error {
	c := *e
	c.Status = status
	return &c
}

// NoRedirect returns a copy of e that must be shown to the user instead of
// being sent to the client's redirect URI (OIDC Core §3.1.2.6: an invalid
// client_id or redirect_uri).
func (e *Error) NoRedirect() *Error {
	c := *e
	c.noRedirect = true
	return &c
}

// Redirectable reports whether e may be delivered to the client's redirect URI.
func (e *Error) Redirectable() bool { return !e.noRedirect }

// AsError returns the *Error in err's chain, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

func newError(code string, status int, description string) *Error {
	return &Error{Code: code, Description: description, Status: status}
}

// Constructors return fresh values, so callers may modify or wrap them freely.

func InvalidRequest(desc string) *Error {
	return newError(ErrCodeInvalidRequest, 400, desc)
}

// InvalidClient is answered with 401 (RFC 6749 §5.2).
func InvalidClient(desc string) *Error {
	return newError(ErrCodeInvalidClient, 401, desc)
}

func InvalidGrant(desc string) *Error {
	return newError(ErrCodeInvalidGrant, 400, desc)
}

func UnauthorizedClient(desc string) *Error {
	return newError(ErrCodeUnauthorizedClient, 400, desc)
}

func UnsupportedGrantType(desc string) *Error {
	return newError(ErrCodeUnsupportedGrantType, 400, desc)
}

func InvalidScope(desc string) *Error {
	return newError(ErrCodeInvalidScope, 400, desc)
}

func AccessDenied(desc string) *Error {
	return newError(ErrCodeAccessDenied, 403, desc)
}

func UnsupportedResponseType(desc string) *Error {
	return newError(ErrCodeUnsupportedResponseType, 400, desc)
}

// ServerError is the only error whose description must never carry details.
func ServerError(desc string) *Error {
	return newError(ErrCodeServerError, 500, desc)
}

func TemporarilyUnavailable(desc string) *Error {
	return newError(ErrCodeTemporarilyUnavailable, 503, desc)
}

// InvalidToken is a bearer-token error (RFC 6750 §3.1), answered with 401.
func InvalidToken(desc string) *Error {
	return newError(ErrCodeInvalidToken, 401, desc)
}

func InsufficientScope(desc string) *Error {
	return newError(ErrCodeInsufficientScope, 403, desc)
}

func InteractionRequired(desc string) *Error {
	return newError(ErrCodeInteractionRequired, 400, desc)
}

func LoginRequired(desc string) *Error {
	return newError(ErrCodeLoginRequired, 400, desc)
}

func AccountSelectionRequired(desc string) *Error {
	return newError(ErrCodeAccountSelectionRequired, 400, desc)
}

func ConsentRequired(desc string) *Error {
	return newError(ErrCodeConsentRequired, 400, desc)
}

func InvalidRequestURI(desc string) *Error {
	return newError(ErrCodeInvalidRequestURI, 400, desc)
}

func InvalidRequestObject(desc string) *Error {
	return newError(ErrCodeInvalidRequestObject, 400, desc)
}

func RequestNotSupported(desc string) *Error {
	return newError(ErrCodeRequestNotSupported, 400, desc)
}

func RequestURINotSupported(desc string) *Error {
	return newError(ErrCodeRequestURINotSupported, 400, desc)
}

func InvalidRedirectURI(desc string) *Error {
	return newError(ErrCodeInvalidRedirectURI, 400, desc)
}

func InvalidClientMetadata(desc string) *Error {
	return newError(ErrCodeInvalidClientMetadata, 400, desc)
}

// InvalidTarget refuses a resource indicator (RFC 8707 §2).
func InvalidTarget(desc string) *Error {
	return newError(ErrCodeInvalidTarget, 400, desc)
}

// InvalidAuthorizationDetails refuses authorization_details (RFC 9396 §5).
func InvalidAuthorizationDetails(desc string) *Error {
	return newError(ErrCodeInvalidAuthorizationDetails, 400, desc)
}

// Custom builds an error with an arbitrary code, for instance one chosen by
// the login UI when it cancels an authorisation session.
func Custom(code string, status int, desc string) *Error {
	return newError(code, status, desc)
}

// ValidErrorCode reports whether s may be used as an error code or
// description: RFC 6749 §4.1.2.1 allows %x20-21 / %x23-5B / %x5D-7E.
func ValidErrorCode(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// InvalidDPoPProof is RFC 9449 §5 invalid_dpop_proof: a missing, malformed
// or mismatching DPoP proof (400 at the token endpoint; a resource answers
// it with 401 through WithStatus).
func InvalidDPoPProof(desc string) *Error {
	return newError(ErrCodeInvalidDPoPProof, 400, desc)
}

// UseDPoPNonce is RFC 9449 §8 use_dpop_nonce: the proof must carry the
// server nonce given in DPoPNonce.
func UseDPoPNonce(desc, nonce string) *Error {
	e := newError(ErrCodeUseDPoPNonce, 400, desc)
	e.DPoPNonce = nonce
	return e
}

// WithScheme returns a copy of e that challenges with scheme.
func (e *Error) WithScheme(scheme string) *Error {
	c := *e
	c.Scheme = scheme
	return &c
}
