package server

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/internal/core/token"
	"github.com/keyward/keyward/internal/jose"
	"github.com/keyward/keyward/internal/jwksfetch"
	"github.com/keyward/keyward/internal/saml2bearer"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/plugin/ldap"
	"github.com/keyward/keyward/plugin/simple"
	"github.com/keyward/keyward/plugin/users"
	"github.com/keyward/keyward/plugin/webhook"
	"github.com/keyward/keyward/store"
)

// grantHandlers are the configured grant handler plug-ins; nil: grant off.
type grantHandlers struct {
	clientCredentials plugin.ClientCredentialsHandler
	password          plugin.PasswordHandler
	jwtBearer         plugin.JWTBearerHandler
	saml2Bearer       plugin.SAML2BearerHandler
}

// buildGrantHandlers builds the handlers grants.*.handler names and adds
// them to the plug-in lifecycle. A downstream build's factory wins over a
// built-in type of the same name, as for claims sources.
func (s *Server) buildGrantHandlers(opts Options) (*grantHandlers, error) {
	g := s.cfg.Grants
	out := &grantHandlers{}
	for _, k := range []struct {
		path    string
		cfg     config.GrantHandler
		kind    string
		builtIn string
		built   func() (any, error)
		set     func(any) bool
	}{
		{"grants.client_credentials", g.ClientCredentials, "client credentials", "simple", func() (any, error) {
			return simple.ClientCredentials{Tokens: simpleTokens(g.ClientCredentials)}, nil
		}, func(p any) bool { h, ok := p.(plugin.ClientCredentialsHandler); out.clientCredentials = h; return ok }},
		{"grants.password", g.Password, "password", "users", func() (any, error) {
			return users.NewPasswordHandler(s.users, users.PasswordOptions{Tokens: simpleTokens(g.Password), Now: s.now})
		}, func(p any) bool { h, ok := p.(plugin.PasswordHandler); out.password = h; return ok }},
		{"grants.jwt_bearer", g.JWTBearer, "JWT bearer", "simple", func() (any, error) {
			return simple.JWTBearer{Tokens: simpleTokens(g.JWTBearer)}, nil
		}, func(p any) bool { h, ok := p.(plugin.JWTBearerHandler); out.jwtBearer = h; return ok }},
		{"grants.saml2_bearer", g.SAML2Bearer, "SAML 2.0 bearer", "simple", func() (any, error) {
			return simple.SAML2Bearer{Tokens: simpleTokens(g.SAML2Bearer)}, nil
		}, func(p any) bool { h, ok := p.(plugin.SAML2BearerHandler); out.saml2Bearer = h; return ok }},
	} {
		typ := k.cfg.Handler
		if typ == "" {
			continue
		}
		var (
			p   any
			err error
		)
		switch {
		case opts.Plugins[typ] != nil:
			p, err = s.takePrebuilt(k.path + ".handler")
		case k.cfg.Config != nil:
			err = fmt.Errorf("config applies to plug-in types of a downstream build only, not to %q", typ)
		case typ == k.builtIn:
			p, err = k.built()
		case typ == "ldap" && k.path == "grants.password":
			// The users handler (throttle, scope, tokens) over the LDAP
			// directory's password check.
			var dir *ldap.Source
			if dir, err = s.ldapDirectory(); err == nil {
				p, err = users.NewPasswordHandler(dir, users.PasswordOptions{Tokens: simpleTokens(g.Password), Now: s.now})
			}
		case typ == "webhook":
			p, err = webhook.NewGrantHandler(webhook.GrantHandlerConfig{
				URL: k.cfg.URL, BearerToken: string(k.cfg.Token), HMACSecret: []byte(k.cfg.HMACSecret), Timeout: k.cfg.Timeout,
				HTTPClient: s.tracer.HTTPClient(),
			})
		default:
			err = fmt.Errorf("unknown handler %q (want %s, webhook or a plug-in type of this build)", typ, builtIns(k.path, k.builtIn))
		}
		if err == nil && !k.set(p) {
			err = fmt.Errorf("plug-in %T is not a %s grant handler", p, k.kind)
		}
		if err != nil {
			return nil, fmt.Errorf("%s.handler: %w", k.path, err)
		}
		s.plugins.add(k.path, typ, p)
	}
	return out, nil
}

