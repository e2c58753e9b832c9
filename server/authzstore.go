package server

import (
	"context"

	"github.com/keyward/keyward/internal/core/authzstore"
	"github.com/keyward/keyward/internal/core/token"
	"github.com/keyward/keyward/store"
)

// journalRevoker serves the authorisation store's revocation resource.
// Revocations by subject, client or actor go through the token service,
// which writes the revocation journal first, so that self-contained access
// tokens issued before the revocation die on every node, not only where
// UserInfo finds their grant gone. A revocation limited by a timestamp, or
// of the authorisation behind one token, needs the grant-by-grant
// selection of authzstore.GrantRevoker.
type journalRevoker struct {
	tokens *token.Service
	grants authzstore.GrantRevoker
}

func (r journalRevoker) Revoke(ctx context.Context, req authzstore.RevocationRequest) ([]*store.Authorization, error) {
	if req.Kind != "" || req.Token != "" || !req.Before.IsZero() {
		return r.grants.Revoke(ctx, req)
	}
	res, err := r.tokens.Revoke(ctx, token.RevocationRequest{Subject: req.Subject, ClientID: req.ClientID, Actor: req.Actor})
	if err != nil {
		return nil, err
	}
	return res.Authorizations, nil
}
