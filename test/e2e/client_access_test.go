package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// TestClientConfigurationErrorOrder: the HTTP layer decodes an RFC 7592
// update body before the core sees it, yet a caller with a registration
// access token that does not open the client gets invalid_token (401)
// whatever the body, so it learns nothing from the body's fate; the master
// token is judged on the body first and on the client's existence after
// (404).
func TestClientConfigurationErrorOrder(t *testing.T) {
	e := newEnv(t)
	status, reg := e.registerClient(map[string]any{"redirect_uris": []string{"https://app.example/cb"}})
	if status != http.StatusCreated {
		t.Fatalf("register: %d %v", status, reg)
	}
	id := reg["client_id"].(string)
	token := reg["registration_access_token"].(string)
	put := func(clientID, tok, body string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPut, e.issuer+"/clients/"+clientID, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		return e.doJSON(req)
	}
	const malformed = `{"client_id":`
	const wrongType = `{"client_id":"x","redirect_uris":"https://app.example/cb"}`
	valid := func(clientID string) string {
		return `{"client_id":"` + clientID + `","redirect_uris":["https://app.example/cb"]}`
	}
	for _, tc := range []struct {
		name, id, tok, body string
		status              int
		code                string
	}{
		{"wrong token, malformed body", id, "wrong-token", malformed, 401, "invalid_token"},
		{"wrong token, member of the wrong type", id, "wrong-token", wrongType, 401, "invalid_token"},
		{"unknown client, malformed body", "no-such-client", token, malformed, 401, "invalid_token"},
		{"unknown client, valid body", "no-such-client", token, valid("no-such-client"), 401, "invalid_token"},
		{"right token, malformed body", id, token, malformed, 400, "invalid_client_metadata"},
		{"master token, malformed body", id, e.apiToken, malformed, 400, "invalid_client_metadata"},
		{"master token, unknown client, malformed body", "no-such-client", e.apiToken, malformed, 400, "invalid_client_metadata"},
		{"master token, unknown client, valid body", "no-such-client", e.apiToken, valid("no-such-client"), 404, "invalid_client"},
	} {
		if status, body := put(tc.id, tc.tok, tc.body); status != tc.status || body["error"] != tc.code {
			t.Errorf("%s: %d %v, want %d %s", tc.name, status, body, tc.status, tc.code)
		}
	}
	// The refused requests changed nothing: the client's token still works
	// and was not rotated.
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/clients/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if status, body := e.doJSON(req); status != 200 || body["client_id"] != id {
		t.Errorf("read with the original token after refused updates: %d %v", status, body)
	}
}
