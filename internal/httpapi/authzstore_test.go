package httpapi

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// TestAuthzStoreUnauthorized: a missing and a wrong token get the same
// 401 body, so a caller cannot tell them apart.
func TestAuthzStoreUnauthorized(t *testing.T) {
	e := newEnv(t, envOptions{})
	path := "/authz-store/rest/v3/subjects"
	missing := e.do(e.public, request{path: path})
	wrong := e.do(e.public, request{path: path, header: bearer("wrong-token-wrong-token-wrong-token")})
	for _, r := range []*response{missing, wrong} {
		if r.status != http.StatusUnauthorized || r.body["error"] != "invalid_token" {
			t.Fatalf("got %d %s, want 401 invalid_token", r.status, r.raw)
		}
	}
	if !bytes.Equal(missing.raw, wrong.raw) {
		t.Errorf("bodies differ: missing %s, wrong %s", missing.raw, wrong.raw)
	}
}

// TestAuthzStoreBadInput: malformed JSON, unknown or mistyped members,
// bad parameters and oversized bodies are 400 (or 413) with a description
// naming the problem, never a 5xx.
func TestAuthzStoreBadInput(t *testing.T) {
	e := newEnv(t, envOptions{})
	id, _ := e.registerClient()
	const base = "/authz-store/rest/v3"
	authz := func(members string) string {
		return `{"sub":"alice","cid":"` + id + `","scp":["openid"]` + members + `}`
	}
	for _, tc := range []struct {
		name     string
		req      request
		status   int
		wantDesc string
	}{
		{"not JSON", request{method: "POST", path: base + "/authorizations", header: jsonHeaders(apiToken), body: `{"sub":`}, 400, "JSON object"},
		{"JSON array", request{method: "POST", path: base + "/authorizations", header: jsonHeaders(apiToken), body: `[1]`}, 400, "JSON object"},
		{"two objects", request{method: "POST", path: base + "/authorizations", header: jsonHeaders(apiToken), body: authz("") + authz("")}, 400, "one JSON object"},
		{"form body", request{method: "POST", path: base + "/authorizations", header: formBearer(apiToken), body: "sub=alice"}, 415, "application/json"},
		{"unknown member", request{method: "POST", path: base + "/authorizations", header: jsonHeaders(apiToken), body: authz(`,"colour":"red"`)}, 400, "colour: unknown member"},
		{"actor", request{method: "POST", path: base + "/authorizations", header: jsonHeaders(apiToken), body: authz(`,"act":{"sub":"bob"}`)}, 400, "act:"},
		{"scp not array", request{method: "POST", path: base + "/authorizations", header: jsonHeaders(apiToken), body: `{"sub":"alice","cid":"` + id + `","scp":"openid"}`}, 400, "scp: must be an array of strings"},
		{"atl string", request{method: "POST", path: base + "/authorizations", header: jsonHeaders(apiToken), body: authz(`,"atl":"600"`)}, 400, "atl: must be an integer"},
		{"atl negative", request{method: "POST", path: base + "/authorizations", header: jsonHeaders(apiToken), body: authz(`,"atl":-1`)}, 400, "atl:"},
		{"rtl huge", request{method: "POST", path: base + "/authorizations", header: jsonHeaders(apiToken), body: authz(`,"rtl":9223372036854775807`)}, 400, "rtl:"},
		{"atl overflow", request{method: "POST", path: base + "/authorizations", header: jsonHeaders(apiToken), body: authz(`,"atl":1e30`)}, 400, "atl: must be an integer"},
		{"irt string", request{method: "POST", path: base + "/authorizations", header: jsonHeaders(apiToken), body: authz(`,"irt":"yes"`)}, 400, "irt: must be a boolean"},
		{"uip array", request{method: "POST", path: base + "/authorizations", header: jsonHeaders(apiToken), body: authz(`,"uip":[]`)}, 400, "uip: must be a JSON object"},
		{"bad encoding", request{method: "POST", path: base + "/authorizations", header: jsonHeaders(apiToken), body: authz(`,"ate":"JWT"`)}, 400, "ate:"},
		{"pairwise without audience", request{method: "POST", path: base + "/authorizations", header: jsonHeaders(apiToken), body: authz(`,"ats":"PAIRWISE"`)}, 400, "ats:"},
		{"bad subject type", request{method: "POST", path: base + "/authorizations", header: jsonHeaders(apiToken), body: authz(`,"ats":"SOMETIMES"`)}, 400, "ats:"},
		{"transient", request{method: "POST", path: base + "/authorizations", header: jsonHeaders(apiToken), body: authz(`,"lng":false`)}, 400, "lng:"},
		{"foreign issuer", request{method: "POST", path: base + "/authorizations", header: jsonHeaders(apiToken), body: authz(`,"iss":"https://other.example"`)}, 400, "iss:"},
		{"no sub", request{method: "POST", path: base + "/authorizations", header: jsonHeaders(apiToken), body: `{"cid":"` + id + `","scp":["openid"]}`}, 400, "sub: missing"},
		{"control char sub", request{method: "POST", path: base + "/authorizations", header: jsonHeaders(apiToken), body: `{"sub":"a\u0000b","cid":"` + id + `","scp":["openid"]}`}, 400, "sub:"},
		{"no scope", request{method: "POST", path: base + "/authorizations", header: jsonHeaders(apiToken), body: `{"sub":"alice","cid":"` + id + `","scp":[]}`}, 400, "scp:"},
		{"bad scope token", request{method: "POST", path: base + "/authorizations", header: jsonHeaders(apiToken), body: `{"sub":"alice","cid":"` + id + `","scp":["a b"]}`}, 400, "scp:"},
		{"unknown client", request{method: "POST", path: base + "/authorizations", header: jsonHeaders(apiToken), body: `{"sub":"alice","cid":"ghost","scp":["openid"]}`}, 400, "cid: no registered client"},
		{"return=tokens", request{method: "POST", path: base + "/authorizations?return=tokens", header: jsonHeaders(apiToken), body: authz("")}, 400, "issues no code or tokens"},
		{"oversized", request{method: "POST", path: base + "/authorizations", header: jsonHeaders(apiToken), body: authz(`,"dat":{"x":"` + strings.Repeat("a", 60_000) + `"}`)}, 413, "too large"},
		{"update unknown", request{method: "PUT", path: base + "/authorizations", header: jsonHeaders(apiToken), body: authz("")}, 404, ""},
		{"query without keys", request{path: base + "/authorizations", header: bearer(apiToken)}, 400, "subject or client_id is required"},
		{"query unknown param", request{path: base + "/authorizations?subject=a&user=b", header: bearer(apiToken)}, 400, `unknown parameter "user"`},
		{"query repeated", request{path: base + "/authorizations?subject=a&subject=b", header: bearer(apiToken)}, 400, `repeated parameter "subject"`},
		{"query malformed", request{path: base + "/authorizations?subject=%zz", header: bearer(apiToken)}, 400, "malformed query"},
		{"query both unknown", request{path: base + "/authorizations?subject=a&client_id=b", header: bearer(apiToken)}, 404, ""},
		{"delete one key", request{method: "DELETE", path: base + "/authorizations?subject=a", header: bearer(apiToken)}, 400, "both required"},
		{"page limit 0", request{path: base + "/subjects?limit=0", header: bearer(apiToken)}, 400, "limit:"},
		{"page limit huge", request{path: base + "/clients?limit=1001", header: bearer(apiToken)}, 400, "limit:"},
		{"page limit text", request{path: base + "/clients?limit=ten", header: bearer(apiToken)}, 400, "limit:"},
		{"page bad after", request{path: base + "/subjects?after=%00", header: bearer(apiToken)}, 400, "after:"},
		{"page unknown param", request{path: base + "/subjects?offset=3", header: bearer(apiToken)}, 400, `unknown parameter "offset"`},
		{"revoke nothing", request{method: "POST", path: base + "/revocation", header: formBearer(apiToken), body: ""}, 400, "is required"},
		{"revoke JSON", request{method: "POST", path: base + "/revocation", header: jsonHeaders(apiToken), body: `{"subject":"a"}`}, 400, "x-www-form-urlencoded"},
		{"revoke unknown param", request{method: "POST", path: base + "/revocation", header: formBearer(apiToken), body: "user=a"}, 400, `unknown parameter "user"`},
		{"revoke repeated", request{method: "POST", path: base + "/revocation", header: formBearer(apiToken), body: "subject=a&subject=b"}, 400, "repeated"},
		{"revoke token and subject", request{method: "POST", path: base + "/revocation", header: formBearer(apiToken), body: "subject=a&access_token=x"}, 400, "cannot be combined"},
		{"revoke two tokens", request{method: "POST", path: base + "/revocation", header: formBearer(apiToken), body: "refresh_token=y&access_token=x"}, 400, "mutually exclusive"},
		{"revoke future timestamp", request{method: "POST", path: base + "/revocation", header: formBearer(apiToken), body: "subject=a&timestamp=99999999999"}, 400, "timestamp:"},
		{"revoke bad timestamp", request{method: "POST", path: base + "/revocation", header: formBearer(apiToken), body: "subject=a&timestamp=yesterday"}, 400, "timestamp:"},
		{"revoke bad quiet", request{method: "POST", path: base + "/revocation?quiet=maybe", header: formBearer(apiToken), body: "subject=a"}, 400, "quiet:"},
		{"revoke CIBA", request{method: "POST", path: base + "/revocation", header: formBearer(apiToken), body: "auth_req_id=x"}, 400, "CIBA"},
		{"revoke oversized", request{method: "POST", path: base + "/revocation", header: formBearer(apiToken), body: "subject=" + strings.Repeat("a", 60_000)}, 413, "too large"},
		{"inspect nothing", request{method: "POST", path: base + "/inspection", header: formBearer(apiToken), body: ""}, 400, "is required"},
		{"inspect empty token", request{method: "POST", path: base + "/inspection", header: formBearer(apiToken), body: "access_token="}, 400, "empty"},
		{"inspect CIBA", request{method: "POST", path: base + "/inspection", header: formBearer(apiToken), body: "auth_req_id=x"}, 400, "CIBA"},
		{"inspect subject", request{method: "POST", path: base + "/inspection", header: formBearer(apiToken), body: "subject=a"}, 400, `unknown parameter "subject"`},
		{"inspect forged JWT", request{method: "POST", path: base + "/inspection", header: formBearer(apiToken), body: "access_token=eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0."}, 404, ""},
		{"inspect long token", request{method: "POST", path: base + "/inspection", header: formBearer(apiToken), body: "refresh_token=" + strings.Repeat("r", 20_000)}, 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(e.public, tc.req)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tc.status, r.raw)
			}
			want := "invalid_request"
			if tc.status == http.StatusNotFound {
				want = "not_found"
			}
			if r.body["error"] != want {
				t.Errorf("error %v, want %s; body %s", r.body["error"], want, r.raw)
			}
			if desc, _ := r.body["error_description"].(string); !strings.Contains(desc, tc.wantDesc) {
				t.Errorf("description %q does not contain %q", desc, tc.wantDesc)
			}
		})
	}
	if logs := e.logs.String(); strings.Contains(logs, "internal error") {
		t.Errorf("a bad request reached an internal error:\n%s", logs)
	}
}

// TestAuthzStoreEmptyAfter: an empty "after" is the first page, as if it
// were absent.
func TestAuthzStoreEmptyAfter(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.do(e.public, request{path: "/authz-store/rest/v3/subjects?after=&limit=5", header: bearer(apiToken)})
	if r.status != http.StatusOK {
		t.Fatalf("status %d %s", r.status, r.raw)
	}
	wantJSONArray(t, r)
}
