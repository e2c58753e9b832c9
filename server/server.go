package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/internal/backchannel"
	"github.com/keyward/keyward/internal/clientaddr"
	"github.com/keyward/keyward/internal/core/authz"
	"github.com/keyward/keyward/internal/core/authzstore"
	"github.com/keyward/keyward/internal/core/claims"
	"github.com/keyward/keyward/internal/core/clientreg"
	"github.com/keyward/keyward/internal/core/logout"
	"github.com/keyward/keyward/internal/core/session"
	"github.com/keyward/keyward/internal/core/sessionstore"
	"github.com/keyward/keyward/internal/core/token"
	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/jose"
	"github.com/keyward/keyward/internal/metrics"
	"github.com/keyward/keyward/internal/node"
	"github.com/keyward/keyward/internal/tracing"
	"github.com/keyward/keyward/loginui"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/plugin"
	ldapplugin "github.com/keyward/keyward/plugin/ldap"
	"github.com/keyward/keyward/plugin/sqlclaims"
	"github.com/keyward/keyward/plugin/users"
	"github.com/keyward/keyward/store"
)

// Options customise a server beyond its configuration.
type Options struct {
	// Log receives the server's structured logs; default: discard.
	Log *slog.Logger
	// Stdout receives the one-time notices meant for the operator: a
	// generated API token, demo instructions.
	Stdout io.Writer
	// Plugins are extra plug-in factories by type name, for downstream
	// builds that add their own claims sources and grant handlers:
	// claims.sources[].type or grants.<grant>.handler selects one, and
	// the matching config member is its raw configuration. A grant
	// handler implements the plugin interface of its grant
	// (plugin.ClientCredentialsHandler, plugin.PasswordHandler,
	// plugin.JWTBearerHandler, plugin.SAML2BearerHandler).
	// A plug-in may implement plugin.Initializer, plugin.HealthChecker and
	// io.Closer; the server calls them (see New, Run and Close).
	Plugins plugin.Factories
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Server is one running Keyward node.
type Server struct {
	cfg    config.Config
	log    *slog.Logger
	now    func() time.Time
	stdout io.Writer

	node    *node.Node
	stores  *node.Stores
	keys    *jose.KeyManager
	clients *clientreg.Service
	journal *token.Journal
	users   *users.Directory
	ldap    []ldapSource
	plugins plugins
	// prebuilt holds the downstream plug-ins New built before opening
	// anything, until it wires them (prebuildPlugins).
	prebuilt map[string]any
	apiToken string
	metrics  *metrics.Registry

	public      http.Handler
	integration http.Handler
	split       bool

	purgeJobs []*purgeJob
	sessions  *session.Service
	claims    *claims.Resolver // for discovery's claims_supported
	// backchannel delivers back-channel logouts; its workers run from New
	// to Close (not only under Run), so that a node serving through
	// Handler notifies too.
	backchannel     *backchannel.Dispatcher
	stopBackchannel context.CancelFunc
	backchannelDone chan struct{}

	closeOnce sync.Once

	// tracer is nil unless tracing.otlp_endpoint is set (server/tracing.go).
	tracer *tracing.Tracer

	// clientAddr resolves client addresses behind trusted_proxies; the
	// HTTP limits, the login throttle and the access log use it, and a
	// header a proxy sets (a client certificate) may be believed only
	// when its FromTrustedProxy says so.
	clientAddr *clientaddr.Resolver
}

// New builds a node from a validated configuration: it opens the stores,
// loads or creates the signing keys, builds the plug-ins and calls their
// Init (in configuration order, with ctx and the server's logger), and
// wires the services and handlers. A plug-in whose Init fails stops New
// with an error naming it. Nothing listens until Run; Close releases what
// New opened.
func New(ctx context.Context, cfg config.Config, opts Options) (_ *Server, err error) {
	s := &Server{cfg: cfg, log: opts.Log, now: opts.Now, stdout: opts.Stdout}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	// Every line logged while serving a request carries its request_id,
	// whichever package logs it (docs/operator-guide.md, "Logs").
	s.log = slog.New(httpapi.RequestIDHandler(s.log.Handler()))
	if s.now == nil {
		s.now = time.Now
	}
	if s.stdout == nil {
		s.stdout = io.Discard
	}
	s.metrics = metrics.New(nil)
	if s.clientAddr, err = clientaddr.ParseTrusted(cfg.TrustedProxies); err != nil {
		return nil, err
	}
	if err = s.clientAddr.SetHeader(cfg.TrustedProxyHeader); err != nil {
		return nil, err
	}
	if cfg.Dev {
		s.log.Warn("development mode: http:// loopback redirect URIs are accepted for web clients; never use it in production")
	}

	// The users file is checked before anything is created (no data
	// directory, schema or key for a configuration that cannot start).
	if s.users, err = loadUsers(cfg); err != nil {
		return nil, err
	}
	if s.prebuilt, err = prebuildPlugins(cfg, opts.Plugins); err != nil {
		return nil, err
	}
	defer closePrebuilt(s.prebuilt)
	n, err := node.Open(ctx, cfg, s.log, s.now)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	s.node, s.stores, s.keys, s.clients = n, n.Stores, n.Keys, n.Clients
	if err := s.startTracing(ctx); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.stopTracing()
		}
	}()
	if err := s.registerGauges(); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	keys := n.Secrets
	s.journal = &token.Journal{Store: s.stores.Durable.Revocations, Now: s.now, Log: s.log}
	if notifier := s.stores.Durable.Notifier; notifier != nil {
		s.journal.Changed = func(ctx context.Context) {
			if err := notifier.Publish(ctx, node.TopicRevocations, "revoked"); err != nil {
				s.log.Warn("announce revocation", "error", err.Error())
			}
		}
	}
	if err := s.journal.Refresh(ctx); err != nil {
		return nil, err
	}
	s.purgeJobs = []*purgeJob{
		{name: "durable", p: s.stores.Durable.Purger},
		{name: "ephemeral", p: s.stores.Ephemeral.Purger},
	}

	apiToken, generatedToken, err := node.BootstrapSecret(cfg.DataDir, node.APITokenFile, string(cfg.APIToken), node.NewAPIToken)
	if err != nil {
		return nil, err
	}
	s.apiToken = apiToken
	if generatedToken {
		fmt.Fprintf(s.stdout, "Generated the API token (saved in %s/%s; shown only now):\n  %s\n", cfg.DataDir, node.APITokenFile, apiToken)
	}

	issuer := strings.TrimSuffix(cfg.Issuer, "/")
	sessions := &session.Service{
		Store:  s.stores.Ephemeral.SubjectSessions,
		MACKey: keys.SessionMAC,
		Config: session.Config{MaxLife: cfg.Sessions.MaxLife, AuthLife: cfg.Sessions.AuthLife, MaxIdle: cfg.Sessions.MaxIdle,
			QuotaPerSubject: cfg.Sessions.QuotaPerSubject},
		Now:  s.now,
		Rand: rand.Reader,
		Log:  s.log,
	}
	resolver, err := s.claimsResolver(opts, sessions)
	if err != nil {
		return nil, err
	}
	s.claims = resolver
	handlers, err := s.buildGrantHandlers(opts)
	if err != nil {
		return nil, err
	}
	if err := s.plugins.init(ctx, s.log, issuer); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.plugins.close()
		}
	}()
	idAlgs := s.keys.Algorithms()

	tokenSpec := store.TokenSpec{
		AccessTokenLifetime:  cfg.Tokens.AccessTokenLifetime,
		AccessTokenEncoding:  cfg.Tokens.AccessTokenEncoding,
		RefreshTokenLifetime: cfg.Tokens.RefreshTokenLifetime,
		RotateRefreshToken:   cfg.Tokens.RotateRefreshTokens,
		IDTokenLifetime:      cfg.Tokens.IDTokenLifetime,
	}
	authzSvc := &authz.Service{
		Config: authz.Config{
			Issuer:                 issuer,
			SessionLifetime:        cfg.Authz.SessionLifetime,
			CodeLifetime:           cfg.Authz.CodeLifetime,
			PARLifetime:            cfg.Authz.PARLifetime,
			AllowPlainPKCE:         cfg.Authz.AllowPlainPKCE,
			DevLoopbackHTTP:        cfg.Dev,
			LimitToRegisteredScope: cfg.Authz.LimitToRegisteredScope,
			AlwaysPromptForConsent: cfg.Authz.AlwaysPromptForConsent,
			ACRValuesSupported:     cfg.Authz.ACRValues,
			Tokens:                 tokenSpec,

			RequestParamsInAuthPrompt:    cfg.Authz.RequestParamsInAuthPrompt,
			RequestParamsInConsentPrompt: cfg.Authz.RequestParamsInConsentPrompt,
			IncludeRawClaimsRequest:      cfg.Authz.IncludeRawClaimsRequest,
			IDTokenSessionClaims:         cfg.Tokens.IDTokenSessionClaims,

			DisallowImplicitAccessTokens: !cfg.Authz.AllowImplicitAccessTokens,
			RequireSignedRequestObject:   cfg.Authz.RequireSignedRequestObject,

			AuthorizationDetailsTypes: cfg.Authz.AuthorizationDetailsTypes,
			Resources:                 cfg.Authz.Resources,
			Profile:                   cfg.Authz.Profile,
		},
		Clients:         s.clients,
		SubjectSessions: sessions,
		Codes:           s.stores.Ephemeral.Codes,
		Replay:          s.stores.Ephemeral.Replay,
		Authorizations:  s.stores.Durable.Authorizations,
		IDTokens:        s.keys,
		Sealer:          keys.Sealer,
		PairwiseSalt:    keys.PairwiseSalt,
		Now:             s.now,
		Rand:            rand.Reader,
		Log:             s.log,
	}
	// The caps count on this node, in wall-clock time (server/ratelimits.go).
	authzSvc.Sessions, authzSvc.PAR = capStores(cfg, s.stores.Ephemeral.AuthzSessions, s.stores.Ephemeral.PAR, nil)
	atEncrypter, err := jose.NewDirEncrypter(keys.AccessTokenEncryption)
	if err != nil {
		return nil, fmt.Errorf("access token encryption: %w", err)
	}
	// jwks_uri documents go through the node's SSRF-guarded fetcher.
	clientKeys := jose.NewClientKeys(s.node.Outbound, s.now)
	clientKeys.MaxAge = cfg.Tokens.ClientAssertionMaxAge
	// Request objects (RFC 9101) are verified with the same client key
	// sets as client assertions, and decrypted with our encryption keys.
	// request_uri documents are fetched like jwks_uri ones, through the
	// SSRF-guarded fetcher.
	authzSvc.RequestObjects = &jose.RequestObjects{
		Keys: clientKeys, Decrypter: s.keys, Algs: oauth.AsymmetricAlgs(), MaxAge: cfg.Authz.RequestObjectMaxAge,
	}
	authzSvc.RequestURIs = s.node.Outbound
	authzSvc.Responses = s.keys
	tokenSvc := &token.Service{
		Config: token.Config{
			Issuer:            issuer,
			TokenEndpoint:     issuer + "/token",
			IDTokenAlg:        cfg.Tokens.IDTokenAlg,
			AccessTokenAlg:    cfg.Tokens.AccessTokenAlg,
			Defaults:          tokenSpec,
			AssertionMaxAge:   cfg.Tokens.ClientAssertionMaxAge,
			RotatedReuseGrace: cfg.Tokens.RefreshTokenReuseGrace,

			AccessTokenProfile: cfg.Tokens.AccessTokenProfile,

			Profile:   cfg.Authz.Profile,
			Resources: cfg.Authz.Resources,
		},
		Encrypter:      atEncrypter,
		PairwiseSalt:   keys.PairwiseSalt,
		Clients:        s.clients,
		Sealer:         keys.Sealer,
		Codes:          s.stores.Ephemeral.Codes,
		Grants:         s.stores.Durable.Grants,
		RefreshTokens:  s.stores.Durable.RefreshTokens,
		AccessTokens:   s.stores.Durable.AccessTokens,
		Replay:         s.stores.Ephemeral.Replay,
		Keys:           s.keys,
		ClientKeys:     clientKeys,
		Claims:         resolver,
		Authorizations: s.stores.Durable.Authorizations,
		Journal:        s.journal,
		Now:            s.now,
		Rand:           rand.Reader,
		Log:            s.log,
	}
	tokenSvc.DPoP = s.dpopVerifier(keys.Sealer, s.stores.Ephemeral.Replay)
	tokenSvc.CertBoundAccessTokens = cfg.MTLS.CertificateBoundAccessTokens
	if tokenSvc.Certs, err = certVerifier(cfg); err != nil {
		return nil, err
	}
	if tokenSvc.Handlers, err = s.grants(handlers, tokenSvc, clientKeys, keys.Sealer, issuer); err != nil {
		return nil, err
	}
	authzSvc.Tokens = tokenSvc

	s.sessions = sessions
	// Expired subject sessions are taken by this job, not by the ephemeral
	// purge, so that their clients get back-channel logouts.
	s.purgeJobs = append(s.purgeJobs, &purgeJob{name: "subject_sessions", p: sessionPurger{sessions}})
	s.backchannel = backchannel.New(backchannel.Config{
		Timeout:     cfg.Logout.Backchannel.Timeout,
		Parallelism: cfg.Logout.Backchannel.Parallelism,
		Retries:     cfg.Logout.Backchannel.Retries,
		QueueSize:   cfg.Logout.Backchannel.QueueSize,
	}, s.tracer.Transport(s.node.Outbound.Transport()), s.log)
	bcCtx, stopBC := context.WithCancel(context.WithoutCancel(ctx))
	s.stopBackchannel, s.backchannelDone = stopBC, make(chan struct{})
	go func() {
		defer close(s.backchannelDone)
		s.backchannel.Run(bcCtx)
	}()
	defer func() {
		if err != nil {
			s.stopBackchannel()
			<-s.backchannelDone
		}
	}()
	logoutSvc := &logout.Service{
		Config: logout.Config{
			Issuer:          issuer,
			SessionLifetime: cfg.Logout.SessionLifetime,
			RevokeTokens:    cfg.Logout.RevokeTokens,
			IDTokenAlg:      cfg.Tokens.IDTokenAlg,
		},
		Sessions:     sessions,
		Clients:      s.clients,
		Keys:         s.keys,
		Revoker:      tokenSvc,
		BackChannel:  s.backchannel,
		Sealer:       keys.Sealer,
		Replay:       s.stores.Ephemeral.Replay,
		PairwiseSalt: keys.PairwiseSalt,
		Now:          s.now,
		Rand:         rand.Reader,
		Log:          s.log,
	}
	sessions.Ended = logoutSvc.SessionEnded
	sessionStoreSvc := &sessionstore.Service{
		Sessions: sessions,
		Margin:   cfg.Cluster.PurgeMargin,
		Batch:    cfg.Cluster.PurgeBatch,
	}
	if p := s.stores.Ephemeral.Purger; p != nil {
		sessionStoreSvc.IndexPurger = func(ctx context.Context) (int, error) {
			return p.Purge(ctx, s.now().Add(-cfg.Cluster.PurgeMargin), cfg.Cluster.PurgeBatch)
		}
	}

	authzTokens, err := httpapi.NewTokenSet([]string{apiToken}, cfg.APITokens.AuthzSessions)
	if err != nil {
		return nil, err
	}
	regTokens, err := httpapi.NewTokenSet([]string{apiToken}, cfg.APITokens.Registration)
	if err != nil {
		return nil, err
	}
	directAuthzTokens, err := httpapi.NewTokenSet([]string{apiToken}, cfg.APITokens.DirectAuthz)
	if err != nil {
		return nil, err
	}
	monitorTokens, err := httpapi.NewTokenSet([]string{apiToken}, cfg.APITokens.Monitor)
	if err != nil {
		return nil, err
	}
	introspectionTokens, err := httpapi.NewTokenSet([]string{apiToken}, cfg.APITokens.Introspection)
	if err != nil {
		return nil, err
	}
	authzStoreTokens, err := httpapi.NewTokenSet([]string{apiToken}, cfg.APITokens.AuthzStore)
	if err != nil {
		return nil, err
	}
	authzStoreSvc := &authzstore.Service{
		Issuer:         issuer,
		Authorizations: s.stores.Durable.Authorizations,
		Clients:        s.clients,
		Revoker: journalRevoker{tokens: tokenSvc, grants: authzstore.GrantRevoker{
			Grants:         s.stores.Durable.Grants,
			Authorizations: s.stores.Durable.Authorizations,
			Tokens:         tokenSvc,
			Now:            s.now,
		}},
		Inspector: authzstore.TokenInspector{Tokens: tokenSvc},
		Now:       s.now,
		Log:       s.log,
	}
	sessionStoreTokens, err := httpapi.NewTokenSet([]string{apiToken}, cfg.APITokens.SessionStore)
	if err != nil {
		return nil, err
	}
	logoutTokens, err := httpapi.NewTokenSet([]string{apiToken}, cfg.APITokens.LogoutSessions)
	if err != nil {
		return nil, err
	}
	// Only the monitoring tokens may travel in a URL, never the API token.
	monitorQueryTokens, err := httpapi.NewTokenSet(nil, cfg.APITokens.Monitor)
	if err != nil {
		return nil, err
	}

	var ui http.Handler
	transport := &inProcessTransport{}
	if cfg.BuiltInLoginUI() {
		var auth loginui.Authenticator
		if auth, err = s.loginAuthenticator(); err != nil {
			return nil, err
		}
		ui, err = loginui.New(loginui.Config{
			APIBase:       issuer + "/authz-sessions/rest/v3",
			APIToken:      apiToken,
			HTTPClient:    &http.Client{Transport: transport, Timeout: inProcessTimeout},
			Authenticator: auth,
			BasePath:      "/login",
			LogoutAPIBase: logoutAPIBase(cfg, issuer),
			// Secure outside --dev, and then __Host- (RFC 6265bis
			// §4.1.3.2): only this host, over TLS, for the whole site.
			SecureCookies: !cfg.Dev || strings.HasPrefix(issuer, "https://"),
			CookieName:    sessionCookieName(cfg),
			ClientAddr:    loginAddr,
			RateLimit:     loginRateLimit(cfg.RateLimits.Login, nil),
			Log:           s.log,
			Title:         "Keyward",
		})
		if err != nil {
			return nil, fmt.Errorf("login UI: %w", err)
		}
	}

	// Rate limits run on the wall clock, whatever Options.Now says.
	limits := httpLimits(cfg, s.clientAddr, nil)
	if err := s.registerAdmissionMetrics(limits.Admission); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	api, err := httpapi.New(httpapi.Deps{
		Authz:               authzSvc,
		Tokens:              tokenSvc,
		Clients:             s.clients,
		Keys:                s.keys,
		Metadata:            s.metadata(issuer, idAlgs),
		ClientCerts:         certExtractor(cfg, s.clientAddr),
		AuthzSessionTokens:  authzTokens,
		RegistrationTokens:  regTokens,
		DirectAuthzTokens:   directAuthzTokens,
		MonitorTokens:       monitorTokens,
		MonitorQueryTokens:  monitorQueryTokens,
		IntrospectionTokens: introspectionTokens,
		AuthzStore:          authzStoreSvc,
		AuthzStoreTokens:    authzStoreTokens,
		SessionStore:        sessionStoreSvc,
		SessionStoreTokens:  sessionStoreTokens,
		Logout:              logoutSvc,
		LogoutTokens:        logoutTokens,
		OpenRegistration:    cfg.Registration.Open,
		LoginUI:             ui,
		LogoutUI:            logoutUI(cfg, ui),
		Ready:               s.ready,
		Metrics:             s.metrics,
		PrometheusOpen:      cfg.Monitor.PrometheusOpen,
		Pprof:               cfg.Monitor.Pprof,
		HealthChecks:        s.healthChecks(),
		Limits:              limits,
		Log:                 s.log,
	})
	if err != nil {
		return nil, err
	}
	s.split = cfg.AdminListen != ""
	s.public, s.integration = api.Handlers(s.split)
	s.public, s.integration = s.tracer.Handler(s.public), s.tracer.Handler(s.integration)
	s.public, s.integration = withDeadline(deadlineFor(cfg.HTTP.WriteTimeout), s.public), withDeadline(deadlineFor(cfg.HTTP.WriteTimeout), s.integration)
	transport.set(s.integration)

	if cfg.Demo {
		if err := s.seedDemo(ctx, issuer); err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
	}
	return s, nil
}

