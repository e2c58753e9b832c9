package config

import (
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/core/authzpolicy"
	"github.com/keyward/keyward/oauth"
)

// Secret is a configuration value that must never be logged or printed.
type Secret string

// LogValue keeps secrets out of structured logs.
func (Secret) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// String keeps secrets out of %v output.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "REDACTED"
}

// Config is the complete, read-only configuration of one Keyward node.
// Field tags name the YAML keys; each is also KEYWARD_<KEY> in the
// environment with "." and "-" replaced by "_".
type Config struct {
	Listen      string `koanf:"listen"`
	AdminListen string `koanf:"admin_listen"`
	Issuer      string `koanf:"issuer"`
	DataDir     string `koanf:"data_dir"`
	Store       string `koanf:"store"`
	Redis       string `koanf:"redis"`
	APIToken    Secret `koanf:"api_token"`
	MasterKey   Secret `koanf:"master_key"`
	Users       string `koanf:"users"`
	Dev         bool   `koanf:"dev"`
	Demo        bool   `koanf:"demo"`

	// APITokens holds extra per-API tokens as SHA-256 hex digests, as
	// Connect2id configures them; the API token works for every API.
	APITokens APITokens `koanf:"api_tokens"`

	Authz        Authz        `koanf:"authz"`
	Tokens       Tokens       `koanf:"tokens"`
	Sessions     Sessions     `koanf:"sessions"`
	Logout       Logout       `koanf:"logout"`
	Registration Registration `koanf:"registration"`
	Claims       Claims       `koanf:"claims"`
	Login        Login        `koanf:"login"`
	Grants       Grants       `koanf:"grants"`
	Keys         Keys         `koanf:"keys"`
	Cluster      Cluster      `koanf:"cluster"`
	Log          Log          `koanf:"log"`
	Tracing      Tracing      `koanf:"tracing"`
	Monitor      Monitor      `koanf:"monitor"`
	// Outbound configures the fetches made on a client's behalf
	// (config/outbound.go).
	Outbound Outbound `koanf:"outbound"`

	// TrustedProxies are the CIDRs and addresses of the proxies allowed to
	// set the client address with X-Forwarded-For or Forwarded; the rest
	// of the limits are in config/limits.go (docs/api.md §18).
	TrustedProxies []string `koanf:"trusted_proxies"`
	// TrustedProxyHeader is the one forwarding header the trusted proxies
	// write: X-Forwarded-For or Forwarded.
	TrustedProxyHeader string     `koanf:"trusted_proxy_header"`
	RateLimits         RateLimits `koanf:"rate_limits"`
	HTTP               HTTP       `koanf:"http"`
	Limits             Limits     `koanf:"limits"`
	Admission          Admission  `koanf:"admission"`

	// Sender-constrained tokens (config/sender.go): DPoP, mutual TLS,
	// Keyward's own TLS listener and the proxies trusted to forward client
	// certificates.
	DPoP DPoP `koanf:"dpop"`
	MTLS MTLS `koanf:"mtls"`
	TLS  TLS  `koanf:"tls"`
}

// APITokens are additional bearer tokens per integration API.
type APITokens struct {
	AuthzSessions []string `koanf:"authz_sessions"`
	Registration  []string `koanf:"registration"`
	Monitor       []string `koanf:"monitor"`
	// DirectAuthz guards the direct authorisation API
	// (/direct-authz/rest/v2), which mints tokens for any subject.
	DirectAuthz []string `koanf:"direct_authz"`
	// Introspection lets resource servers call /token/introspect with a
	// bearer token instead of client authentication.
	Introspection []string `koanf:"introspection"`
	// AuthzStore guards the authorisation store API /authz-store/rest/v3.
	AuthzStore []string `koanf:"authz_store"`
	// SessionStore guards the subject session store API
	// /session-store/rest/v2.
	SessionStore []string `koanf:"session_store"`
	// LogoutSessions guards the logout session API /logout-sessions/rest/v1.
	LogoutSessions []string `koanf:"logout_sessions"`
}

