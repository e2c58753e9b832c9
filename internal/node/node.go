package node

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/internal/core/clientreg"
	"github.com/keyward/keyward/internal/jose"
	"github.com/keyward/keyward/internal/jwksfetch"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// Notification topics shared by the nodes of a cluster.
const (
	TopicKeys    = "keyward_keys"
	TopicClients = "keyward_clients"
	// TopicRevocations announces a new revocation journal entry; nodes
	// then re-read the journal (token.Journal).
	TopicRevocations = "keyward_revocations"
)

// outboundTimeout bounds each fetch of a URL a client registered
// (sector_identifier_uri at registration, jwks_uri at authentication),
// connection included.
const outboundTimeout = 5 * time.Second

// Client registration and token endpoint capabilities, as implemented.
// Discovery advertises exactly these.
var (
	AuthMethods = []string{oauth.AuthMethodClientSecretBasic, oauth.AuthMethodClientSecretPost,
		oauth.AuthMethodClientSecretJWT, oauth.AuthMethodPrivateKeyJWT, oauth.AuthMethodNone}
	GrantTypes = []string{oauth.GrantTypeAuthorizationCode, oauth.GrantTypeRefreshToken}
)

// AuthMethodsFor returns AuthMethods plus the mutual TLS methods (RFC
// 8705 §2) when client certificates can reach the server:
// self_signed_tls_client_auth, and tls_client_auth when tls.client_ca
// gives the CAs to verify chains against.
func AuthMethodsFor(cfg config.Config) []string {
	out := append([]string(nil), AuthMethods...)
	if !cfg.MTLSEnabled() {
		return out
	}
	if cfg.TLS.ClientCA != "" {
		out = append(out, oauth.AuthMethodTLSClientAuth)
	}
	return append(out, oauth.AuthMethodSelfSignedTLSClientAuth)
}

// GrantTypesFor returns the grant types of GrantTypes plus the grants
// configured on (grants.*.handler): what registration accepts and discovery
// advertises.
func GrantTypesFor(cfg config.Config) []string {
	out := append([]string(nil), GrantTypes...)
	// The implicit grant is what a client registers for the implicit and
	// hybrid response types (OpenID Connect Registration §2).
	out = append(out, oauth.GrantTypeImplicit)
	for _, g := range []struct {
		on bool
		gt string
	}{
		{cfg.Grants.ClientCredentials.Enabled(), oauth.GrantTypeClientCredentials},
		{cfg.Grants.Password.Enabled(), oauth.GrantTypePassword},
		{cfg.Grants.JWTBearer.Enabled(), oauth.GrantTypeJWTBearer},
		{cfg.Grants.SAML2Bearer.Enabled(), oauth.GrantTypeSAML2Bearer},
	} {
		if g.on {
			out = append(out, g.gt)
		}
	}
	return out
}

// ResponseTypesFor returns the response types registration accepts and
// discovery advertises, each as its space-separated values: code, the
// implicit and hybrid types that return an ID token (OIDC Core §3.2, §3.3),
// and, unless authz.allow_implicit_access_tokens is off, those that return
// an access token from the authorisation endpoint. Plain "token" (OAuth
// implicit without OpenID) is not offered.
func ResponseTypesFor(cfg config.Config) [][]string {
	out := [][]string{
		{oauth.ResponseTypeCode},
		{oauth.ResponseTypeIDToken},
		{oauth.ResponseTypeCode, oauth.ResponseTypeIDToken},
	}
	if cfg.Authz.AllowImplicitAccessTokens {
		out = append(out,
			[]string{oauth.ResponseTypeIDToken, oauth.ResponseTypeToken},
			[]string{oauth.ResponseTypeCode, oauth.ResponseTypeToken},
			[]string{oauth.ResponseTypeCode, oauth.ResponseTypeIDToken, oauth.ResponseTypeToken})
	}
	return out
}

// ResponseTypeStrings joins each response type of ResponseTypesFor with
// spaces, as discovery lists them.
func ResponseTypeStrings(cfg config.Config) []string {
	var out []string
	for _, rt := range ResponseTypesFor(cfg) {
		out = append(out, strings.Join(rt, " "))
	}
	return out
}

