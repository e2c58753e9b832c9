package clientreg

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

const webBody = `{"redirect_uris":["https://rp.example.com/cb"],"client_name":"RP","contacts":["ops@rp.example.com"]}`

// registerJSON and updateJSON decode body and call the service, in the
// order the HTTP layer does.
func registerJSON(ctx context.Context, svc *Service, body string) (*Registration, error) {
	req, oerr := DecodeRequest([]byte(body))
	if oerr != nil {
		return nil, oerr
	}
	return svc.Register(ctx, req)
}

func updateJSON(ctx context.Context, svc *Service, id string, acc Access, body string) (*Registration, error) {
	req, oerr := DecodeRequest([]byte(body))
	if oerr != nil {
		if err := svc.CheckAccess(ctx, id, acc); err != nil {
			return nil, err
		}
		return nil, oerr
	}
	return svc.Update(ctx, id, acc, req)
}

func mustRegister(t *testing.T, f *fixture, body string) *Registration {
	t.Helper()
	reg, err := registerJSON(t.Context(), f.svc, body)
	if err != nil {
		t.Fatalf("Register(%s): %v", body, err)
	}
	return reg
}

func toJSON(t *testing.T, r *Registration) map[string]any {
	t.Helper()
	raw, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// wantOAuth fails unless err is an *oauth.Error with the code and status.
func wantOAuth(t *testing.T, err error, code string, status int) *oauth.Error {
	t.Helper()
	oe := oauth.AsError(err)
	if oe == nil {
		t.Fatalf("error = %v, want %s", err, code)
	}
	if oe.Code != code || oe.Status != status {
		t.Fatalf("error = %s (%d), want %s (%d)", oe, oe.Status, code, status)
	}
	return oe
}

func TestRegisterResponse(t *testing.T) {
	f := newFixture(t, nil)
	reg := mustRegister(t, f, webBody)
	m := toJSON(t, reg)

	if len(reg.ClientSecret) != 43 || len(reg.RegistrationAccessToken) != 43 || len(reg.ClientID) != 22 {
		t.Errorf("lengths: client_id %d, secret %d, token %d; want 22, 43, 43 (128/256/256 bits)",
			len(reg.ClientID), len(reg.ClientSecret), len(reg.RegistrationAccessToken))
	}
	want := map[string]any{
		"client_id":                  reg.ClientID,
		"client_secret":              reg.ClientSecret,
		"client_id_issued_at":        float64(f.clock.Now().Unix()),
		"client_secret_expires_at":   float64(0),
		"registration_access_token":  reg.RegistrationAccessToken,
		"registration_client_uri":    "https://op.example.com/clients/" + reg.ClientID,
		"redirect_uris":              []any{"https://rp.example.com/cb"},
		"response_types":             []any{"code"},
		"grant_types":                []any{"authorization_code"},
		"application_type":           "web",
		"token_endpoint_auth_method": "client_secret_basic",
		"client_name":                "RP",
		"contacts":                   []any{"ops@rp.example.com"},
	}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("response JSON (-want +got):\n%s", diff)
	}

	stored := f.store.clients[reg.ClientID]
	if !secret.MatchesHash(reg.ClientSecret, stored.SecretHash) || stored.SecretSealed != nil {
		t.Errorf("stored secret: hash matches %v, sealed %x; want hash only",
			secret.MatchesHash(reg.ClientSecret, stored.SecretHash), stored.SecretSealed)
	}
	if !secret.MatchesHash(reg.RegistrationAccessToken, stored.RegistrationTokenHash) {
		t.Error("stored registration token hash does not match the issued token")
	}
	dump := fmt.Sprintf("%+v", stored)
	for _, plain := range []string{reg.ClientSecret, reg.RegistrationAccessToken} {
		if strings.Contains(dump, plain) || bytes.Contains(stored.SecretHash, []byte(plain)) {
			t.Errorf("plain credential %q found in the stored record", plain)
		}
	}

	got, err := f.svc.Read(t.Context(), reg.ClientID, WithRegistrationToken(reg.RegistrationAccessToken))
	if err != nil {
		t.Fatal(err)
	}
	wantRead := map[string]any{}
	for k, v := range want {
		wantRead[k] = v
	}
	delete(wantRead, "client_secret")
	delete(wantRead, "registration_access_token")
	if diff := cmp.Diff(wantRead, toJSON(t, got)); diff != "" {
		t.Errorf("read JSON (-want +got):\n%s", diff)
	}
}