// Authz configures authorisation requests and the authorisation session API.
type Authz struct {
	// Endpoint is the login UI URL advertised as authorization_endpoint;
	// empty: the built-in UI at <issuer>/login.
	Endpoint               string        `koanf:"endpoint"`
	SessionLifetime        time.Duration `koanf:"session_lifetime"`
	CodeLifetime           time.Duration `koanf:"code_lifetime"`
	PARLifetime            time.Duration `koanf:"par_lifetime"`
	AllowPlainPKCE         bool          `koanf:"allow_plain_pkce"`
	LimitToRegisteredScope bool          `koanf:"limit_to_registered_scope"`
	AlwaysPromptForConsent bool          `koanf:"always_prompt_for_consent"`
	ACRValues              []string      `koanf:"acr_values"`
	// RequestParamsInAuthPrompt and RequestParamsInConsentPrompt name the
	// request parameters copied into the "request" member of the auth and
	// consent prompts (Connect2id's op.authz.requestParamsInAuthPrompt /
	// requestParamsInConsentPrompt).
	RequestParamsInAuthPrompt    []string `koanf:"request_params_in_auth_prompt"`
	RequestParamsInConsentPrompt []string `koanf:"request_params_in_consent_prompt"`
	// IncludeRawClaimsRequest adds the claims parameter as received to the
	// consent prompt as claims.raw_request.
	IncludeRawClaimsRequest bool `koanf:"include_raw_claims_request"`
	// AllowImplicitAccessTokens offers the response types that return an
	// access token from the authorisation endpoint (token, id_token token,
	// code token, code id_token token) to the clients that register them.
	// Default true for Connect2id compatibility; RFC 9700 §2.1.2 advises
	// against them.
	AllowImplicitAccessTokens bool `koanf:"allow_implicit_access_tokens"`
	// RequireSignedRequestObject refuses authorisation requests whose
	// parameters are not in a signed request object (RFC 9101 §10.5), for
	// every client; the client metadata require_signed_request_object does
	// it for one.
	RequireSignedRequestObject bool `koanf:"require_signed_request_object"`
	// RequestObjectMaxAge bounds how far ahead a request object's exp and
	// how far back its iat may be.
	RequestObjectMaxAge time.Duration `koanf:"request_object_max_age"`
	// AuthorizationDetailsTypes are the authorization_details types
	// (RFC 9396) clients may request; empty refuses the parameter.
	AuthorizationDetailsTypes []string `koanf:"authorization_details_types"`
	// Resources are the resource indicators (RFC 8707) every client may
	// request; a client's allowed_resources add to them.
	Resources []string `koanf:"resources"`
	// Profile "fapi2" applies the FAPI 2.0 Security Profile to every
	// client (internal/core/authzpolicy); empty: clients opt in with their
	// "profile" metadata.
	Profile string `koanf:"profile"`
}

// MaxRequestObjectMaxAge caps authz.request_object_max_age: a request
// object is made for one request, seconds before it is sent.
const MaxRequestObjectMaxAge = time.Hour

// Tokens configures token defaults.
type Tokens struct {
	AccessTokenLifetime  time.Duration `koanf:"access_token_lifetime"`
	AccessTokenEncoding  string        `koanf:"access_token_encoding"`
	AccessTokenAlg       string        `koanf:"access_token_alg"`
	IDTokenLifetime      time.Duration `koanf:"id_token_lifetime"`
	IDTokenAlg           string        `koanf:"id_token_alg"`
	RefreshTokenLifetime time.Duration `koanf:"refresh_token_lifetime"`
	// RotateRefreshTokens applies to confidential clients; public clients
	// always rotate.
	RotateRefreshTokens bool `koanf:"rotate_refresh_tokens"`
	// RefreshTokenReuseGrace is how long a rotated refresh token may be
	// presented again (a client retrying after a lost response) and get a
	// fresh successor; after it, a replay revokes the whole grant. 0 turns
	// the grace off: every replay revokes.
	RefreshTokenReuseGrace time.Duration `koanf:"refresh_token_reuse_grace"`
	// ClientAssertionMaxAge bounds how far ahead a client assertion's exp
	// and how far back its iat may be; its jti is remembered that long.
	ClientAssertionMaxAge time.Duration `koanf:"client_assertion_max_age"`
	// AccessTokenProfile names the claims of JWT access tokens: "rfc9068"
	// (client_id, scope string) or "c2id-1.1" (Connect2id's cid, scp, clm,
	// cls, uip, dat, cld, sub_type).
	AccessTokenProfile string `koanf:"access_token_profile"`
	// IDTokenSessionClaims names the subject session claims (given at
	// authentication) that ID tokens carry; "*" for all. Default none.
	IDTokenSessionClaims []string `koanf:"id_token_session_claims"`
}

// Sessions configures subject (SSO) sessions.
type Sessions struct {
	MaxLife  time.Duration `koanf:"max_life"`
	AuthLife time.Duration `koanf:"auth_life"`
	MaxIdle  time.Duration `koanf:"max_idle"`
	// QuotaPerSubject caps the live sessions of one subject; a login beyond
	// it closes the oldest (with logout notifications).
	QuotaPerSubject int `koanf:"quota_per_subject"`
}

// Logout configures logout: the end-session page, the logout session API
// and the notifications to relying parties.
type Logout struct {
	// Endpoint is the logout page advertised as end_session_endpoint;
	// empty: the built-in page at <issuer>/logout when the built-in login
	// UI is served, else none.
	Endpoint string `koanf:"endpoint"`
	// SessionLifetime bounds the wait for the user's confirmation.
	SessionLifetime time.Duration `koanf:"session_lifetime"`
	// RevokeTokens is what a logout revokes of what the session produced:
	// online (grants without offline_access), all, or none.
	RevokeTokens string `koanf:"revoke_tokens"`
	// Backchannel bounds the delivery of back-channel logout requests.
	Backchannel Backchannel `koanf:"backchannel"`
}

// Backchannel bounds back-channel logout delivery.
type Backchannel struct {
	Timeout     time.Duration `koanf:"timeout"`
	Parallelism int           `koanf:"parallelism"`
	Retries     int           `koanf:"retries"`
	QueueSize   int           `koanf:"queue_size"`
}

