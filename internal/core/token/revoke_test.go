package token

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// withJournal gives e's service a revocation journal and the long-lived
// authorisations, as the server does.
func (e *env) withJournal() *env {
	e.t.Helper()
	ms := e.st
	e.svc.Authorizations = ms.Authorizations
	e.svc.Journal = &Journal{Store: ms.Revocations, Now: func() time.Time { return e.now }}
	if err := e.svc.Journal.Refresh(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
	return e
}

// otherNode is a second node on e's stores, with its own journal copy.
func (e *env) otherNode() *Service {
	e.t.Helper()
	b := *e.svc
	b.Journal = &Journal{Store: e.st.Revocations, Now: func() time.Time { return e.now }}
	if err := b.Journal.Refresh(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
	return &b
}

func TestRevokeBySubject(t *testing.T) {
	e := newEnv(t).withJournal()
	ctx := t.Context()
	jwt := e.redeem(codeOpts{})
	ident := e.redeem(codeOpts{tokens: &store.TokenSpec{AccessTokenEncoding: oauth.TokenEncodingIdentifier, IssueRefreshToken: true,
		AccessTokenLifetime: time.Hour}})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.st.Authorizations.Put(ctx, &store.Authorization{Subject: "alice", ClientID: "basic", CreatedAt: e.now, UpdatedAt: e.now}))
	must(e.st.Authorizations.Put(ctx, &store.Authorization{Subject: "bob", ClientID: "basic", CreatedAt: e.now, UpdatedAt: e.now}))

	res, err := e.svc.Revoke(ctx, RevocationRequest{Subject: "alice"})
	must(err)
	if res.Grants != 2 || len(res.Authorizations) != 1 || res.Authorizations[0].Subject != "alice" {
		t.Fatalf("result %+v", res)
	}
	for name, at := range map[string]string{"self-contained": jwt.AccessToken, "identifier": ident.AccessToken} {
		_, err := e.svc.UserInfo(ctx, at)
		wantOAuthError(t, err, oauth.ErrCodeInvalidToken, 401)
		if in, err := e.svc.Inspect(ctx, at); err != nil || in != nil {
			t.Errorf("%s: inspect after revocation: %+v %v", name, in, err)
		}
	}
	for _, rt := range []string{jwt.RefreshToken, ident.RefreshToken} {
		_, err := e.svc.Token(ctx, basic("basic", basicSecret, form("grant_type", "refresh_token", "refresh_token", rt)))
		wantOAuthError(t, err, oauth.ErrCodeInvalidGrant, 400)
	}
	if _, err := e.st.Authorizations.Get(ctx, "bob", "basic"); err != nil {
		t.Errorf("bob's authorisation: %v", err)
	}
	// One journal entry, kept as long as the longest access token it can
	// match (the identifier grant's hour), then purged.
	live, err := e.st.Revocations.ListLive(ctx, e.now)
	must(err)
	if len(live) != 1 || live[0].Kind != store.RevokeSubject || live[0].Subject != "alice" || !live[0].ExpiresAt.Equal(e.now.Add(time.Hour)) {
		t.Fatalf("journal %+v", live)
	}
	n, err := e.st.Purger.Purge(ctx, e.now.Add(time.Hour), 100)
	must(err)
	if live, _ = e.st.Revocations.ListLive(ctx, e.now); n != 1 || len(live) != 0 {
		t.Errorf("purge removed %d, %d entries left", n, len(live))
	}
}

// The journal itself refuses a self-contained token, on another node, even
// while its grant still exists (a revocation whose grant deletion has not
// happened, or one by actor or token), once that node has read it; and it
// costs no store round trip: before the refresh the node still accepts.
func TestJournalOnAnotherNode(t *testing.T) {
	e := newEnv(t).withJournal()
	ctx := t.Context()
	b := e.otherNode()
	resp := e.redeem(codeOpts{})
	if _, err := b.UserInfo(ctx, resp.AccessToken); err != nil {
		t.Fatal(err)
	}
	// Written by "another node" straight to the store, half a second into
	// the token's second of issue: same second counts as revoked.
	entry := &store.Revocation{ID: "r1", Kind: store.RevokeAuthorization, Subject: "alice", ClientID: "basic",
		RevokedAt: e.now.Add(500 * time.Millisecond), ExpiresAt: e.now.Add(time.Hour)}
	if err := e.st.Revocations.Add(ctx, entry); err != nil {
		t.Fatal(err)
	}
	if _, err := b.UserInfo(ctx, resp.AccessToken); err != nil {
		t.Fatalf("before the node read the journal: %v", err)
	}
	changes := make(chan string)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan struct{})
	go func() { b.Journal.Run(runCtx, time.Hour, changes); close(done) }()
	changes <- "revoked"
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := b.UserInfo(ctx, resp.AccessToken); err != nil {
			wantOAuthError(t, err, oauth.ErrCodeInvalidToken, 401)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the change notice did not reach the journal copy")
		}
		time.Sleep(time.Millisecond)
	}
	stop()
	<-done
	if in, err := b.Inspect(ctx, resp.AccessToken); err != nil || in != nil {
		t.Errorf("inspect: %+v %v", in, err)
	}
	// A token issued in a later second is not touched by the entry.
	e.now = e.now.Add(time.Second)
	later := e.redeem(codeOpts{})
	if _, err := b.UserInfo(ctx, later.AccessToken); err != nil {
		t.Errorf("token issued after the revocation: %v", err)
	}
	// Another subject of the same client is not touched either.
	if b.Journal.revoked(tokenFacts{subject: "bob", clientID: "basic", issuedAt: e.now.Unix() - 5}, e.now) {
		t.Error("bob's token matched alice's authorisation entry")
	}
	// Once the entry has expired, it matches nothing.
	if b.Journal.revoked(tokenFacts{subject: "alice", clientID: "basic", issuedAt: e.now.Unix() - 1}, e.now.Add(time.Hour)) {
		t.Error("an expired entry still matches")
	}
}