func TestSecretsByAuthMethod(t *testing.T) {
	tests := []struct {
		method     string
		extra      string
		wantSecret bool
		wantSealed bool
	}{
		{method: "client_secret_basic", wantSecret: true},
		{method: "client_secret_post", wantSecret: true},
		{method: "client_secret_jwt", wantSecret: true, wantSealed: true},
		{method: "private_key_jwt", extra: `,"jwks_uri":"https://rp.example.com/jwks"`},
		{method: "none"},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			f := newFixture(t, nil)
			reg := mustRegister(t, f, `{"redirect_uris":["https://rp.example.com/cb"],"token_endpoint_auth_method":"`+tt.method+`"`+tt.extra+`}`)
			stored := f.store.clients[reg.ClientID]
			m := toJSON(t, reg)
			_, hasSecret := m["client_secret"]
			_, hasExpiry := m["client_secret_expires_at"]
			if hasSecret != tt.wantSecret || hasExpiry != tt.wantSecret || (len(stored.SecretHash) > 0) != tt.wantSecret {
				t.Errorf("client_secret in JSON %v, client_secret_expires_at %v, hash stored %v; want %v",
					hasSecret, hasExpiry, len(stored.SecretHash) > 0, tt.wantSecret)
			}
			if (len(stored.SecretSealed) > 0) != tt.wantSealed {
				t.Fatalf("sealed secret stored = %v, want %v", len(stored.SecretSealed) > 0, tt.wantSealed)
			}
			if tt.wantSealed {
				plain, err := f.svc.Sealer.Open(stored.SecretSealed, []byte(reg.ClientID))
				if err != nil || string(plain) != reg.ClientSecret {
					t.Errorf("Open with client ID = %q, %v; want the issued secret", plain, err)
				}
				if _, err := f.svc.Sealer.Open(stored.SecretSealed, []byte("other")); !errors.Is(err, secret.ErrOpen) {
					t.Errorf("Open with another client ID: %v, want ErrOpen", err)
				}
			}
		})
	}
}

func TestSecretsAreRandom(t *testing.T) {
	f := newFixture(t, nil)
	a, b := mustRegister(t, f, webBody), mustRegister(t, f, webBody)
	if a.ClientID == b.ClientID || a.ClientSecret == b.ClientSecret || a.RegistrationAccessToken == b.RegistrationAccessToken {
		t.Errorf("two registrations share a generated value: %+v / %+v", a, b)
	}
}

// TestRegistrationTokenChecks covers RFC 7592 §2: every failure is
// invalid_token with 401, whichever operation is attempted.
func TestRegistrationTokenChecks(t *testing.T) {
	f := newFixture(t, nil)
	reg := mustRegister(t, f, webBody)
	other := mustRegister(t, f, webBody)
	ops := map[string]func(id, token string) error{
		"read": func(id, token string) error {
			_, err := f.svc.Read(t.Context(), id, WithRegistrationToken(token))
			return err
		},
		"update": func(id, token string) error {
			// An invalid body too: authentication must come first.
			_, err := updateJSON(t.Context(), f.svc, id, WithRegistrationToken(token), `{"redirect_uris":["x#y"]}`)
			return err
		},
		"delete": func(id, token string) error { return f.svc.Delete(t.Context(), id, WithRegistrationToken(token)) },
	}
	cases := []struct{ name, id, token string }{
		{"missing token", reg.ClientID, ""},
		{"wrong token", reg.ClientID, "not-the-token"},
		{"token of another client", reg.ClientID, other.RegistrationAccessToken},
		{"unknown client", "nope", reg.RegistrationAccessToken},
		{"token with one changed character", reg.ClientID, reg.RegistrationAccessToken[:42] + string(rune(reg.RegistrationAccessToken[42]^1))},
	}
	for opName, op := range ops {
		for _, c := range cases {
			t.Run(opName+"/"+c.name, func(t *testing.T) {
				wantOAuth(t, op(c.id, c.token), oauth.ErrCodeInvalidToken, 401)
			})
		}
	}
	if _, ok := f.store.clients[reg.ClientID]; !ok {
		t.Fatal("client deleted by a refused request")
	}
}