// Registration configures the client registration endpoint.
type Registration struct {
	Open bool `koanf:"open"`
}

// Claims configures the claims sources.
type Claims struct {
	Sources []ClaimsSource `koanf:"sources"`
}

// ClaimsSource is one configured claims source.
type ClaimsSource struct {
	// Type is "users" (the users file), "webhook", "ldap", "sql" or
	// "session".
	Type            string        `koanf:"type"`
	URL             string        `koanf:"url"`
	Token           Secret        `koanf:"token"`
	HMACSecret      Secret        `koanf:"hmac_secret"`
	Timeout         time.Duration `koanf:"timeout"`
	SupportedClaims []string      `koanf:"supported_claims"`
	// OnError is what a failure of this source does to the request: omit
	// (the default: its claims are left out, the failure logged and
	// counted) or fail (temporarily_unavailable).
	OnError string `koanf:"on_error"`
	// Claims maps claim → column (sql) or claim → attribute (ldap).
	Claims map[string]string `koanf:"claims"`
	// Driver, DSN (or DSNFile), Query, JSONColumns and MaxOpenConns
	// configure the sql type (plugin/sqlclaims).
	Driver       string   `koanf:"driver"`
	DSN          Secret   `koanf:"dsn"`
	DSNFile      string   `koanf:"dsn_file"`
	Query        string   `koanf:"query"`
	JSONColumns  []string `koanf:"json_columns"`
	MaxOpenConns int      `koanf:"max_open_conns"`
	// Config is the raw configuration of a plug-in type added by a
	// downstream build (server.Options.Plugins).
	Config map[string]any `koanf:"config"`

	// ID names the source, so that login.directory can choose one of
	// several ldap sources.
	ID string `koanf:"id"`

	// The keys of a type ldap source (docs/configuration.md); URL is
	// ldap:// or ldaps://, Timeout bounds each dial and operation.
	StartTLS         bool   `koanf:"start_tls"`
	CAFile           string `koanf:"ca_file"`
	BindDN           string `koanf:"bind_dn"`
	BindPassword     Secret `koanf:"bind_password"`
	BindPasswordFile string `koanf:"bind_password_file"`
	BaseDN           string `koanf:"base_dn"`
	Filter           string `koanf:"filter"`
	SubjectAttribute string `koanf:"subject_attribute"`
	LoginFilter      string `koanf:"login_filter"`
	PoolSize         int    `koanf:"pool_size"`
}

// Login configures the reference login UI.
type Login struct {
	// Directory is where the reference login UI checks passwords: "users"
	// (the users file, the default), "ldap" (the one ldap claims source),
	// or the id of an ldap claims source.
	Directory string `koanf:"directory"`
}

// Grants chooses the handler plug-ins of the grants that involve no
// browser. An empty handler turns the grant off; only client_credentials
// is on by default (handler simple).
type Grants struct {
	ClientCredentials GrantHandler `koanf:"client_credentials"`
	Password          GrantHandler `koanf:"password"`
	JWTBearer         GrantHandler `koanf:"jwt_bearer"`
	SAML2Bearer       GrantHandler `koanf:"saml2_bearer"`
}

// GrantHandler configures one grant's handler.
type GrantHandler struct {
	// Handler is the handler type: simple (client_credentials,
	// jwt_bearer, saml2_bearer), users (password), webhook, or a plug-in
	// type of a downstream build; empty: the grant is off.
	Handler string `koanf:"handler"`
	// Audience, AccessTokenLifetime and AccessTokenEncoding shape the
	// tokens the simple and users handlers grant; zero: the tokens.*
	// defaults.
	Audience            []string      `koanf:"audience"`
	AccessTokenLifetime time.Duration `koanf:"access_token_lifetime"`
	AccessTokenEncoding string        `koanf:"access_token_encoding"`
	// URL, Token, HMACSecret and Timeout configure the webhook handler.
	URL        string        `koanf:"url"`
	Token      Secret        `koanf:"token"`
	HMACSecret Secret        `koanf:"hmac_secret"`
	Timeout    time.Duration `koanf:"timeout"`
	// TrustedIssuers are the third-party issuers of the jwt_bearer and
	// saml2_bearer grants; self-issued assertions need no entry.
	TrustedIssuers []TrustedIssuer `koanf:"trusted_issuers"`
	// Config is the raw configuration of a plug-in type added by a
	// downstream build (server.Options.Plugins).
	Config map[string]any `koanf:"config"`
}

// TrustedIssuer is a third-party assertion issuer: a token service with
// JWKSURI or JWKSFile (jwt_bearer), or a SAML IdP with CertificateFile
// (saml2_bearer).
type TrustedIssuer struct {
	Issuer          string `koanf:"issuer"`
	JWKSURI         string `koanf:"jwks_uri"`
	JWKSFile        string `koanf:"jwks_file"`
	CertificateFile string `koanf:"certificate_file"`
}

// Enabled reports whether the grant is on.
func (g GrantHandler) Enabled() bool { return g.Handler != "" }

