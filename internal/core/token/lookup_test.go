package token

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

func wantNotFound(t *testing.T, what string, g *store.Grant, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) || oauth.AsError(err) != nil || g != nil {
		t.Errorf("%s: grant %v, error %v; want a plain store.ErrNotFound", what, g, err)
	}
}

// TestTokenGrants: the grant behind an access or refresh token, checked as
// UserInfo and the token endpoint check them.
func TestTokenGrants(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	spec := store.TokenSpec{IssueRefreshToken: true, RotateRefreshToken: true, RefreshTokenMaxIdle: time.Hour}
	jwt := e.redeem(codeOpts{tokens: &spec})
	idSpec := spec
	idSpec.AccessTokenEncoding = oauth.TokenEncodingIdentifier
	opaque := e.redeem(codeOpts{tokens: &idSpec})
	if strings.Count(opaque.AccessToken, ".") == 2 {
		t.Fatal("want an identifier access token")
	}

	for name, v := range map[string]string{"JWT": jwt.AccessToken, "identifier": opaque.AccessToken} {
		g, err := e.svc.AccessTokenGrant(ctx, v)
		if err != nil || g.Subject != "alice" || g.ClientID != "basic" {
			t.Errorf("%s access token: %+v, %v", name, g, err)
		}
	}
	g, err := e.svc.RefreshTokenGrant(ctx, jwt.RefreshToken)
	if err != nil || g.Subject != "alice" {
		t.Fatalf("refresh token: %+v, %v", g, err)
	}

	for name, v := range map[string]string{
		"garbage": "nonsense", "empty": "", "huge": strings.Repeat("a", 100_000),
		"refresh as access": jwt.RefreshToken, "forged JWT": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.",
	} {
		g, err := e.svc.AccessTokenGrant(ctx, v)
		wantNotFound(t, "access token "+name, g, err)
	}
	g, err = e.svc.RefreshTokenGrant(ctx, jwt.AccessToken)
	wantNotFound(t, "access token as refresh token", g, err)

	// A rotated refresh token is not usable; its successor is.
	next, err := e.svc.Token(ctx, refreshForm(jwt.RefreshToken))
	if err != nil {
		t.Fatal(err)
	}
	g, err = e.svc.RefreshTokenGrant(ctx, jwt.RefreshToken)
	wantNotFound(t, "rotated refresh token", g, err)
	if _, err := e.svc.RefreshTokenGrant(ctx, next.RefreshToken); err != nil {
		t.Errorf("successor: %v", err)
	}

	// Past the idle limit the refresh token is dead; past its lifetime so
	// is the access token.
	e.now = e.now.Add(2 * time.Hour)
	g, err = e.svc.RefreshTokenGrant(ctx, next.RefreshToken)
	wantNotFound(t, "idle refresh token", g, err)
	g, err = e.svc.AccessTokenGrant(ctx, opaque.AccessToken)
	wantNotFound(t, "expired access token", g, err)

	// A deleted grant takes its tokens with it.
	e.now = e.now.Add(-2 * time.Hour)
	og, err := e.svc.AccessTokenGrant(ctx, opaque.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.Grants.Delete(ctx, og.ID); err != nil {
		t.Fatal(err)
	}
	g, err = e.svc.AccessTokenGrant(ctx, opaque.AccessToken)
	wantNotFound(t, "access token of a deleted grant", g, err)
	g, err = e.svc.RefreshTokenGrant(ctx, opaque.RefreshToken)
	wantNotFound(t, "refresh token of a deleted grant", g, err)
}
