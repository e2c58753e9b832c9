package oauth

// JWT Secured Authorization Response Mode (JARM) §2.3: the response
// parameters travel in one signed JWT, the "response" parameter.
const (
	ResponseModeQueryJWT    = "query.jwt"
	ResponseModeFragmentJWT = "fragment.jwt"
	ResponseModeFormPostJWT = "form_post.jwt"
	// ResponseModeJWT is query.jwt or fragment.jwt, whichever is the
	// response type's default (JARM §2.3.4).
	ResponseModeJWT = "jwt"
)

// JARMResponseModes lists the JWT response modes, for discovery.
func JARMResponseModes() []string {
	return []string{ResponseModeQueryJWT, ResponseModeFragmentJWT, ResponseModeFormPostJWT, ResponseModeJWT}
}