// Keys configures signing key handling.
type Keys struct {
	// RefreshInterval bounds how long a rotation on another node takes to
	// reach this one when no change notice arrives.
	RefreshInterval time.Duration `koanf:"refresh_interval"`
	// RetiredKeyTTL is how long a retired key stays published.
	RetiredKeyTTL time.Duration `koanf:"retired_key_ttl"`
}

// Cluster configures cache and housekeeping behaviour.
type Cluster struct {
	// RedisPrefix prefixes every Redis key and channel, so that deployments
	// can share a Redis server.
	RedisPrefix    string        `koanf:"redis_prefix"`
	ClientCacheTTL time.Duration `koanf:"client_cache_ttl"`
	PurgeInterval  time.Duration `koanf:"purge_interval"`
	PurgeBatch     int           `koanf:"purge_batch"`
	// PurgeMargin is how long past its expiry a record is kept before a
	// purge (SQL) or Redis removes it, so that a node whose clock runs
	// ahead does not delete what the other nodes still treat as live.
	PurgeMargin time.Duration `koanf:"purge_margin"`
}

// Log configures logging.
type Log struct {
	Level string `koanf:"level"`
}

// Monitor configures the monitoring endpoints (docs/operator-guide.md,
// "Monitoring").
type Monitor struct {
	// PrometheusOpen serves /metrics without the monitoring token, for
	// scrapers on a trusted network (bind admin_listen to it).
	PrometheusOpen bool `koanf:"prometheus_open"`
	// Pprof serves Go's runtime profiles under /debug/pprof/ behind the
	// monitoring token (docs/performance.md). Off by default: a profile
	// costs CPU and a heap dump shows what the process holds.
	Pprof bool `koanf:"pprof"`
}

// Upper bounds that Validate enforces.
const (
	// MaxCodeLifetime bounds authz.code_lifetime: a code is redeemed
	// within seconds, and a long-lived one is a long-lived target
	// (RFC 6749 §4.1.2 recommends at most ten minutes; Connect2id's
	// authzStore.code.lifetime allows 1 to 180 seconds).
	MaxCodeLifetime = 180 * time.Second
	// MaxClientAssertionMaxAge bounds tokens.client_assertion_max_age: the
	// replay cache keeps every jti this long, and an hour is far more than
	// any clock skew or request latency needs.
	MaxClientAssertionMaxAge = time.Hour
	// MaxRefreshTokenReuseGrace bounds tokens.refresh_token_reuse_grace: the
	// grace exists for a retry after a lost response, which takes seconds;
	// a longer window would let a stolen rotated token be replayed
	// unnoticed.
	MaxRefreshTokenReuseGrace = time.Minute
	// MaxSessionQuota bounds sessions.quota_per_subject (Connect2id's
	// sessionStore.quotaPerSubject allows at most 25).
	MaxSessionQuota = 25
	// MaxBackchannelTimeout, MaxBackchannelParallelism and
	// MaxBackchannelRetries bound logout.backchannel: a relying party must
	// not hold the provider's resources for long.
	MaxBackchannelTimeout     = 30 * time.Second
	MaxBackchannelParallelism = 64
	MaxBackchannelRetries     = 10
)

// Default returns the defaults listed in docs/configuration.md; lifetimes
// are Connect2id's defaults, so a migrated deployment behaves the same.
func Default() Config {
	return Config{
		Listen:  ":8080",
		Issuer:  "http://localhost:8080",
		DataDir: "./keyward-data",
		Authz: Authz{
			SessionLifetime:        15 * time.Minute,
			CodeLifetime:           60 * time.Second,
			PARLifetime:            60 * time.Second,
			LimitToRegisteredScope: true,
			// Connect2id serves the token-bearing response types to the
			// clients registered for them.
			AllowImplicitAccessTokens: true,
			RequestObjectMaxAge:       10 * time.Minute,
		},
		Tokens: Tokens{
			AccessTokenLifetime:   600 * time.Second,
			AccessTokenEncoding:   "SELF_CONTAINED",
			AccessTokenAlg:        oauth.AlgES256,
			IDTokenLifetime:       300 * time.Second,
			IDTokenAlg:            oauth.AlgRS256,
			ClientAssertionMaxAge: 5 * time.Minute,
			// Connect2id's authzStore.refreshToken.rotatedReuseGracePeriod.
			RefreshTokenReuseGrace: 5 * time.Second,
			AccessTokenProfile:     "rfc9068",
		},
		Sessions: Sessions{
			MaxLife:         180 * 24 * time.Hour,
			AuthLife:        30 * 24 * time.Hour,
			MaxIdle:         10 * 24 * time.Hour,
			QuotaPerSubject: 5,
		},
		// Connect2id's op.logout.sessionLifetime and back-channel HTTP
		// timeout (1000 ms).
		Logout: Logout{
			SessionLifetime: 10 * time.Minute,
			RevokeTokens:    "online",
			Backchannel:     Backchannel{Timeout: time.Second, Parallelism: 4, Retries: 2, QueueSize: 1000},
		},
		Claims: Claims{Sources: []ClaimsSource{{Type: "users"}}},
		// The client credentials grant is on by default, as its simple
		// handler only narrows the scope to what the client registered.
		Grants: Grants{ClientCredentials: GrantHandler{Handler: "simple"}},
		Keys: Keys{
			RefreshInterval: 30 * time.Second,
			RetiredKeyTTL:   24 * time.Hour,
		},
		Cluster: Cluster{
			RedisPrefix:    "keyward:",
			ClientCacheTTL: 10 * time.Second,
			PurgeInterval:  time.Minute,
			PurgeBatch:     1000,
			PurgeMargin:    time.Minute,
		},
		Log:     Log{Level: "info"},
		Tracing: Tracing{SampleRatio: 1},

		TrustedProxyHeader: "X-Forwarded-For",
		RateLimits:         defaultRateLimits(),
		HTTP:               defaultHTTP(),
		Limits:             defaultLimits(),
		Admission:          defaultAdmission(),
		DPoP: DPoP{
			// The FAPI 2.0 Security Profile's algorithms (§5.4.1);
			// RS256 may be added.
			Algs:   []string{oauth.AlgES256, oauth.AlgPS256, oauth.AlgEdDSA},
			MaxAge: time.Minute,
		},
	}
}

