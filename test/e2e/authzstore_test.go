package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"
)

const authzStore = "/authz-store/rest/v3"

// onBackends runs f on SQLite and on PostgreSQL + Redis.
func onBackends(t *testing.T, f func(t *testing.T, e *env)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { f(t, newEnv(t, b.opt(t))) })
	}
}

// storeCall is one call to the authorisation store API with the API token.
type storeCall struct {
	status int
	raw    []byte
	header http.Header
}

func (c storeCall) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(c.raw, &m); err != nil {
		t.Fatalf("want a JSON object, got %d %q", c.status, c.raw)
	}
	return m
}

func (c storeCall) list(t *testing.T) []map[string]any {
	t.Helper()
	var l []map[string]any
	if err := json.Unmarshal(c.raw, &l); err != nil {
		t.Fatalf("want a JSON array of objects, got %d %q", c.status, c.raw)
	}
	return l
}

func (c storeCall) strings(t *testing.T) []string {
	t.Helper()
	var l []string
	if err := json.Unmarshal(c.raw, &l); err != nil {
		t.Fatalf("want a JSON array of strings, got %d %q", c.status, c.raw)
	}
	return l
}

func (e *env) store(method, path, contentType, body string) storeCall {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.issuer+authzStore+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.apiToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 500 {
		e.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return storeCall{resp.StatusCode, raw, resp.Header}
}

func (e *env) storeForm(path string, form url.Values) storeCall {
	e.t.Helper()
	return e.store(http.MethodPost, path, "application/x-www-form-urlencoded", form.Encode())
}

// tokens are what one login and code exchange gave a client.
type tokens struct{ access, refresh string }

// loginTokens logs sub in to r with long-lived consent and a refresh token,
// the access token encoded as encoding, and redeems the code.
func (r *rp) loginTokens(sub, encoding string) tokens { return r.login(sub, encoding, true) }

// login is loginTokens with the consent long-lived or transient.
func (r *rp) login(sub, encoding string, longLived bool) tokens {
	e, t := r.e, r.e.t
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	status, msg := e.authzSession(http.MethodPost, "", map[string]any{"query": queryOf(t, r.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))})
	if status != http.StatusOK || msg["type"] != "auth" {
		t.Fatalf("start: %d %v", status, msg)
	}
	sid := "/" + msg["sid"].(string)
	if status, msg = e.authzSession(http.MethodPut, sid, map[string]any{"sub": sub}); msg["type"] == "consent" {
		status, msg = e.authzSession(http.MethodPut, sid, map[string]any{
			"scope": []string{"*"}, "claims": []string{"*"}, "long_lived": longLived,
			"refresh_token": map[string]any{"issue": true}, "access_token": map[string]any{"encoding": encoding},
		})
	}
	if status != http.StatusOK || msg["type"] != "response" {
		t.Fatalf("login: %d %v", status, msg)
	}
	status, body := r.redeem(redirectParams(t, msg).Get("code"), verifier)
	at, _ := body["access_token"].(string)
	rt, _ := body["refresh_token"].(string)
	if status != http.StatusOK || at == "" || rt == "" {
		t.Fatalf("redeem: %d %v", status, body)
	}
	return tokens{at, rt}
}

func (e *env) userinfoStatus(accessToken string) int {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	status, _ := e.doJSON(req)
	return status
}

func keysOf(t *testing.T, list []map[string]any) []string {
	t.Helper()
	var out []string
	for _, a := range list {
		out = append(out, fmt.Sprint(a["sub"], "/", a["cid"]))
	}
	slices.Sort(out)
	return out
}