func TestRevokeParallel(t *testing.T) {
	e := newEnv(t).withJournal()
	ctx := t.Context()
	resp := e.redeem(codeOpts{})
	if err := e.st.Authorizations.Put(ctx, &store.Authorization{Subject: "alice", ClientID: "basic", CreatedAt: e.now, UpdatedAt: e.now}); err != nil {
		t.Fatal(err)
	}
	const n = 16
	results := make([]*RevocationResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = e.svc.Revoke(ctx, RevocationRequest{Subject: "alice", ClientID: "basic"})
		})
	}
	wg.Wait()
	grants, auths := 0, 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("revocation %d: %v", i, errs[i])
		}
		grants += results[i].Grants
		auths += len(results[i].Authorizations)
	}
	if grants != 1 || auths != 1 {
		t.Errorf("%d grants and %d authorisations reported removed, want 1 and 1", grants, auths)
	}
	if _, err := e.svc.UserInfo(ctx, resp.AccessToken); err == nil {
		t.Error("access token survived")
	}
}

func TestRevokeBadInput(t *testing.T) {
	e := newEnv(t).withJournal()
	for name, r := range map[string]RevocationRequest{
		"empty":            {},
		"token and more":   {Token: "x", Subject: "alice"},
		"actor and client": {Actor: "admin", ClientID: "basic"},
		"NUL in subject":   {Subject: "al\x00ice"},
		"not UTF-8":        {ClientID: "\xff"},
		"huge":             {Subject: string(make([]byte, 2000))},
	} {
		if _, err := e.svc.Revoke(t.Context(), r); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			wantOAuthError(t, err, oauth.ErrCodeInvalidRequest, 400)
		}
	}
	// An unknown token is not an error.
	if _, err := e.svc.Revoke(t.Context(), RevocationRequest{Token: "never-issued"}); err != nil {
		t.Errorf("unknown token: %v", err)
	}
}

// RFC 7009 for a long-lived authorisation's refresh token: the grant and
// the remembered consent go; another client's attempt changes nothing.
func TestRevokeTokenLongLived(t *testing.T) {
	e := newEnv(t).withJournal()
	ctx := t.Context()
	resp := e.redeem(codeOpts{longLived: true})
	if err := e.st.Authorizations.Put(ctx, &store.Authorization{Subject: "alice", ClientID: "basic", CreatedAt: e.now, UpdatedAt: e.now}); err != nil {
		t.Fatal(err)
	}
	other, err := e.st.Clients.Get(ctx, "post")
	if err != nil {
		t.Fatal(err)
	}
	owner, err := e.st.Clients.Get(ctx, "basic")
	if err != nil {
		t.Fatal(err)
	}
	err = e.svc.RevokeToken(ctx, other, resp.RefreshToken, "")
	wantOAuthError(t, err, oauth.ErrCodeUnauthorizedClient, 400)
	if _, err := e.svc.UserInfo(ctx, resp.AccessToken); err != nil {
		t.Fatalf("after another client's attempt: %v", err)
	}
	if err := e.svc.RevokeToken(ctx, owner, resp.RefreshToken, oauth.TokenTypeHintRefreshToken); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Authorizations.Get(ctx, "alice", "basic"); err == nil {
		t.Error("the long-lived authorisation survived the revocation of its refresh token")
	}
	if _, err := e.svc.UserInfo(ctx, resp.AccessToken); err == nil {
		t.Error("the grant's access token survived")
	}
}