// validateProfile checks authz.authorization_details_types,
// authz.resources and authz.profile. Under fapi2 the settings the profile
// forbids are refused rather than silently overridden: a code lifetime
// above 60 s, plain PKCE, and token signing algorithms other than PS256,
// ES256 and EdDSA (FAPI 2.0 §5.3.2.1, §5.4.1).
func (c *Config) validateProfile(add func(string, ...any)) {
	for _, t := range c.Authz.AuthorizationDetailsTypes {
		if strings.TrimSpace(t) == "" {
			add("authz.authorization_details_types: types must not be empty")
		}
	}
	for _, r := range c.Authz.Resources {
		if !oauth.ValidResource(r) {
			add("authz.resources: %q must be an absolute URI without a fragment", r)
		}
	}
	if !authzpolicy.ValidProfile(c.Authz.Profile) {
		add("authz.profile %q must be empty or %s", c.Authz.Profile, authzpolicy.ProfileFAPI2)
	}
	if c.Authz.Profile != authzpolicy.ProfileFAPI2 {
		return
	}
	if c.Authz.CodeLifetime > authzpolicy.MaxCodeLifetimeFAPI2 {
		add("authz.code_lifetime must not exceed %.0fs under authz.profile fapi2", authzpolicy.MaxCodeLifetimeFAPI2.Seconds())
	}
	if c.Authz.AllowPlainPKCE {
		add("authz.allow_plain_pkce must be off under authz.profile fapi2")
	}
	for _, alg := range c.DPoP.Algs {
		if !slices.Contains(authzpolicy.FAPI2Algs, alg) {
			add("dpop.algs %q must be one of %s under authz.profile fapi2", alg, strings.Join(authzpolicy.FAPI2Algs, ", "))
		}
	}
	for _, key := range []struct{ name, alg string }{
		{"tokens.access_token_alg", c.Tokens.AccessTokenAlg},
		{"tokens.id_token_alg", c.Tokens.IDTokenAlg},
	} {
		if !slices.Contains(authzpolicy.FAPI2Algs, key.alg) {
			add("%s %q must be one of %s under authz.profile fapi2", key.name, key.alg, strings.Join(authzpolicy.FAPI2Algs, ", "))
		}
	}
}

// StoreURL returns the durable store URL, defaulting to SQLite in the data
// directory.
func (c *Config) StoreURL() string {
	if c.Store != "" {
		return c.Store
	}
	return "sqlite://" + filepath.Join(c.DataDir, "keyward.db")
}

// AuthorizationEndpoint returns the advertised authorization_endpoint.
func (c *Config) AuthorizationEndpoint() string {
	if c.Authz.Endpoint != "" {
		return c.Authz.Endpoint
	}
	return strings.TrimSuffix(c.Issuer, "/") + "/login"
}

// BuiltInLoginUI reports whether the reference login UI is served.
func (c *Config) BuiltInLoginUI() bool { return c.Authz.Endpoint == "" }

// BuiltInLogoutUI reports whether the reference logout page is served at
// <issuer>/logout: with the built-in login UI, unless logout.endpoint
// names another page.
func (c *Config) BuiltInLogoutUI() bool { return c.BuiltInLoginUI() && c.Logout.Endpoint == "" }

// EndSessionEndpoint returns the advertised end_session_endpoint, or ""
// when there is no logout page.
func (c *Config) EndSessionEndpoint() string {
	switch {
	case c.Logout.Endpoint != "":
		return c.Logout.Endpoint
	case c.BuiltInLogoutUI():
		return strings.TrimSuffix(c.Issuer, "/") + "/logout"
	}
	return ""
}

