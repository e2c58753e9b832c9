// Package oauth is the protocol vocabulary shared by every other package:
// OAuth 2.0 and OpenID Connect error codes and the *Error type, grant,
// response, token and authentication-method names, scope sets and the
// OpenID claims request.
//
// It imports the standard library only, so that stores, plug-ins and the
// protocol core can all speak it without depending on each other.
package oauth
