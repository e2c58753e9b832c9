package clientreg

import (
	"errors"
	"testing"

	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/memstore"
)

// TestLifecycleOnMemstore runs register → read → update → cached get →
// delete against the real in-memory backend, not the test fake.
func TestLifecycleOnMemstore(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	ms, err := memstore.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.svc.Store = ms.Durable().Clients

	reg := mustRegister(t, f, `{"redirect_uris":["https://rp.example.com/cb"],"token_endpoint_auth_method":"client_secret_jwt"}`)
	got, err := f.svc.Get(ctx, reg.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if !secret.MatchesHash(reg.ClientSecret, got.SecretHash) {
		t.Error("stored secret hash does not match")
	}
	if plain, err := f.svc.Sealer.Open(got.SecretSealed, []byte(reg.ClientID)); err != nil || string(plain) != reg.ClientSecret {
		t.Errorf("sealed secret: %q, %v", plain, err)
	}
	if _, err := f.svc.Read(ctx, reg.ClientID, WithRegistrationToken(reg.RegistrationAccessToken)); err != nil {
		t.Fatal(err)
	}
	upd, err := updateJSON(ctx, f.svc, reg.ClientID, WithRegistrationToken(reg.RegistrationAccessToken), `{"client_id":"`+reg.ClientID+`","redirect_uris":["https://rp.example.com/cb"],"client_name":"New","token_endpoint_auth_method":"client_secret_jwt","refresh_client_secret":true}`)
	if err != nil {
		t.Fatal(err)
	}
	got, err = f.svc.Get(ctx, reg.ClientID)
	if err != nil || got.Metadata.ClientName != "New" || !secret.MatchesHash(upd.ClientSecret, got.SecretHash) {
		t.Fatalf("Get after update = %+v, %v", got, err)
	}
	if err := f.svc.Delete(ctx, reg.ClientID, WithRegistrationToken(upd.RegistrationAccessToken)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Get(ctx, reg.ClientID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after delete: %v, want ErrNotFound", err)
	}
}