// Validate returns every problem with the configuration at once.
func (c *Config) Validate() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if u, err := url.Parse(c.Issuer); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") ||
		u.RawQuery != "" || u.Fragment != "" {
		add("issuer %q must be an http(s) URL without query or fragment", c.Issuer)
	} else if strings.HasSuffix(u.Path, "/") || u.Path != u.EscapedPath() {
		// The issuer appears verbatim in tokens and discovery and relying
		// parties compare it exactly (OpenID Connect Discovery 1.0 §4.3):
		// refuse rather than normalise it silently.
		add("issuer %q must not end with \"/\" nor need escaping: relying parties compare it exactly; use %q", c.Issuer, strings.TrimRight(c.Issuer, "/"))
	} else if u.Scheme == "http" && !c.Dev && !isLoopbackHost(u.Hostname()) {
		add("issuer %q must use https (http is allowed for localhost, or with --dev)", c.Issuer)
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		add("listen %q is not a host:port address", c.Listen)
	}
	if c.AdminListen != "" {
		if _, _, err := net.SplitHostPort(c.AdminListen); err != nil {
			add("admin_listen %q is not a host:port address", c.AdminListen)
		}
	}
	if c.DataDir == "" {
		add("data_dir must not be empty")
	}
	switch {
	case c.Store == "", strings.HasPrefix(c.Store, "sqlite://"),
		strings.HasPrefix(c.Store, "postgres://"), strings.HasPrefix(c.Store, "postgresql://"):
	default:
		add("store %q must be sqlite://PATH or postgres://…", redactURL(c.Store))
	}
	if c.Redis != "" && !strings.HasPrefix(c.Redis, "redis://") && !strings.HasPrefix(c.Redis, "rediss://") {
		add("redis %q must be a redis:// or rediss:// URL", redactURL(c.Redis))
	}
	if c.APIToken != "" && len(c.APIToken) < 32 {
		add("api_token must be at least 32 characters")
	}
	// Slices, not maps, so that the problems come out in a stable order.
	for _, key := range []struct {
		name   string
		hashes []string
	}{
		{"api_tokens.authz_sessions", c.APITokens.AuthzSessions},
		{"api_tokens.registration", c.APITokens.Registration},
		{"api_tokens.monitor", c.APITokens.Monitor},
		{"api_tokens.direct_authz", c.APITokens.DirectAuthz},
		{"api_tokens.introspection", c.APITokens.Introspection},
		{"api_tokens.authz_store", c.APITokens.AuthzStore},
		{"api_tokens.session_store", c.APITokens.SessionStore},
		{"api_tokens.logout_sessions", c.APITokens.LogoutSessions},
	} {
		for _, h := range key.hashes {
			if len(h) != 64 || strings.Trim(strings.ToLower(h), "0123456789abcdef") != "" {
				add("%s: %q is not a SHA-256 hex digest", key.name, h)
			}
		}
	}
	if c.Authz.Endpoint != "" {
		if u, err := url.Parse(c.Authz.Endpoint); err != nil || !u.IsAbs() || u.Fragment != "" {
			add("authz.endpoint %q must be an absolute URL", c.Authz.Endpoint)
		}
	}
	if c.Logout.Endpoint != "" {
		if u, err := url.Parse(c.Logout.Endpoint); err != nil || !u.IsAbs() || u.Fragment != "" {
			add("logout.endpoint %q must be an absolute URL", c.Logout.Endpoint)
		}
	}
	if q := c.Sessions.QuotaPerSubject; q < 1 || q > MaxSessionQuota {
		add("sessions.quota_per_subject must be between 1 and %d", MaxSessionQuota)
	}
	switch c.Logout.RevokeTokens {
	case "online", "all", "none":
	default:
		add("logout.revoke_tokens %q must be online, all or none", c.Logout.RevokeTokens)
	}
	if d := c.Logout.Backchannel.Timeout; d <= 0 || d > MaxBackchannelTimeout {
		add("logout.backchannel.timeout must be positive and at most %.0fs", MaxBackchannelTimeout.Seconds())
	}
	if n := c.Logout.Backchannel.Parallelism; n < 1 || n > MaxBackchannelParallelism {
		add("logout.backchannel.parallelism must be between 1 and %d", MaxBackchannelParallelism)
	}
	if n := c.Logout.Backchannel.Retries; n < 0 || n > MaxBackchannelRetries {
		add("logout.backchannel.retries must be between 0 and %d", MaxBackchannelRetries)
	}
	if c.Logout.Backchannel.QueueSize < 1 {
		add("logout.backchannel.queue_size must be positive")
	}
	errs = append(errs, c.Outbound.validate()...)
	for _, key := range []struct {
		name  string
		value time.Duration
	}{
		{"authz.session_lifetime", c.Authz.SessionLifetime},
		{"authz.code_lifetime", c.Authz.CodeLifetime},
		{"authz.par_lifetime", c.Authz.PARLifetime},
		{"logout.session_lifetime", c.Logout.SessionLifetime},
		{"tokens.access_token_lifetime", c.Tokens.AccessTokenLifetime},
		{"tokens.id_token_lifetime", c.Tokens.IDTokenLifetime},
		{"keys.refresh_interval", c.Keys.RefreshInterval},
		{"keys.retired_key_ttl", c.Keys.RetiredKeyTTL},
		{"cluster.client_cache_ttl", c.Cluster.ClientCacheTTL},
		{"cluster.purge_interval", c.Cluster.PurgeInterval},
	} {
		if key.value <= 0 {
			add("%s must be positive", key.name)
		}
	}
	if d := c.Authz.RequestObjectMaxAge; d <= 0 || d > MaxRequestObjectMaxAge {
		add("authz.request_object_max_age must be positive and at most %.0fh", MaxRequestObjectMaxAge.Hours())
	}
	if c.Authz.CodeLifetime > MaxCodeLifetime {
		add("authz.code_lifetime must not exceed %.0fs", MaxCodeLifetime.Seconds())
	}
	c.validateProfile(add)
	if d := c.Tokens.ClientAssertionMaxAge; d <= 0 || d > MaxClientAssertionMaxAge {
		add("tokens.client_assertion_max_age must be positive and at most %.0fh", MaxClientAssertionMaxAge.Hours())
	}
	if d := c.Tokens.RefreshTokenReuseGrace; d < 0 || d > MaxRefreshTokenReuseGrace {
		add("tokens.refresh_token_reuse_grace must be between 0 (off) and %.0fs", MaxRefreshTokenReuseGrace.Seconds())
	}
	if c.Tokens.RefreshTokenLifetime < 0 {
		add("tokens.refresh_token_lifetime must not be negative (0 means no expiry)")
	}
	if c.Keys.RetiredKeyTTL < max(c.Tokens.IDTokenLifetime, c.Tokens.AccessTokenLifetime) {
		add("keys.retired_key_ttl must be at least the longest token lifetime")
	}
	switch c.Tokens.AccessTokenEncoding {
	case "SELF_CONTAINED", "IDENTIFIER":
	default:
		add("tokens.access_token_encoding %q must be SELF_CONTAINED or IDENTIFIER", c.Tokens.AccessTokenEncoding)
	}
	switch c.Tokens.AccessTokenProfile {
	case "rfc9068", "c2id-1.1":
	default:
		add("tokens.access_token_profile %q must be rfc9068 or c2id-1.1", c.Tokens.AccessTokenProfile)
	}
	for _, key := range []struct {
		name  string
		names []string
	}{
		{"authz.request_params_in_auth_prompt", c.Authz.RequestParamsInAuthPrompt},
		{"authz.request_params_in_consent_prompt", c.Authz.RequestParamsInConsentPrompt},
		{"tokens.id_token_session_claims", c.Tokens.IDTokenSessionClaims},
	} {
		for _, n := range key.names {
			if strings.TrimSpace(n) == "" || strings.ContainsAny(n, " \t") {
				add("%s: %q is not a parameter or claim name", key.name, n)
			}
		}
	}
	for _, key := range []struct{ name, alg string }{
		{"tokens.access_token_alg", c.Tokens.AccessTokenAlg},
		{"tokens.id_token_alg", c.Tokens.IDTokenAlg},
	} {
		if algs := oauth.SigningAlgs(); !slices.Contains(algs, key.alg) {
			add("%s %q must be one of %s", key.name, key.alg, strings.Join(algs, ", "))
		}
	}
	if c.Cluster.PurgeBatch <= 0 {
		add("cluster.purge_batch must be positive")
	}
	if c.Cluster.PurgeMargin < 0 {
		add("cluster.purge_margin must not be negative")
	}
	if len(c.Claims.Sources) == 0 {
		add("claims.sources must name at least one source")
	}
	ldapIDs := map[string]bool{}
	ldapSources := 0
	for i, src := range c.Claims.Sources {
		// Types other than the built-in ones may come from plug-ins of a
		// downstream build; the server refuses a type it has no factory for.
		switch src.Type {
		case "":
			add("claims.sources[%d]: type is required (users, webhook, ldap, sql, session or a plug-in type)", i)
		case "webhook":
			if u, err := url.Parse(src.URL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
				add("claims.sources[%d]: webhook url %q must be an http(s) URL", i, src.URL)
			}
		case "ldap":
			ldapSources++
			errs = append(errs, src.validateLDAP(fmt.Sprintf("claims.sources[%d]", i))...)
		case "sql":
			if src.Driver != "postgres" && src.Driver != "mysql" {
				add("claims.sources[%d]: sql driver %q must be postgres or mysql", i, src.Driver)
			}
			if (src.DSN == "") == (src.DSNFile == "") {
				add("claims.sources[%d]: sql needs exactly one of dsn and dsn_file", i)
			}
			if strings.TrimSpace(src.Query) == "" {
				add("claims.sources[%d]: sql query is required", i)
			}
			if len(src.Claims) == 0 {
				add("claims.sources[%d]: sql claims must map at least one claim to a column", i)
			}
			if src.MaxOpenConns < 0 {
				add("claims.sources[%d]: max_open_conns must not be negative", i)
			}
		case "session":
			if len(src.SupportedClaims) == 0 {
				add("claims.sources[%d]: session supported_claims must list the claims captured at login it may serve", i)
			}
		}
		switch src.OnError {
		case "", "omit", "fail":
		default:
			add("claims.sources[%d]: on_error %q must be omit or fail", i, src.OnError)
		}
		if src.Timeout < 0 {
			add("claims.sources[%d]: timeout must not be negative", i)
		}
		for _, key := range src.foreignKeys() {
			add("claims.sources[%d]: %s does not apply to type %s", i, key, src.Type)
		}
		if src.Type != "ldap" {
			if keys := src.ldapKeys(); len(keys) > 0 {
				add("claims.sources[%d]: %s apply to type ldap only", i, strings.Join(keys, ", "))
			}
		}
		if src.ID != "" {
			if ldapIDs[src.ID] {
				add("claims.sources[%d]: id %q is used twice", i, src.ID)
			}
			ldapIDs[src.ID] = src.Type == "ldap"
		}
	}
	switch d := c.Login.Directory; {
	case d == "", d == "users":
	case d == "ldap":
		if ldapSources != 1 {
			add("login.directory ldap needs exactly one claims source of type ldap (there are %d); with several, name one by its id", ldapSources)
		}
	case !ldapIDs[d]:
		add("login.directory %q must be users, ldap or the id of a claims source of type ldap", d)
	}
	if c.Grants.Password.Handler == "ldap" && ldapSources != 1 && !ldapIDs[c.Login.Directory] {
		add("grants.password.handler ldap needs one claims source of type ldap, or login.directory naming one of several by its id")
	}
	errs = append(errs, c.Grants.validate(c.Dev)...)
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		add("log.level %q must be debug, info, warn or error", c.Log.Level)
	}
	errs = append(errs, c.Tracing.validate()...)
	errs = append(errs, c.validateLimits()...)
	errs = append(errs, c.validateSender()...)
	return errs
}