// Node is what every process that works on a deployment's data opens: the
// keys derived from the master key, the stores, the signing keys and the
// client registry. The server adds HTTP on top; the command line uses it
// as it is.
type Node struct {
	Stores  *Stores
	Keys    *jose.KeyManager
	Clients *clientreg.Service
	Secrets *secret.Keys
	// Outbound is the one SSRF-guarded fetcher for URLs clients register
	// (jwks_uri, sector_identifier_uri, back-channel logout, request_uri):
	// https and public addresses only, unless --dev or the operator's
	// outbound.allow_hosts / outbound.allow_cidrs.
	Outbound *jwksfetch.Fetcher
}

// Open loads (or, on first start, generates) the master key, opens the
// stores, migrating their schema, and loads (or generates) the signing
// keys: what `keyward serve` and `keyward init` do. Before it migrates, it
// checks that the master key opens a stored signing key, and it never
// generates a master key for a store that already holds signing keys (a
// restored database without its master.key): a wrong or missing key stops
// it having written nothing, not the key file, not a migration.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger, now func() time.Time) (_ *Node, err error) {
	masterB64, err := readMasterKey(cfg)
	if err != nil {
		return nil, err
	}
	var sealer *secret.Sealer
	if masterB64 != "" {
		master, err := decodeMasterKey(masterB64)
		if err != nil {
			return nil, err
		}
		keys, err := secret.DeriveKeys(master)
		if err != nil {
			return nil, err
		}
		sealer = keys.Sealer
	}
	stores, err := openStores(ctx, cfg, log, storeMode{keyCheck: masterKeyCheck(cfg, sealer)})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			stores.Close()
		}
	}()
	if masterB64 == "" {
		var generated bool
		masterB64, generated, err = BootstrapSecret(cfg.DataDir, masterKeyFile, "", newMasterKey)
		if err != nil {
			return nil, err
		}
		if generated {
			log.Info("generated a master key", "file", filepath.Join(cfg.DataDir, masterKeyFile))
		}
	}
	n, err := build(cfg, stores, masterB64, log, now)
	if err != nil {
		return nil, err
	}
	if err := n.Keys.Init(ctx); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	n.wireClients(cfg, log, now)
	return n, nil
}

// masterKeyCheck is the check Open runs on a stored signing key before it
// migrates: sealer (nil when there is no master key yet) must open it.
func masterKeyCheck(cfg config.Config, sealer *secret.Sealer) store.KeyCheck {
	return func(_ context.Context, id string, sealed []byte) error {
		if sealer == nil {
			return fmt.Errorf("the store holds signing keys but there is no master key (master_key, %s, or %s): restore the master key this store was created with; a new one cannot open its keys",
				config.EnvName("master_key"), filepath.Join(cfg.DataDir, masterKeyFile))
		}
		if _, err := sealer.Open(sealed, []byte(id)); err != nil {
			return fmt.Errorf("the master key does not open the store's signing key %s: %w; give the master key this store was created with (no migration ran)", id, err)
		}
		return nil
	}
}

// OpenExisting opens a deployment that `keyward serve` or `keyward init`
// created, for the administrative commands: it never migrates a schema,
// never generates a master key or signing keys, and fails before writing
// anything when the schema is missing or old, the master key is missing,
// or it does not open the stored signing keys.
func OpenExisting(ctx context.Context, cfg config.Config, log *slog.Logger, now func() time.Time) (_ *Node, err error) {
	masterB64, err := readMasterKey(cfg)
	if err != nil {
		return nil, err
	}
	if masterB64 == "" {
		return nil, fmt.Errorf("no master key: set master_key (%s, or --master-key) or put the deployment's master.key into %s (a new deployment: run `keyward init` first); administrative commands never generate one",
			config.EnvName("master_key"), cfg.DataDir)
	}
	if _, err := decodeMasterKey(masterB64); err != nil {
		return nil, err
	}
	stores, err := openStores(ctx, cfg, log, storeMode{existing: true})
	if err != nil {
		if errors.Is(err, store.ErrNoSchema) {
			return nil, fmt.Errorf("%w: run `keyward init` (or start `keyward serve`) with this store first", err)
		}
		return nil, err
	}
	defer func() {
		if err != nil {
			stores.Close()
		}
	}()
	n, err := build(cfg, stores, masterB64, log, now)
	if err != nil {
		return nil, err
	}
	if err := n.Keys.Load(ctx); err != nil {
		if errors.Is(err, jose.ErrNoKeys) {
			return nil, fmt.Errorf("keys: %w: run `keyward init` (or start `keyward serve`) with this store first", err)
		}
		return nil, fmt.Errorf("keys: %w (is the master key the one this store was created with?)", err)
	}
	n.wireClients(cfg, log, now)
	return n, nil
}