// TestAuthzStoreOperatorRevokesSubject: an operator lists a subject's
// authorisations, inspects its tokens, revokes it by subject, and its
// refresh tokens then fail at /token and its access tokens (JWT and
// identifier) at UserInfo, while another subject's keep working.
func TestAuthzStoreOperatorRevokesSubject(t *testing.T) {
	onBackends(t, func(t *testing.T, e *env) {
		a, b := e.newRP(nil), e.newRP(nil)
		aliceA := a.loginTokens("alice", "SELF_CONTAINED")
		aliceB := b.loginTokens("alice", "IDENTIFIER")
		bobA := a.loginTokens("bob", "SELF_CONTAINED")

		list := e.store(http.MethodGet, "/authorizations?subject=alice", "", "")
		if list.status != http.StatusOK {
			t.Fatalf("list alice: %d %s", list.status, list.raw)
		}
		got := list.list(t)
		if want := []string{"alice/" + a.clientID, "alice/" + b.clientID}; !slices.Equal(keysOf(t, got), sorted(want)) {
			t.Fatalf("alice's authorisations %v, want %v", keysOf(t, got), sorted(want))
		}
		for _, m := range got {
			if m["lng"] != true || m["iss"] != e.issuer || !slices.Contains(anyStrings(m["scp"]), "openid") || m["irt"] != true {
				t.Errorf("authorisation %v: want lng true, iss, scp with openid, irt true", m)
			}
		}
		if m := got[0]; m["cid"] == b.clientID && m["ate"] != "IDENTIFIER" {
			t.Errorf("ate %v, want IDENTIFIER", m["ate"])
		}
		byClient := e.store(http.MethodGet, "/authorizations?client_id="+url.QueryEscape(a.clientID), "", "")
		if want := []string{"alice/" + a.clientID, "bob/" + a.clientID}; !slices.Equal(keysOf(t, byClient.list(t)), want) {
			t.Errorf("client a's authorisations %v, want %v", keysOf(t, byClient.list(t)), want)
		}
		one := e.store(http.MethodGet, "/authorizations?subject=bob&client_id="+url.QueryEscape(a.clientID), "", "")
		if one.status != http.StatusOK || one.object(t)["sub"] != "bob" {
			t.Errorf("bob at a: %d %s", one.status, one.raw)
		}
		if s := e.store(http.MethodGet, "/subjects", "", "").strings(t); !slices.Equal(s, []string{"alice", "bob"}) {
			t.Errorf("subjects %v", s)
		}
		if c := e.store(http.MethodGet, "/clients", "", "").strings(t); !slices.Equal(c, sorted([]string{a.clientID, b.clientID})) {
			t.Errorf("clients %v", c)
		}

		// Inspection of each kind of token names its authorisation.
		for name, form := range map[string]url.Values{
			"JWT access token":        {"access_token": {aliceA.access}},
			"identifier access token": {"access_token": {aliceB.access}},
			"refresh token":           {"refresh_token": {aliceB.refresh}},
		} {
			r := e.storeForm("/inspection", form)
			if r.status != http.StatusOK {
				t.Fatalf("inspect %s: %d %s", name, r.status, r.raw)
			}
			if m := r.object(t); m["sub"] != "alice" || m["lng"] != true {
				t.Errorf("inspect %s: %v", name, m)
			}
		}
		if r := e.storeForm("/inspection", url.Values{"refresh_token": {aliceA.access}}); r.status != http.StatusNotFound {
			t.Errorf("an access token inspected as a refresh token: %d %s", r.status, r.raw)
		}

		rev := e.storeForm("/revocation", url.Values{"subject": {"alice"}})
		if rev.status != http.StatusOK || len(rev.list(t)) != 2 {
			t.Fatalf("revoke alice: %d %s, want 200 with her two authorisations", rev.status, rev.raw)
		}
		for name, tc := range map[string]struct {
			rp *rp
			tk tokens
		}{"a": {a, aliceA}, "b": {b, aliceB}} {
			status, body := tc.rp.refreshStatus(tc.tk.refresh)
			wantOAuthError(t, status, body, http.StatusBadRequest, "invalid_grant")
			if s := e.userinfoStatus(tc.tk.access); s != http.StatusUnauthorized {
				t.Errorf("alice's access token at %s: UserInfo %d, want 401", name, s)
			}
			if r := e.storeForm("/inspection", url.Values{"access_token": {tc.tk.access}}); r.status != http.StatusNotFound {
				t.Errorf("inspect revoked token at %s: %d %s", name, r.status, r.raw)
			}
		}
		if l := e.store(http.MethodGet, "/authorizations?subject=alice", "", "").list(t); len(l) != 0 {
			t.Errorf("alice still has %v", l)
		}
		if s := e.store(http.MethodGet, "/subjects", "", "").strings(t); !slices.Equal(s, []string{"bob"}) {
			t.Errorf("subjects after revocation %v", s)
		}
		if s := e.userinfoStatus(bobA.access); s != http.StatusOK {
			t.Errorf("bob's access token: UserInfo %d", s)
		}
		status, body := a.refreshStatus(bobA.refresh)
		if status != http.StatusOK {
			t.Fatalf("bob's refresh: %d %v", status, body)
		}
		// Again, nothing left: 204.
		if r := e.storeForm("/revocation", url.Values{"subject": {"alice"}}); r.status != http.StatusNoContent {
			t.Errorf("second revocation: %d %s", r.status, r.raw)
		}

		// Revoking by bob's refresh token ends his long-lived authorisation;
		// ?quiet=true answers 204 all the same.
		if r := e.store(http.MethodPost, "/revocation?quiet=true", "application/x-www-form-urlencoded",
			url.Values{"refresh_token": {bobA.refresh}}.Encode()); r.status != http.StatusNoContent {
			t.Errorf("quiet revocation: %d %s", r.status, r.raw)
		}
		status, body = a.refreshStatus(bobA.refresh)
		wantOAuthError(t, status, body, http.StatusBadRequest, "invalid_grant")
		if r := e.store(http.MethodGet, "/authorizations?subject=bob&client_id="+url.QueryEscape(a.clientID), "", ""); r.status != http.StatusNotFound {
			t.Errorf("bob's authorisation after token revocation: %d %s", r.status, r.raw)
		}
	})
}

