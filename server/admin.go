package server

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/core/clientreg"
	"github.com/keyward/keyward/internal/jose"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/oauth"
)

// Admin is the part of a node the command line needs: stores, signing keys
// and the client registry, without HTTP.
type Admin struct {
	Stores  *Stores
	Keys    *jose.KeyManager
	Clients *clientreg.Service
	secrets *secret.Keys
}

// OpenAdmin loads (or, on first start, generates) the master key, opens the
// stores and loads (or generates) the signing keys.
func OpenAdmin(ctx context.Context, cfg config.Config, log *slog.Logger) (*Admin, error) {
	return openAdmin(ctx, cfg, log, time.Now)
}

func openAdmin(ctx context.Context, cfg config.Config, log *slog.Logger, now func() time.Time) (_ *Admin, err error) {
	masterB64, generated, err := bootstrapSecret(cfg.DataDir, masterKeyFile, string(cfg.MasterKey), newMasterKey)
	if err != nil {
		return nil, err
	}
	master, err := decodeMasterKey(masterB64)
	if err != nil {
		return nil, err
	}
	if generated {
		log.Info("generated a master key", "file", cfg.DataDir+"/"+masterKeyFile)
	}
	keys, err := secret.DeriveKeys(master)
	if err != nil {
		return nil, err
	}
	a := &Admin{secrets: keys}
	if a.Stores, err = OpenStores(ctx, cfg, log); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			a.Stores.Close()
		}
	}()
	a.Keys, err = jose.NewKeyManager(jose.KeyManagerConfig{
		Store:         a.Stores.Durable.Keys,
		Sealer:        keys.Sealer,
		Now:           now,
		Log:           log,
		RetiredKeyTTL: cfg.Keys.RetiredKeyTTL,
	})
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	if err := a.Keys.Init(ctx); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	a.Clients = &clientreg.Service{
		Config: clientreg.Config{
			Issuer:                 strings.TrimSuffix(cfg.Issuer, "/"),
			DevLoopbackHTTP:        cfg.Dev,
			AllowedAuthMethods:     authMethods,
			SupportedResponseTypes: [][]string{{oauth.ResponseTypeCode}},
			SupportedGrantTypes:    grantTypes,
			SupportedIDTokenAlgs:   a.Keys.Algorithms(),
			CacheTTL:               cfg.Cluster.ClientCacheTTL,
		},
		Store:          a.Stores.Durable.Clients,
		PushedRequests: a.Stores.Ephemeral.PAR,
		Sealer:         keys.Sealer,
		ValidateJWKS:   func(raw []byte) error { _, err := jose.ParseJWKS(raw); return err },
		Now:            now,
		Rand:           rand.Reader,
		Log:            log,
	}
	if n := a.Stores.Durable.Notifier; n != nil {
		a.Clients.Changed = func(ctx context.Context, id string) {
			if err := n.Publish(ctx, topicClients, id); err != nil {
				log.Warn("announce client change", "error", err.Error())
			}
		}
	}
	return a, nil
}

// RotateKeys rotates the signing keys and tells the other nodes.
func (a *Admin) RotateKeys(ctx context.Context) error {
	if err := a.Keys.Rotate(ctx); err != nil {
		return fmt.Errorf("rotate keys: %w", err)
	}
	return AnnounceKeyChange(ctx, a.Stores)
}

// Close closes the stores.
func (a *Admin) Close() error { return a.Stores.Close() }