func simpleTokens(g config.GrantHandler) simple.Tokens {
	return simple.Tokens{Audience: g.Audience, AccessTokenLifetime: g.AccessTokenLifetime, AccessTokenEncoding: g.AccessTokenEncoding}
}

// grants turns the handlers into the token endpoint's grants.
func (s *Server) grants(h *grantHandlers, svc *token.Service, clientKeys *jose.ClientKeys, sealer *secret.Sealer, issuer string) ([]token.Grant, error) {
	var out []token.Grant
	if h.clientCredentials != nil {
		out = append(out, token.ClientCredentialsGrant(svc, h.clientCredentials))
	}
	if h.password != nil {
		out = append(out, token.PasswordGrant(svc, h.password))
	}
	audiences := []string{issuer + "/token", issuer}
	if h.jwtBearer != nil {
		issuers, err := trustedJWTIssuers(s.cfg.Grants.JWTBearer.TrustedIssuers)
		if err != nil {
			return nil, err
		}
		// The trusted issuers' jwks_uri are the operator's: fetched
		// without the guard for client-registered URLs.
		issuerKeys := jose.NewClientKeys(jwksfetch.New(&http.Client{Timeout: jwksFetchTimeout}), s.now)
		v := &jose.JWTBearerVerifier{
			Keys:       clientKeys,
			IssuerKeys: issuerKeys,
			Issuers:    issuers,
			Audiences:  audiences,
			MaxAhead:   jose.DefaultBearerMaxAhead,
			ClientSecret: func(_ context.Context, c *store.Client) ([]byte, error) {
				// Only a client_secret_jwt client keeps its secret
				// recoverable (sealed); the others' is hashed.
				if len(c.SecretSealed) == 0 || (!c.SecretExpiresAt.IsZero() && !s.now().Before(c.SecretExpiresAt)) {
					return nil, nil
				}
				return sealer.Open(c.SecretSealed, []byte(c.ID))
			},
		}
		out = append(out, token.AssertionGrant(svc, oauth.GrantTypeJWTBearer, v, h.jwtBearer.HandleJWTBearer, jose.DefaultBearerMaxAhead))
	}
	if h.saml2Bearer != nil {
		var issuers []saml2bearer.TrustedIssuer
		for i, ti := range s.cfg.Grants.SAML2Bearer.TrustedIssuers {
			certs, err := config.ReadCertificates(ti.CertificateFile)
			if err != nil {
				return nil, fmt.Errorf("grants.saml2_bearer.trusted_issuers[%d].certificate_file: %w", i, err)
			}
			issuers = append(issuers, saml2bearer.TrustedIssuer{Issuer: ti.Issuer, Certificates: certs})
		}
		// The skew equals the core's assertion leeway: the core accepts an
		// assertion until ExpiresAt plus that leeway and remembers its ID
		// in the replay cache exactly that long.
		v, err := saml2bearer.New(saml2bearer.Options{
			Issuers:    issuers,
			Audiences:  audiences,
			Recipients: []string{issuer + "/token"},
			MaxSkew:    jose.AssertionLeeway,
			MaxAhead:   jose.DefaultBearerMaxAhead,
		})
		if err != nil {
			return nil, fmt.Errorf("grants.saml2_bearer: %w", err)
		}
		out = append(out, token.AssertionGrant(svc, oauth.GrantTypeSAML2Bearer, v, h.saml2Bearer.HandleSAML2Bearer, jose.DefaultBearerMaxAhead))
	}
	return out, nil
}

// trustedJWTIssuers reads the keys of the configured third-party JWT
// issuers: a jwks_file now, a jwks_uri on first use.
func trustedJWTIssuers(cfg []config.TrustedIssuer) ([]jose.TrustedIssuer, error) {
	var out []jose.TrustedIssuer
	for i, ti := range cfg {
		t := jose.TrustedIssuer{Issuer: ti.Issuer, JWKSURI: ti.JWKSURI}
		if ti.JWKSFile != "" {
			raw, err := os.ReadFile(ti.JWKSFile)
			if err == nil {
				t.Keys, err = jose.ParseIssuerJWKS(raw)
			}
			if err != nil {
				return nil, fmt.Errorf("grants.jwt_bearer.trusted_issuers[%d].jwks_file: %w", i, err)
			}
		}
		out = append(out, t)
	}
	return out, nil
}