// TestAuthzStoreAddUpdateDelete: an authorisation in Connect2id's JSON
// (as an export carries it) is added, read back member for member,
// replaced, updated and deleted; revoking by client removes the rest.
func TestAuthzStoreAddUpdateDelete(t *testing.T) {
	onBackends(t, func(t *testing.T, e *env) {
		c := e.newRP(nil)
		export := map[string]any{
			"sub": "carol", "cid": c.clientID, "scp": []any{"openid", "email"},
			"clm": []any{"email", "email_verified"}, "cls": []any{"en", "de"},
			"uip": map[string]any{"tier": "gold"}, "idp": map[string]any{"dept": "ops"},
			"aud": []any{"https://api.example.com"}, "ate": "IDENTIFIER", "atl": float64(900),
			"irt": true, "rtl": float64(86400), "rtr": true, "rtm": float64(3600), "idr": true,
			"cld": map[string]any{"k": "v"}, "dat": map[string]any{"origin": "c2id"},
			"lng": true, "iat": float64(1700000000), "iss": e.issuer, "rti": float64(1700000000), "ats": "PUBLIC",
		}
		body, _ := json.Marshal(export)
		add := e.store(http.MethodPost, "/authorizations", "application/json", string(body))
		if add.status != http.StatusCreated {
			t.Fatalf("add: %d %s", add.status, add.raw)
		}
		want := map[string]any{}
		for k, v := range export {
			if k != "rti" && k != "ats" { // accepted from an export, not kept (PUBLIC is the default)
				want[k] = v
			}
		}
		for _, got := range []map[string]any{add.object(t),
			e.store(http.MethodGet, "/authorizations?subject=carol&client_id="+url.QueryEscape(c.clientID), "", "").object(t)} {
			if !jsonEqual(got, want) {
				t.Errorf("stored authorisation\n got %v\nwant %v", got, want)
			}
		}

		upd := e.store(http.MethodPut, "/authorizations", "application/json",
			`{"sub":"carol","cid":"`+c.clientID+`","scp":["openid"]}`)
		if upd.status != http.StatusOK {
			t.Fatalf("update: %d %s", upd.status, upd.raw)
		}
		got := e.store(http.MethodGet, "/authorizations?subject=carol&client_id="+url.QueryEscape(c.clientID), "", "").object(t)
		if !slices.Equal(anyStrings(got["scp"]), []string{"openid"}) || got["clm"] != nil || got["iat"] != float64(1700000000) {
			t.Errorf("after update %v: want scp [openid], no clm, iat kept", got)
		}

		// The consent is remembered: carol is not asked again for openid.
		status, msg := e.authzSession(http.MethodPost, "", map[string]any{"query": queryOf(t,
			c.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("scope", "openid")))})
		if status != http.StatusOK || msg["type"] != "auth" {
			t.Fatalf("start: %d %v", status, msg)
		}
		if status, msg = e.authzSession(http.MethodPut, "/"+msg["sid"].(string), map[string]any{"sub": "carol"}); msg["type"] != "response" {
			t.Errorf("carol with a stored authorisation: %d %v, want a response without consent", status, msg)
		}

		if r := e.store(http.MethodDelete, "/authorizations?subject=carol&client_id="+url.QueryEscape(c.clientID), "", ""); r.status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", r.status, r.raw)
		}
		if r := e.store(http.MethodDelete, "/authorizations?subject=carol&client_id="+url.QueryEscape(c.clientID), "", ""); r.status != http.StatusNotFound {
			t.Errorf("delete again: %d %s", r.status, r.raw)
		}
		if r := e.store(http.MethodPut, "/authorizations", "application/json", string(body)); r.status != http.StatusNotFound {
			t.Errorf("update deleted: %d %s", r.status, r.raw)
		}

		// Revocation by client removes every subject's authorisation of it.
		for _, sub := range []string{"dan", "erin"} {
			if r := e.store(http.MethodPost, "/authorizations", "application/json",
				`{"sub":"`+sub+`","cid":"`+c.clientID+`","scp":["openid"]}`); r.status != http.StatusCreated {
				t.Fatalf("add %s: %d %s", sub, r.status, r.raw)
			}
		}
		rev := e.storeForm("/revocation", url.Values{"client_id": {c.clientID}})
		if rev.status != http.StatusOK || !slices.Equal(keysOf(t, rev.list(t)), []string{"dan/" + c.clientID, "erin/" + c.clientID}) {
			t.Errorf("revoke by client: %d %s", rev.status, rev.raw)
		}
		if l := e.store(http.MethodGet, "/clients", "", "").strings(t); len(l) != 0 {
			t.Errorf("clients after revocation %v", l)
		}
		// By actor: Keyward records no actors, so nothing matches.
		if r := e.storeForm("/revocation", url.Values{"actor": {"admin"}}); r.status != http.StatusNoContent {
			t.Errorf("revoke by actor: %d %s", r.status, r.raw)
		}
	})
}

