package clientreg

import (
	"encoding/json"
	"testing"

	"github.com/keyward/keyward/oauth"
)

// FuzzRegister feeds arbitrary bodies to DecodeRequest and what it decodes
// to Register and to Update with operator access: none may panic, every
// refusal is an *oauth.Error with status 400 or 401, and every success
// marshals to a JSON object.
func FuzzRegister(f *testing.F) {
	for _, seed := range []string{
		webBody,
		`{}`, `[]`, `null`, `""`, `{"redirect_uris":[1]}`, `{"redirect_uris":["https://a.example/cb#"]}`,
		`{"redirect_uris":["https://rp.example.com/cb"],"response_types":["code id_token","id_token token"],"grant_types":["implicit","authorization_code","refresh_token"]}`,
		`{"application_type":"native","redirect_uris":["com.example.app:/cb","http://[::1]:0/cb"],"token_endpoint_auth_method":"none"}`,
		`{"redirect_uris":["https://rp.example.com/cb"],"token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}]}}`,
		`{"redirect_uris":["https://rp.example.com/cb"],"token_endpoint_auth_method":"client_secret_jwt","token_endpoint_auth_signing_alg":"HS256"}`,
		`{"redirect_uris":["https://rp.example.com/cb"],"scope":"openid email","default_max_age":0,"data":{"a":1}}`,
		`{"client_id":"fuzz-client","redirect_uris":["https://rp.example.com/cb"],"refresh_client_secret":true}`,
		`{"grant_types":["client_credentials"],"jwks":null}`,
		"{\"redirect_uris\":[\"https://\u00e9.example/\\u0000\"]}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fx := newFixture(t, func(c *Config) { c.DevLoopbackHTTP = len(body)%2 == 0 })
		if _, err := fx.svc.Create(t.Context(), testMetadata(), CreateOptions{PreferredID: "fuzz-client"}); err != nil {
			t.Fatal(err)
		}
		req, oerr := DecodeRequest(body)
		if oerr != nil {
			check(t, "DecodeRequest", nil, oerr)
			return
		}
		reg, err := fx.svc.Register(t.Context(), req)
		check(t, "Register", reg, err)
		reg, err = fx.svc.Update(t.Context(), "fuzz-client", AsOperator(), req)
		check(t, "Update", reg, err)
	})
}

func check(t *testing.T, op string, reg *Registration, err error) {
	t.Helper()
	if err != nil {
		oe := oauth.AsError(err)
		if oe == nil || (oe.Status != 400 && oe.Status != 401) {
			t.Fatalf("%s: error %v is not an *oauth.Error with status 400/401", op, err)
		}
		if !oauth.ValidErrorCode(oe.Description) {
			t.Fatalf("%s: description %q has forbidden characters", op, oe.Description)
		}
		return
	}
	raw, merr := json.Marshal(reg)
	var m map[string]any
	if merr != nil || json.Unmarshal(raw, &m) != nil || m["client_id"] == "" {
		t.Fatalf("%s: response does not marshal to an object with client_id: %s, %v", op, raw, merr)
	}
}