// foreignKeys names the keys set on a source of a built-in type that the
// type does not use: a key Keyward knows but would ignore is refused.
// Types from plug-ins (and types whose keys are checked elsewhere) are not
// checked here.
func (src ClaimsSource) foreignKeys() []string {
	uses := map[string][]string{
		"users":   {},
		"webhook": {"url", "token", "hmac_secret", "timeout", "supported_claims"},
		"sql":     {"driver", "dsn", "dsn_file", "query", "claims", "json_columns", "max_open_conns", "timeout"},
		"session": {"supported_claims"},
		// The ldap-only keys are checked by ldapKeys.
		"ldap": {"url", "timeout", "claims"},
	}
	allowed, known := uses[src.Type]
	if !known {
		return nil
	}
	set := map[string]bool{
		"url": src.URL != "", "token": src.Token != "", "hmac_secret": src.HMACSecret != "",
		"timeout": src.Timeout != 0, "supported_claims": len(src.SupportedClaims) > 0,
		"driver": src.Driver != "", "dsn": src.DSN != "", "dsn_file": src.DSNFile != "",
		"query": src.Query != "", "claims": len(src.Claims) > 0, "json_columns": len(src.JSONColumns) > 0,
		"max_open_conns": src.MaxOpenConns != 0, "config": len(src.Config) > 0,
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(set)) {
		if set[k] && !slices.Contains(allowed, k) {
			out = append(out, k)
		}
	}
	return out
}