// TestAuthzStoreTransient: a transient authorisation is not in the store
// but inspects with lng false; revoking it by its access token ends that
// grant only, not another login of the same subject and client.
func TestAuthzStoreTransient(t *testing.T) {
	onBackends(t, func(t *testing.T, e *env) {
		r := e.newRP(nil)
		first := r.login("alice", "IDENTIFIER", false)
		second := r.login("alice", "SELF_CONTAINED", false)
		if l := e.store(http.MethodGet, "/authorizations?subject=alice", "", "").list(t); len(l) != 0 {
			t.Errorf("transient consent stored: %v", l)
		}
		insp := e.storeForm("/inspection", url.Values{"refresh_token": {first.refresh}})
		if insp.status != http.StatusOK || insp.object(t)["lng"] != false || insp.object(t)["sub"] != "alice" {
			t.Fatalf("inspect: %d %s", insp.status, insp.raw)
		}
		if rev := e.storeForm("/revocation", url.Values{"access_token": {first.access}}); rev.status != http.StatusNoContent {
			t.Fatalf("revoke by token: %d %s", rev.status, rev.raw)
		}
		status, body := r.refreshStatus(first.refresh)
		wantOAuthError(t, status, body, http.StatusBadRequest, "invalid_grant")
		if s := e.userinfoStatus(first.access); s != http.StatusUnauthorized {
			t.Errorf("revoked identifier token: UserInfo %d", s)
		}
		if s := e.userinfoStatus(second.access); s != http.StatusOK {
			t.Errorf("the other login's access token: UserInfo %d", s)
		}
		if status, body := r.refreshStatus(second.refresh); status != http.StatusOK {
			t.Errorf("the other login's refresh: %d %v", status, body)
		}
		// An unknown token revokes nothing and answers 204.
		if rev := e.storeForm("/revocation", url.Values{"refresh_token": {"unknown"}}); rev.status != http.StatusNoContent {
			t.Errorf("unknown token: %d %s", rev.status, rev.raw)
		}
	})
}

