// Package plugin defines the service provider interfaces through which
// business logic plugs into Keyward: claims sources and the grant handlers
// of the client credentials, password, JWT bearer and SAML 2.0 bearer
// grants. Each SPI is a small Go interface with plain request and result
// structs; every SPI also has a web-hook implementation (plugin/webhook) and
// at least one built-in one.
//
// Plug-ins report protocol refusals as *oauth.Error; any other error is an
// internal failure. Optional lifecycle interfaces (Initializer,
// HealthChecker, io.Closer) are called by the server when implemented.
//
// This package imports only the standard library and package oauth.
package plugin