func TestUpdate(t *testing.T) {
	type result struct {
		reg    *Registration
		stored *store.Client
	}
	tests := []struct {
		name   string
		first  string // registration body
		update func(id string) string
		check  func(t *testing.T, before, after result, prev *Registration)
	}{
		{
			name:  "full replacement drops omitted members",
			first: webBody,
			update: func(id string) string {
				return `{"client_id":"` + id + `","redirect_uris":["https://rp.example.com/new"]}`
			},
			check: func(t *testing.T, before, after result, prev *Registration) {
				want := store.ClientMetadata{
					RedirectURIs: []string{"https://rp.example.com/new"}, ResponseTypes: []string{"code"},
					GrantTypes: []string{"authorization_code"}, ApplicationType: "web", TokenEndpointAuthMethod: "client_secret_basic",
				}
				if diff := cmp.Diff(want, after.stored.Metadata); diff != "" {
					t.Errorf("metadata (-want +got):\n%s", diff)
				}
				if after.reg.ClientSecret != "" || !bytes.Equal(before.stored.SecretHash, after.stored.SecretHash) {
					t.Error("secret changed without refresh_client_secret")
				}
				if !after.stored.CreatedAt.Equal(before.stored.CreatedAt) || !after.stored.UpdatedAt.After(before.stored.UpdatedAt) {
					t.Errorf("times: created %v→%v, updated %v→%v", before.stored.CreatedAt, after.stored.CreatedAt, before.stored.UpdatedAt, after.stored.UpdatedAt)
				}
			},
		},
		{
			name:  "refresh_client_secret rotates the secret",
			first: webBody,
			update: func(id string) string {
				return `{"client_id":"` + id + `","redirect_uris":["https://rp.example.com/cb"],"refresh_client_secret":true}`
			},
			check: func(t *testing.T, before, after result, prev *Registration) {
				if after.reg.ClientSecret == "" || after.reg.ClientSecret == prev.ClientSecret {
					t.Fatalf("no new secret returned: %q", after.reg.ClientSecret)
				}
				if !secret.MatchesHash(after.reg.ClientSecret, after.stored.SecretHash) || secret.MatchesHash(prev.ClientSecret, after.stored.SecretHash) {
					t.Error("stored hash does not follow the rotation")
				}
			},
		},
		{
			name:  "switch to none drops the secret",
			first: webBody,
			update: func(id string) string {
				return `{"client_id":"` + id + `","redirect_uris":["https://rp.example.com/cb"],"token_endpoint_auth_method":"none"}`
			},
			check: func(t *testing.T, before, after result, prev *Registration) {
				if after.stored.SecretHash != nil || after.stored.SecretSealed != nil || after.reg.ClientSecret != "" {
					t.Errorf("secret kept for a public client: %+v", after.stored)
				}
				if _, ok := toJSON(t, after.reg)["client_secret_expires_at"]; ok {
					t.Error("client_secret_expires_at present for a client without secret")
				}
			},
		},
		{
			name:  "switch to client_secret_jwt issues a sealed secret",
			first: webBody,
			update: func(id string) string {
				return `{"client_id":"` + id + `","redirect_uris":["https://rp.example.com/cb"],"token_endpoint_auth_method":"client_secret_jwt"}`
			},
			check: func(t *testing.T, before, after result, prev *Registration) {
				if after.reg.ClientSecret == "" {
					t.Fatal("no secret issued although the old one cannot be unsealed")
				}
				if !secret.MatchesHash(after.reg.ClientSecret, after.stored.SecretHash) || len(after.stored.SecretSealed) == 0 {
					t.Error("new secret not stored as hash + sealed")
				}
			},
		},
		{
			name:  "switch from client_secret_jwt to basic keeps the secret, drops the sealed copy",
			first: `{"redirect_uris":["https://rp.example.com/cb"],"token_endpoint_auth_method":"client_secret_jwt"}`,
			update: func(id string) string {
				return `{"client_id":"` + id + `","redirect_uris":["https://rp.example.com/cb"],"token_endpoint_auth_method":"client_secret_basic"}`
			},
			check: func(t *testing.T, before, after result, prev *Registration) {
				if after.reg.ClientSecret != "" || !secret.MatchesHash(prev.ClientSecret, after.stored.SecretHash) || after.stored.SecretSealed != nil {
					t.Errorf("secret %q, sealed %x", after.reg.ClientSecret, after.stored.SecretSealed)
				}
			},
		},
		{
			name:  "matching client_secret accepted",
			first: webBody,
			update: func(id string) string {
				return `{"client_id":"` + id + `","redirect_uris":["https://rp.example.com/cb"],"client_secret":"SECRET"}`
			},
			check: func(t *testing.T, before, after result, prev *Registration) {},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			prev := mustRegister(t, f, tt.first)
			before := result{prev, copyClient(f.store.clients[prev.ClientID])}
			f.clock.Advance(1e9)
			body := strings.ReplaceAll(tt.update(prev.ClientID), "SECRET", prev.ClientSecret)
			reg, err := updateJSON(t.Context(), f.svc, prev.ClientID, WithRegistrationToken(prev.RegistrationAccessToken), body)
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			after := result{reg, f.store.clients[prev.ClientID]}
			// Every RFC 7592 update rotates the registration access token.
			if reg.RegistrationAccessToken == "" || reg.RegistrationAccessToken == prev.RegistrationAccessToken {
				t.Fatalf("registration token not rotated: %q", reg.RegistrationAccessToken)
			}
			if _, err := f.svc.Read(t.Context(), prev.ClientID, WithRegistrationToken(prev.RegistrationAccessToken)); oauth.AsError(err) == nil {
				t.Errorf("old registration token still accepted: %v", err)
			}
			if _, err := f.svc.Read(t.Context(), prev.ClientID, WithRegistrationToken(reg.RegistrationAccessToken)); err != nil {
				t.Errorf("new registration token refused: %v", err)
			}
			tt.check(t, before, after, prev)
		})
	}
}