// readMasterKey returns the configured master key or the one saved in the
// data directory; "" when there is none. It creates nothing.
func readMasterKey(cfg config.Config) (string, error) {
	if cfg.MasterKey != "" {
		return string(cfg.MasterKey), nil
	}
	path := filepath.Join(cfg.DataDir, masterKeyFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		return strings.TrimSpace(string(b)), nil
	case errors.Is(err, fs.ErrNotExist):
		return "", nil
	default:
		return "", fmt.Errorf("read %s: %w", path, err)
	}
}

// build derives the keys from the master key and makes the key manager.
func build(cfg config.Config, stores *Stores, masterB64 string, log *slog.Logger, now func() time.Time) (*Node, error) {
	master, err := decodeMasterKey(masterB64)
	if err != nil {
		return nil, err
	}
	keys, err := secret.DeriveKeys(master)
	if err != nil {
		return nil, err
	}
	n := &Node{Secrets: keys, Stores: stores, Outbound: NewOutbound(cfg)}
	n.Keys, err = jose.NewKeyManager(jose.KeyManagerConfig{
		Store:         n.Stores.Durable.Keys,
		Sealer:        keys.Sealer,
		Now:           now,
		Log:           log,
		RetiredKeyTTL: cfg.Keys.RetiredKeyTTL,
	})
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return n, nil
}

// wireClients builds the client registry once the keys are loaded.
func (n *Node) wireClients(cfg config.Config, log *slog.Logger, now func() time.Time) {
	keys := n.Secrets
	n.Clients = &clientreg.Service{
		Config: clientreg.Config{
			Issuer:                 strings.TrimSuffix(cfg.Issuer, "/"),
			DevLoopbackHTTP:        cfg.Dev,
			AllowedAuthMethods:     AuthMethodsFor(cfg),
			SupportedResponseTypes: ResponseTypesFor(cfg),
			SupportedGrantTypes:    GrantTypesFor(cfg),
			SupportedIDTokenAlgs:   n.Keys.Algorithms(),
			CacheTTL:               cfg.Cluster.ClientCacheTTL,

			AuthorizationDetailsTypes: cfg.Authz.AuthorizationDetailsTypes,
			Profile:                   cfg.Authz.Profile,
		},
		Store:          n.Stores.Durable.Clients,
		PushedRequests: n.Stores.Ephemeral.PAR,
		// sector_identifier_uri documents (OIDC Core §8.1) are fetched
		// with the SSRF guard.
		Sectors: n.Outbound,
		Sealer:  keys.Sealer,
		Now:     now,
		Rand:    rand.Reader,
		Log:     log,
	}
	if notifier := n.Stores.Durable.Notifier; notifier != nil {
		n.Clients.Changed = func(ctx context.Context, id string) {
			if err := notifier.Publish(ctx, TopicClients, id); err != nil {
				log.Warn("announce client change", "error", err.Error())
			}
		}
	}
}

// RotateKeys rotates the signing keys and tells the other nodes.
func (n *Node) RotateKeys(ctx context.Context) error {
	if err := n.Keys.Rotate(ctx); err != nil {
		return fmt.Errorf("rotate keys: %w", err)
	}
	if notifier := n.Stores.Durable.Notifier; notifier != nil {
		return notifier.Publish(ctx, TopicKeys, "rotated")
	}
	return nil
}

// Close closes the stores.
func (n *Node) Close() error { return n.Stores.Close() }

// NewOutbound returns the guarded fetcher configured by cfg (--dev and the
// outbound keys).
func NewOutbound(cfg config.Config) *jwksfetch.Fetcher {
	return jwksfetch.NewGuarded(jwksfetch.Options{
		Timeout:    outboundTimeout,
		Dev:        cfg.Dev,
		AllowHosts: cfg.Outbound.AllowHosts,
		AllowCIDRs: cfg.Outbound.Prefixes(),
	})
}
