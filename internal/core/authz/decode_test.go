package authz

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/oauth"
)

func TestDecodeSubmission(t *testing.T) {
	yes := true
	for _, tc := range []struct {
		name    string
		body    string
		auth    *SubjectAuth
		consent *Consent
		bad     bool
	}{
		{"auth", `{"sub":"alice","acr":"1","amr":["pwd"],"auth_time":5,"max_life":-1,"unknown":1}`,
			&SubjectAuth{Sub: "alice", ACR: "1", AMR: []string{"pwd"}, AuthTime: ptr(int64(5)), MaxLife: ptr(int64(-1))}, nil, false},
		{"consent", `{"scope":["openid"],"long_lived":true,"refresh_token":{"issue":true}}`,
			nil, &Consent{Scope: []string{"openid"}, LongLived: true, RefreshToken: &RefreshTokenSpec{Issue: &yes}}, false},
		{"empty object is a consent", `{}`, nil, &Consent{}, false},
		{"not JSON", `{`, nil, nil, true},
		{"array", `[]`, nil, nil, true},
		{"null", `null`, nil, nil, true},
		{"trailing data", `{} {}`, nil, nil, true},
		{"sub not a string", `{"sub":1}`, nil, nil, true},
		{"sub null", `{"sub":null}`, nil, nil, true},
		{"negative auth_time", `{"sub":"a","auth_time":-1}`, nil, nil, true},
		{"fractional lifetime", `{"sub":"a","max_life":1.5}`, nil, nil, true},
		{"scope not a list", `{"scope":"openid"}`, nil, nil, true},
		{"bad encoding", `{"access_token":{"encoding":"JWT"}}`, nil, nil, true},
		{"negative access token lifetime", `{"access_token":{"lifetime":-5}}`, nil, nil, true},
		{"negative refresh lifetime", `{"refresh_token":{"lifetime":-5}}`, nil, nil, true},
		{"negative refresh idle", `{"refresh_token":{"max_idle":-5}}`, nil, nil, true},
		{"negative id token lifetime", `{"id_token":{"lifetime":-5}}`, nil, nil, true},
		{"illegal scope value", `{"scope":["a b"]}`, nil, nil, true},
		{"too large", `{"data":"` + strings.Repeat("x", maxSubmissionBytes) + `"}`, nil, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, c, err := DecodeSubmission([]byte(tc.body))
			if tc.bad {
				if oe := oauth.AsError(err); oe == nil || oe.Code != oauth.ErrCodeInvalidRequest || a != nil || c != nil {
					t.Errorf("got %v %v %v, want invalid_request", a, c, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.auth, a); d != "" {
				t.Errorf("auth (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.consent, c); d != "" {
				t.Errorf("consent (-want +got):\n%s", d)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func FuzzDecodeSubmission(f *testing.F) {
	for _, s := range []string{authAlice, consentAll_, `{}`, `{"sub":1}`, `{"access_token":{"lifetime":1e99}}`, `[`, `{"scope":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		a, c, err := DecodeSubmission(body)
		switch {
		case err != nil:
			if oe := oauth.AsError(err); oe == nil || oe.Code != oauth.ErrCodeInvalidRequest {
				t.Fatalf("error %v is not invalid_request", err)
			}
			if a != nil || c != nil {
				t.Fatal("results with an error")
			}
		case (a == nil) == (c == nil):
			t.Fatalf("want exactly one result, got %v %v", a, c)
		case a != nil && a.Sub == "":
			t.Fatal("subject authentication with empty sub")
		default:
			// Replay recognises a decision by its decoded value: the hash
			// must exist for whatever decodes, and survive a re-encoding.
			kind, v := "auth", any(a)
			if c != nil {
				kind, v = "consent", c
			}
			h, err := submissionHash(kind, v)
			if err != nil {
				t.Fatalf("decoded value has no hash: %v", err)
			}
			again, _ := json.Marshal(v)
			a2, c2, err := DecodeSubmission(again)
			if err != nil {
				t.Fatalf("re-encoded %s does not decode: %v", again, err)
			}
			v2 := any(a2)
			if c2 != nil {
				v2 = c2
			}
			if h2, _ := submissionHash(kind, v2); h2 != h {
				t.Fatalf("hash changed over a re-encoding: %s", again)
			}
		}
	})
}

// FuzzParseAuthorizationRequest drives arbitrary queries through the parser
// and the whole Start pipeline: never a panic or an internal error, always a
// well-formed message, and never a redirect to an unregistered URI.
func FuzzParseAuthorizationRequest(f *testing.F) {
	for _, s := range []string{query(), query("prompt", "none"), query("response_mode", "form_post", "max_age", "x"),
		"client_id=web&%zz", "?client_id=web;a", query() + "&client_id=web", query("claims", `{"id_token":{"acr":null}}`),
		query("request_uri", parRequestURIPrefix+"x"), query("redirect_uri", ""),
		implicitQuery("id_token token"), implicitQuery("code id_token", "response_mode", "query"), implicitQuery("id_token  token")} {
		f.Add(s)
	}
	e := newEnv(f, Config{})
	registered := map[string]bool{}
	for _, c := range testClients() {
		for _, u := range c.Metadata.RedirectURIs {
			registered[u] = true
		}
	}
	f.Fuzz(func(t *testing.T, q string) {
		_ = ParseAuthorizationRequest(q)
		m, err := e.svc.Start(t.Context(), StartRequest{Query: q})
		if err != nil {
			t.Fatalf("Start(%q) internal error: %v", q, err)
		}
		switch m.Type {
		case TypeAuth, TypeConsent:
			if m.SID == "" {
				t.Fatal("prompt without sid")
			}
		case TypeError:
			if m.Error == "" {
				t.Fatal("error message without code")
			}
		case TypeResponse:
			base, _ := params(t, m)
			if !registered[base] && !strings.HasPrefix(base, "http://127.0.0.1") {
				t.Fatalf("redirect to unregistered %q", base)
			}
		default:
			t.Fatalf("unknown message type %q", m.Type)
		}
	})
}
