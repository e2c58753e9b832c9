// Package claims is the OpenID claims core: which claims an authorisation
// request asks for (scope values and the claims parameter), how consented
// claims are expanded and split between the ID token and UserInfo, and the
// fan-out of a claims request to the configured claims sources with a
// deterministic merge (OIDC Core §5.4, §5.5; Connect2id claims source SPI).
//
// It must not import net/http, database/sql, any store backend or any
// plug-in implementation; it sees claims sources only through the
// plugin.ClaimsSource interface.
package claims