// logoutAPIBase is the logout session API the built-in UI calls for its
// logout page, or "" when the page is not served.
func logoutAPIBase(cfg config.Config, issuer string) string {
	if !cfg.BuiltInLogoutUI() {
		return ""
	}
	return issuer + "/logout-sessions/rest/v1"
}

// logoutUI is the handler mounted at /logout: the built-in UI when it
// serves the logout page.
func logoutUI(cfg config.Config, ui http.Handler) http.Handler {
	if ui == nil || !cfg.BuiltInLogoutUI() {
		return nil
	}
	return ui
}

func loadUsers(cfg config.Config) (*users.Directory, error) {
	switch {
	case cfg.Users != "":
		d, err := users.Load(cfg.Users)
		if err != nil {
			return nil, fmt.Errorf("users file: %w", err)
		}
		return d, nil
	case cfg.Demo:
		return users.Demo()
	default:
		return users.New(nil)
	}
}

func (s *Server) claimsResolver(opts Options, sessions *session.Service) (*claims.Resolver, error) {
	var sources []claims.Source
	for i, src := range s.cfg.Claims.Sources {
		var (
			cs  plugin.ClaimsSource
			err error
		)
		switch {
		case opts.Plugins[src.Type] != nil:
			var p any
			if p, err = s.takePrebuilt(fmt.Sprintf("claims.sources[%d]", i)); err == nil {
				var ok bool
				if cs, ok = p.(plugin.ClaimsSource); !ok {
					err = fmt.Errorf("plug-in %T is not a claims source", p)
				}
			}
		case src.Type == "users":
			cs = s.users
		case src.Type == "webhook":
			cs, err = newWebhookClaimsSource(src, s.tracer.HTTPClient())
		case src.Type == "sql":
			cs, err = sqlclaims.New(sqlclaims.Config{
				Driver:       src.Driver,
				DSN:          string(src.DSN),
				DSNFile:      src.DSNFile,
				Query:        src.Query,
				Claims:       src.Claims,
				JSONColumns:  src.JSONColumns,
				Timeout:      src.Timeout,
				MaxOpenConns: src.MaxOpenConns,
			})
		case src.Type == "session":
			cs, err = session.NewClaimsSource(sessions, src.SupportedClaims)
		case src.Type == "ldap":
			var l *ldapplugin.Source
			if l, err = newLDAPClaimsSource(src); err == nil {
				cs = l
				s.ldap = append(s.ldap, ldapSource{id: src.ID, src: l})
			}
		default:
			err = fmt.Errorf("unknown type %q (want users, webhook, ldap, sql, session or a plug-in type of this build)", src.Type)
		}
		path := fmt.Sprintf("claims.sources[%d]", i)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if src.OnError == claims.OnErrorFail {
			s.plugins.add(path, src.Type, cs)
		} else {
			s.plugins.addAdvisory(path, src.Type, cs)
		}
		name := fmt.Sprintf("%s (%s)", path, src.Type)
		sources = append(sources, claims.Source{Name: name, Source: s.tracer.ClaimsSource(name, measured(cs, sourceMetricName(i, src), s.metrics)), OnError: src.OnError})
	}
	return claims.New(sources, s.log)
}

