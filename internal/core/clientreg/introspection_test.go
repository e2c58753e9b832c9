package clientreg

import (
	"testing"

	"github.com/keyward/keyward/oauth"
)

// introspection_allowed lets a client read every other client's tokens, so
// only the operator may grant it: never an open registration, never the
// client itself through its registration access token.
func TestIntrospectionAllowedOnlyFromTheOperator(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	const body = `{"redirect_uris":["https://rs.example.com/cb"],"introspection_allowed":true}`

	_, err := registerJSON(ctx, f.svc, body)
	wantOAuth(t, err, oauth.ErrCodeInvalidClientMetadata, 400)

	req, oerr := DecodeRequest([]byte(body))
	if oerr != nil {
		t.Fatal(oerr)
	}
	req.Operator = true
	rs, err := f.svc.Register(ctx, req)
	if err != nil {
		t.Fatalf("operator registration: %v", err)
	}
	if !rs.Metadata.IntrospectionAllowed {
		t.Fatal("introspection_allowed not kept")
	}

	// A client registered without it cannot grant it to itself...
	rp := mustRegister(t, f, webBody)
	_, err = updateJSON(ctx, f.svc, rp.ClientID, WithRegistrationToken(rp.RegistrationAccessToken),
		`{"client_id":"`+rp.ClientID+`","redirect_uris":["https://rp.example.com/cb"],"introspection_allowed":true}`)
	wantOAuth(t, err, oauth.ErrCodeInvalidClientMetadata, 400)
	// ...but the operator can.
	up, err := updateJSON(ctx, f.svc, rp.ClientID, AsOperator(),
		`{"client_id":"`+rp.ClientID+`","redirect_uris":["https://rp.example.com/cb"],"introspection_allowed":true}`)
	if err != nil || !up.Metadata.IntrospectionAllowed {
		t.Fatalf("operator update: %v", err)
	}

	// The wrong type is named.
	_, err = registerJSON(ctx, f.svc, `{"redirect_uris":["https://rs.example.com/cb"],"introspection_allowed":"yes"}`)
	if oe := wantOAuth(t, err, oauth.ErrCodeInvalidClientMetadata, 400); oe.Description != "invalid introspection_allowed: expected a boolean" {
		t.Errorf("description %q", oe.Description)
	}
}