// ldapKeys lists the ldap-only keys that are set.
func (src ClaimsSource) ldapKeys() []string {
	var keys []string
	for _, k := range []struct {
		name string
		set  bool
	}{
		{"start_tls", src.StartTLS}, {"ca_file", src.CAFile != ""}, {"bind_dn", src.BindDN != ""},
		{"bind_password", src.BindPassword != ""}, {"bind_password_file", src.BindPasswordFile != ""},
		{"base_dn", src.BaseDN != ""}, {"filter", src.Filter != ""}, {"subject_attribute", src.SubjectAttribute != ""},
		{"login_filter", src.LoginFilter != ""}, {"pool_size", src.PoolSize != 0},
	} {
		if k.set {
			keys = append(keys, k.name)
		}
	}
	return keys
}

// validateLDAP checks the keys of a type ldap source that need no file or
// network; the server checks the rest when it builds the source
// (plugin/ldap), and connects at start.
func (src ClaimsSource) validateLDAP(path string) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(path+": "+format, args...)) }
	if u, err := url.Parse(src.URL); err != nil || u.Host == "" || (u.Scheme != "ldap" && u.Scheme != "ldaps") {
		add("ldap url %q must be ldap://host[:port] or ldaps://host[:port]", src.URL)
	}
	if src.BindDN == "" {
		add("bind_dn is required")
	}
	if (src.BindPassword == "") == (src.BindPasswordFile == "") {
		add("set one of bind_password and bind_password_file")
	}
	if src.BaseDN == "" {
		add("base_dn is required")
	}
	if !strings.Contains(src.Filter, "{sub}") {
		add("filter %q must contain {sub}", src.Filter)
	}
	if src.LoginFilter != "" && !strings.Contains(src.LoginFilter, "{username}") {
		add("login_filter %q must contain {username}", src.LoginFilter)
	}
	if len(src.Claims) == 0 {
		add("claims must map at least one claim to an attribute")
	}
	if src.PoolSize < 0 {
		add("pool_size must not be negative (0: the default)")
	}
	return errs
}

// redactURL hides the password of a URL that may be echoed in a message.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return u.Redacted()
	}
	return s
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