// Handler returns the public HTTP handler; it also serves the integration
// APIs unless they moved to the admin listener.
func (s *Server) Handler() http.Handler { return s.public }

// IntegrationHandler returns the handler of the integration web APIs.
func (s *Server) IntegrationHandler() http.Handler { return s.integration }

// APIToken returns the API token in force.
func (s *Server) APIToken() string { return s.apiToken }

// RotateKeys rotates the signing keys and tells the other nodes of the
// cluster, as `keyward keys rotate` does.
func (s *Server) RotateKeys(ctx context.Context) error {
	if err := s.node.RotateKeys(ctx); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "audit", "event", "key_rotated")
	return nil
}

// ready reports whether the node can serve: the durable store answers and
// every plug-in that can tell says it is healthy.
func (s *Server) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readinessTimeout)
	defer cancel()
	if err := s.checkDurable(ctx); err != nil {
		return err
	}
	if err := s.checkEphemeral(ctx); err != nil {
		return err
	}
	return s.plugins.healthy(ctx, s.log)
}

// Run serves HTTP on the configured listeners and runs the background work
// (key refresh, purges, cache invalidation) until ctx ends, then shuts down
// gracefully.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	servers := []*http.Server{s.httpServer(s.cfg.Listen, s.public)}
	if s.split {
		servers = append(servers, s.httpServer(s.cfg.AdminListen, s.integration))
	}
	listeners := make([]net.Listener, 0, len(servers))
	for _, srv := range servers {
		ln, err := net.Listen("tcp", srv.Addr)
		if err == nil {
			var tln net.Listener
			if tln, err = tlsListener(s.cfg, ln); err != nil {
				ln.Close()
			}
			ln = tln
		}
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return fmt.Errorf("listen %s: %w", srv.Addr, err)
		}
		listeners = append(listeners, ln)
	}

	var wg sync.WaitGroup
	s.startBackground(ctx, &wg)
	errc := make(chan error, len(servers))
	for i, srv := range servers {
		s.log.Info("listening", "addr", listeners[i].Addr().String(), "issuer", s.cfg.Issuer)
		go func() {
			if err := srv.Serve(listeners[i]); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	// Drain (docs/operator-guide.md, "Signals"): stop accepting, let the
	// requests in flight finish within shutdownTimeout, stop the
	// background jobs, close plug-ins and stores; each step is logged.
	s.log.Info("shutting down: no new connections; draining requests in flight", "timeout_seconds", shutdownTimeout.Seconds())
	start := time.Now()
	shutdownCtx, stop := context.WithTimeout(context.Background(), shutdownTimeout)
	defer stop()
	drained := true
	for _, srv := range servers {
		if err := srv.Shutdown(shutdownCtx); err != nil {
			drained = false
			srv.Close()
		}
	}
	if drained {
		s.log.Info("requests in flight finished", "duration_seconds", time.Since(start).Seconds())
	} else {
		s.log.Warn("drain timed out: remaining connections closed", "timeout_seconds", shutdownTimeout.Seconds())
	}
	cancel()
	wg.Wait()
	s.log.Info("background jobs stopped")
	if err := s.Close(); err != nil {
		s.log.Warn("closing plug-ins and stores", "error", err.Error())
	} else {
		s.log.Info("plug-ins and stores closed")
	}
	return runErr
}

func (s *Server) httpServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: s.cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.HTTP.ReadTimeout,
		WriteTimeout:      s.cfg.HTTP.WriteTimeout,
		IdleTimeout:       s.cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    s.cfg.HTTP.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// Close closes the plug-ins, in the reverse order of their Init, then the
// stores. Run calls it on the way out; it is safe to call more than once.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		// Deliveries still queued are dropped (and counted): a node going
		// away cannot wait for relying parties.
		s.stopBackchannel()
		<-s.backchannelDone
		err = errors.Join(s.plugins.close(), s.node.Close(), s.stopTracing())
	})
	return err
}

// LogoutNotifications reports the back-channel logout deliveries since the
// node started: "queued" (logout tokens handed over for delivery),
// "delivered", "failed" (given up), "retried" (attempts scheduled again)
// and "dropped" (queue full or node stopping).
func (s *Server) LogoutNotifications() map[string]int64 {
	st := s.backchannel.Stats()
	return map[string]int64{"queued": st.Queued, "delivered": st.Delivered, "failed": st.Failed, "retried": st.Retried, "dropped": st.Dropped}
}