// TestAuthzStoreParallelRevocation: operators revoking the same subject at
// once all succeed, and each removed authorisation is reported by exactly
// one of them.
func TestAuthzStoreParallelRevocation(t *testing.T) {
	onBackends(t, func(t *testing.T, e *env) {
		var clients []string
		for range 6 {
			status, reg := e.registerClient(map[string]any{"redirect_uris": []string{"https://rp.example.com/cb"}})
			if status != http.StatusCreated {
				t.Fatalf("register: %d %v", status, reg)
			}
			cid := reg["client_id"].(string)
			clients = append(clients, cid)
			if r := e.store(http.MethodPost, "/authorizations", "application/json",
				`{"sub":"alice","cid":"`+cid+`","scp":["openid"]}`); r.status != http.StatusCreated {
				t.Fatalf("add: %d %s", r.status, r.raw)
			}
		}
		const callers = 8
		results := make(chan storeCall, callers)
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				req, _ := http.NewRequest(http.MethodPost, e.issuer+authzStore+"/revocation", strings.NewReader("subject=alice"))
				req.Header.Set("Authorization", "Bearer "+e.apiToken)
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := e.http.Do(req)
				if err != nil {
					results <- storeCall{status: -1, raw: []byte(err.Error())}
					return
				}
				defer resp.Body.Close()
				raw, _ := io.ReadAll(resp.Body)
				results <- storeCall{status: resp.StatusCode, raw: raw}
			})
		}
		wg.Wait()
		close(results)
		seen := map[string]int{}
		for r := range results {
			switch r.status {
			case http.StatusNoContent:
			case http.StatusOK:
				for _, k := range keysOf(t, r.list(t)) {
					seen[k]++
				}
			default:
				t.Errorf("parallel revocation: %d %s", r.status, r.raw)
			}
		}
		for _, cid := range clients {
			if n := seen["alice/"+cid]; n != 1 {
				t.Errorf("alice/%s reported removed %d times", cid, n)
			}
		}
		if l := e.store(http.MethodGet, "/authorizations?subject=alice", "", "").list(t); len(l) != 0 {
			t.Errorf("left behind: %v", keysOf(t, l))
		}
	})
}

// TestAuthzStorePaging: /subjects and /clients page through many
// authorisations following the Link header, each value exactly once.
func TestAuthzStorePaging(t *testing.T) {
	onBackends(t, func(t *testing.T, e *env) {
		var clients []string
		for range 5 {
			status, reg := e.registerClient(map[string]any{"redirect_uris": []string{"https://rp.example.com/cb"}})
			if status != http.StatusCreated {
				t.Fatalf("register: %d %v", status, reg)
			}
			clients = append(clients, reg["client_id"].(string))
		}
		const subjects = 41
		for i := range subjects {
			for j, cid := range clients {
				if (i+j)%2 == 0 || j == 0 {
					if r := e.store(http.MethodPost, "/authorizations", "application/json",
						fmt.Sprintf(`{"sub":"user-%03d","cid":%q,"scp":["openid"]}`, i, cid)); r.status != http.StatusCreated {
						t.Fatalf("add: %d %s", r.status, r.raw)
					}
				}
			}
		}
		for _, tc := range []struct {
			path string
			want int
		}{
			{"/subjects?limit=6", subjects},
			{"/clients?limit=2", len(clients)},
		} {
			seen := map[string]int{}
			next, pages := tc.path, 0
			for next != "" {
				r := e.store(http.MethodGet, next, "", "")
				if r.status != http.StatusOK {
					t.Fatalf("%s: %d %s", next, r.status, r.raw)
				}
				for _, v := range r.strings(t) {
					seen[v]++
				}
				next = ""
				if link := r.header.Get("Link"); link != "" {
					target, ok := strings.CutPrefix(strings.TrimSuffix(link, `>; rel="next"`), "<"+authzStore)
					if !ok {
						t.Fatalf("Link %q", link)
					}
					next = target
				}
				if pages++; pages > tc.want {
					t.Fatalf("%s: paging does not end", tc.path)
				}
			}
			if len(seen) != tc.want {
				t.Errorf("%s: %d values, want %d", tc.path, len(seen), tc.want)
			}
			for v, n := range seen {
				if n != 1 {
					t.Errorf("%s: %q listed %d times", tc.path, v, n)
				}
			}
		}
	})
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

func anyStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