func TestUpdateRefused(t *testing.T) {
	tests := []struct {
		name     string
		body     func(id string) string
		wantCode string
		wantDesc string
	}{
		{"client_id missing", func(string) string { return `{"redirect_uris":["https://rp.example.com/cb"]}` }, oauth.ErrCodeInvalidClientMetadata, "client_id is required"},
		{"client_id differs", func(string) string { return `{"client_id":"other","redirect_uris":["https://rp.example.com/cb"]}` }, oauth.ErrCodeInvalidClientMetadata, "client_id does not match the client"},
		{"client_secret differs", func(id string) string {
			return `{"client_id":"` + id + `","client_secret":"wrong","redirect_uris":["https://rp.example.com/cb"]}`
		}, oauth.ErrCodeInvalidClientMetadata, "client_secret does not match the current secret"},
		{"invalid metadata", func(id string) string {
			return `{"client_id":"` + id + `","redirect_uris":["https://rp.example.com/cb#x"]}`
		}, oauth.ErrCodeInvalidRedirectURI, "redirect_uris[0] must not contain a fragment"},
		{"not an object", func(string) string { return `[1]` }, oauth.ErrCodeInvalidClientMetadata, "request body must be a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			reg := mustRegister(t, f, webBody)
			before := copyClient(f.store.clients[reg.ClientID])
			for name, update := range map[string]func() error{
				"Update with the token": func() error {
					_, err := updateJSON(t.Context(), f.svc, reg.ClientID, WithRegistrationToken(reg.RegistrationAccessToken), tt.body(reg.ClientID))
					return err
				},
				"Update as operator": func() error {
					_, err := updateJSON(t.Context(), f.svc, reg.ClientID, AsOperator(), tt.body(reg.ClientID))
					return err
				},
			} {
				oe := wantOAuth(t, update(), tt.wantCode, 400)
				if oe.Description != tt.wantDesc {
					t.Errorf("%s: description %q, want %q", name, oe.Description, tt.wantDesc)
				}
			}
			if diff := cmp.Diff(before, f.store.clients[reg.ClientID]); diff != "" {
				t.Errorf("refused update changed the record (-before +after):\n%s", diff)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	f := newFixture(t, nil)
	reg := mustRegister(t, f, webBody)
	if _, err := f.svc.Get(t.Context(), reg.ClientID); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Delete(t.Context(), reg.ClientID, WithRegistrationToken(reg.RegistrationAccessToken)); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.Read(t.Context(), reg.ClientID, WithRegistrationToken(reg.RegistrationAccessToken))
	wantOAuth(t, err, oauth.ErrCodeInvalidToken, 401)
	if _, err := f.svc.Get(t.Context(), reg.ClientID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	wantOAuth(t, f.svc.Delete(t.Context(), reg.ClientID, WithRegistrationToken(reg.RegistrationAccessToken)), oauth.ErrCodeInvalidToken, 401)
}

func TestAdmin(t *testing.T) {
	f := newFixture(t, nil)
	reg := mustRegister(t, f, webBody)

	got, err := f.svc.Read(t.Context(), reg.ClientID, AsOperator())
	if err != nil || got.ClientID != reg.ClientID || got.ClientSecret != "" || got.RegistrationAccessToken != "" {
		t.Fatalf("operator Read = %+v, %v", got, err)
	}

	upd, err := updateJSON(t.Context(), f.svc, reg.ClientID, AsOperator(), `{"client_id":"`+reg.ClientID+`","redirect_uris":["https://rp.example.com/cb"],"client_name":"Renamed"}`)
	if err != nil {
		t.Fatal(err)
	}
	if upd.Metadata.ClientName != "Renamed" || upd.RegistrationAccessToken != "" {
		t.Errorf("operator Update = %+v", upd)
	}
	// The client's own token survives an operator update.
	if _, err := f.svc.Read(t.Context(), reg.ClientID, WithRegistrationToken(reg.RegistrationAccessToken)); err != nil {
		t.Errorf("registration token refused after an operator update: %v", err)
	}

	if err := f.svc.Delete(t.Context(), reg.ClientID, AsOperator()); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"Read": func() error { _, err := f.svc.Read(t.Context(), reg.ClientID, AsOperator()); return err }(),
		"Update": func() error {
			_, err := updateJSON(t.Context(), f.svc, reg.ClientID, AsOperator(), `{"client_id":"`+reg.ClientID+`","redirect_uris":["https://a.example/cb"]}`)
			return err
		}(),
		"Delete": f.svc.Delete(t.Context(), reg.ClientID, AsOperator()),
	} {
		oe := oauth.AsError(err)
		if oe == nil || oe.Status != 404 || !errors.Is(err, store.ErrNotFound) {
			t.Errorf("operator %s on a deleted client: %v, want a 404 *oauth.Error wrapping ErrNotFound", name, err)
		}
	}
}

// TestZeroAccessIsNotOperator: an Access left at its zero value carries no
// token and is refused like a missing one, for a known and an unknown
// client alike (401, never the operator's 404), and changes nothing.
func TestZeroAccessIsNotOperator(t *testing.T) {
	f := newFixture(t, nil)
	reg := mustRegister(t, f, webBody)
	var zero Access
	for _, id := range []string{reg.ClientID, "no-such-client"} {
		body := `{"client_id":"` + id + `","redirect_uris":["https://rp.example.com/cb"],"client_name":"Taken over"}`
		for name, err := range map[string]error{
			"Read":        func() error { _, err := f.svc.Read(t.Context(), id, zero); return err }(),
			"Update":      func() error { _, err := updateJSON(t.Context(), f.svc, id, zero, body); return err }(),
			"Delete":      f.svc.Delete(t.Context(), id, zero),
			"CheckAccess": f.svc.CheckAccess(t.Context(), id, zero),
		} {
			if oe := oauth.AsError(err); oe == nil || oe.Code != oauth.ErrCodeInvalidToken || oe.Status != 401 {
				t.Errorf("%s(%s) with zero access: %v, want invalid_token 401", name, id, err)
			}
		}
	}
	got, err := f.svc.Read(t.Context(), reg.ClientID, WithRegistrationToken(reg.RegistrationAccessToken))
	if err != nil || got.Metadata.ClientName != "RP" {
		t.Errorf("client after refused zero-access calls: %+v, %v", got, err)
	}
}

// TestNilRequest: a caller that skips DecodeRequest and passes nil gets
// invalid_client_metadata, not a panic.
func TestNilRequest(t *testing.T) {
	f := newFixture(t, nil)
	reg := mustRegister(t, f, webBody)
	_, err := f.svc.Register(t.Context(), nil)
	wantOAuth(t, err, oauth.ErrCodeInvalidClientMetadata, 400)
	_, err = f.svc.Update(t.Context(), reg.ClientID, AsOperator(), nil)
	wantOAuth(t, err, oauth.ErrCodeInvalidClientMetadata, 400)
	_, err = f.svc.Update(t.Context(), reg.ClientID, WithRegistrationToken(reg.RegistrationAccessToken), nil)
	wantOAuth(t, err, oauth.ErrCodeInvalidClientMetadata, 400)
}

func TestList(t *testing.T) {
	f := newFixture(t, nil)
	var ids []string
	for i := range 5 {
		reg, err := f.svc.Create(t.Context(), store.ClientMetadata{RedirectURIs: []string{"https://rp.example.com/cb"}},
			CreateOptions{PreferredID: fmt.Sprintf("client-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, reg.ClientID)
	}
	var got []string
	after := ""
	for {
		page, err := f.svc.List(t.Context(), after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, r := range page {
			if r.ClientSecret != "" || r.RegistrationAccessToken != "" {
				t.Errorf("List leaks credentials for %s", r.ClientID)
			}
			got = append(got, r.ClientID)
		}
		after = page[len(page)-1].ClientID
	}
	if diff := cmp.Diff(ids, got); diff != "" {
		t.Errorf("listed IDs (-want +got):\n%s", diff)
	}
}

func TestCreate(t *testing.T) {
	md := store.ClientMetadata{RedirectURIs: []string{"https://rp.example.com/cb"}}
	long := strings.Repeat("s", 32)
	tests := []struct {
		name     string
		md       store.ClientMetadata
		opts     CreateOptions
		wantDesc string // "" means success
	}{
		{name: "preferred id and secret", md: md, opts: CreateOptions{PreferredID: "demo-client", PreferredSecret: "demo-secret-0123456789"}},
		{name: "80-character id", md: md, opts: CreateOptions{PreferredID: strings.Repeat("a", 80)}},
		{name: "81-character id", md: md, opts: CreateOptions{PreferredID: strings.Repeat("a", 81)}, wantDesc: "preferred client_id must be 1-80 characters from A-Z a-z 0-9 . _ ~ -"},
		{name: "id with slash", md: md, opts: CreateOptions{PreferredID: "a/b"}, wantDesc: "preferred client_id must be 1-80 characters from A-Z a-z 0-9 . _ ~ -"},
		{name: "short secret", md: md, opts: CreateOptions{PreferredSecret: "short"}, wantDesc: "preferred client secret must be 16-256 printable ASCII characters"},
		{name: "secret with space", md: md, opts: CreateOptions{PreferredSecret: "sixteen chars ok"}, wantDesc: "preferred client secret must be 16-256 printable ASCII characters"},
		{name: "short secret for client_secret_jwt", md: store.ClientMetadata{RedirectURIs: md.RedirectURIs, TokenEndpointAuthMethod: "client_secret_jwt"},
			opts: CreateOptions{PreferredSecret: long[:31]}, wantDesc: "preferred client secret must be 32-256 printable ASCII characters"},
		{name: "32-byte secret for client_secret_jwt", md: store.ClientMetadata{RedirectURIs: md.RedirectURIs, TokenEndpointAuthMethod: "client_secret_jwt"},
			opts: CreateOptions{PreferredSecret: long}},
		{name: "secret for public client", md: store.ClientMetadata{RedirectURIs: md.RedirectURIs, TokenEndpointAuthMethod: "none"},
			opts: CreateOptions{PreferredSecret: long}, wantDesc: "token_endpoint_auth_method none takes no client secret"},
		{name: "metadata validated", md: store.ClientMetadata{RedirectURIs: []string{"http://rp.example.com/cb"}}, wantDesc: "redirect_uris[0] must use https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			reg, err := f.svc.Create(t.Context(), tt.md, tt.opts)
			if tt.wantDesc != "" {
				oe := oauth.AsError(err)
				if oe == nil || oe.Status != 400 || oe.Description != tt.wantDesc {
					t.Fatalf("Create error = %v, want %q", err, tt.wantDesc)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.opts.PreferredID != "" && reg.ClientID != tt.opts.PreferredID {
				t.Errorf("client_id = %q, want %q", reg.ClientID, tt.opts.PreferredID)
			}
			if tt.opts.PreferredSecret != "" {
				if reg.ClientSecret != tt.opts.PreferredSecret || !secret.MatchesHash(tt.opts.PreferredSecret, f.store.clients[reg.ClientID].SecretHash) {
					t.Errorf("preferred secret not issued and stored as hash")
				}
			}
		})
	}

	t.Run("taken id", func(t *testing.T) {
		f := newFixture(t, nil)
		opts := CreateOptions{PreferredID: "demo"}
		if _, err := f.svc.Create(t.Context(), md, opts); err != nil {
			t.Fatal(err)
		}
		_, err := f.svc.Create(t.Context(), md, opts)
		if oe := wantOAuth(t, err, oauth.ErrCodeInvalidClientMetadata, 400); oe.Description != "client_id taken" {
			t.Errorf("description %q", oe.Description)
		}
	})

	t.Run("caller's metadata untouched", func(t *testing.T) {
		f := newFixture(t, nil)
		in := store.ClientMetadata{RedirectURIs: []string{"https://rp.example.com/cb"}, ResponseTypes: []string{"code"}}
		if _, err := f.svc.Create(t.Context(), in, CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if in.GrantTypes != nil || in.ApplicationType != "" {
			t.Errorf("Create modified its argument: %+v", in)
		}
	})
}

// TestChangedHook checks that every local write is announced.
func TestChangedHook(t *testing.T) {
	f := newFixture(t, nil)
	var got []string
	f.svc.Changed = func(_ context.Context, id string) { got = append(got, id) }
	reg := mustRegister(t, f, webBody)
	if _, err := updateJSON(t.Context(), f.svc, reg.ClientID, AsOperator(), `{"client_id":"`+reg.ClientID+`","redirect_uris":["https://rp.example.com/cb"]}`); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Delete(t.Context(), reg.ClientID, AsOperator()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{reg.ClientID, reg.ClientID, reg.ClientID}, got); diff != "" {
		t.Errorf("Changed calls (-want +got):\n%s", diff)
	}
}
