package loginui_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// fakeAPI is a small stand-in for the authorisation session API
// (docs/api.md §3), used until the end-to-end tests run the UI against
// the real server. It follows the worked example there: auth → consent →
// response, DELETE → access_denied, unknown sid → 404.
type fakeAPI struct {
	token string

	mu       sync.Mutex
	next     int
	sessions map[string]url.Values // sid → original request
	calls    []apiCall

	// Per-test overrides.
	client       map[string]any // client member of every prompt
	ssoSubSID    string         // a start with this sub_sid skips auth
	putStatus    int            // answer every PUT with this status and an internal-looking body
	startAnswer  map[string]any // answer every start with this message
	putAnswer    map[string]any // answer every PUT with this message
	consentExtra map[string]any // members added to every consent prompt
}

type apiCall struct {
	Method, Path string
	Auth         string
	Body         map[string]any
}

func newFakeAPI(token string) *fakeAPI {
	return &fakeAPI{token: token, sessions: map[string]url.Values{}}
}

func (f *fakeAPI) Calls() []apiCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]apiCall(nil), f.calls...)
}

// lastCall returns the last call with the given method, or fails the test.
func (f *fakeAPI) lastCall(t *testing.T, method string) apiCall {
	t.Helper()
	calls := f.Calls()
	for i := len(calls) - 1; i >= 0; i-- {
		if calls[i].Method == method {
			return calls[i]
		}
	}
	t.Fatalf("no %s call to the API; calls: %+v", method, calls)
	return apiCall{}
}

const apiPrefix = "/authz-sessions/rest/v3"

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var decoded map[string]any
	if len(body) > 0 {
		if err := json.Unmarshal(body, &decoded); err != nil {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, apiCall{Method: r.Method, Path: r.URL.Path, Auth: r.Header.Get("Authorization"), Body: decoded})
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		http.Error(w, `{"error":"invalid_token"}`, http.StatusUnauthorized)
		return
	}
	if r.Method == http.MethodPost && r.URL.Path == apiPrefix {
		f.start(w, decoded)
		return
	}
	sid, ok := strings.CutPrefix(r.URL.Path, apiPrefix+"/")
	q, known := f.sessions[sid]
	if !ok || !known {
		http.Error(w, `{"error":"not_found"}`, http.StatusNotFound)
		return
	}
	switch r.Method {
	case http.MethodPut:
		if f.putStatus != 0 {
			http.Error(w, "java.lang.NullPointerException at internal.secret.Detail", f.putStatus)
			return
		}
		if f.putAnswer != nil {
			writeJSON(w, f.putAnswer)
			return
		}
		if sub, ok := decoded["sub"].(string); ok {
			writeJSON(w, f.consentPrompt(sid, sub))
			return
		}
		writeJSON(w, f.response(q, url.Values{"code": {"code-123"}}))
	case http.MethodDelete:
		delete(f.sessions, sid)
		writeJSON(w, f.response(q, url.Values{"error": {"access_denied"}}))
	default:
		http.Error(w, "method", http.StatusMethodNotAllowed)
	}
}

func (f *fakeAPI) start(w http.ResponseWriter, body map[string]any) {
	if f.startAnswer != nil {
		writeJSON(w, f.startAnswer)
		return
	}
	query, _ := body["query"].(string)
	q, err := url.ParseQuery(query)
	if err != nil || q.Get("client_id") == "" {
		writeJSON(w, map[string]any{"type": "error", "error": "invalid_request", "error_description": "missing client_id"})
		return
	}
	f.next++
	sid := fmt.Sprintf("authz-%d", f.next)
	f.sessions[sid] = q
	if subSID, _ := body["sub_sid"].(string); subSID != "" && subSID == f.ssoSubSID {
		writeJSON(w, f.consentPrompt(sid, "alice"))
		return
	}
	m := map[string]any{"type": "auth", "sid": sid, "display": "page"}
	if h := q.Get("login_hint"); h != "" {
		m["login_hint"] = h
	}
	if q.Get("prompt") == "create" {
		m["create_account"] = true
	}
	if f.client != nil {
		m["client"] = f.client
	}
	writeJSON(w, m)
}

func (f *fakeAPI) consentPrompt(sid, sub string) map[string]any {
	m := map[string]any{
		"type": "consent", "sid": sid, "display": "page",
		"sub_session": map[string]any{"sid": "subsess-" + sub, "sub": sub, "amr": []string{"pwd"}},
		"scope":       map[string]any{"new": []string{"openid", "email", "offline_access"}, "consented": []string{"profile"}},
		"claims": map[string]any{
			"new":       map[string]any{"essential": []string{"email"}, "voluntary": []string{"email_verified"}},
			"consented": map[string]any{"essential": []string{}, "voluntary": []string{"name"}},
		},
	}
	if f.client != nil {
		m["client"] = f.client
	} else {
		m["client"] = map[string]any{"client_id": "app1", "name": "App One"}
	}
	for k, v := range f.consentExtra {
		m[k] = v
	}
	return m
}

// response builds the final message for the request q carrying params.
func (f *fakeAPI) response(q url.Values, params url.Values) map[string]any {
	params.Set("state", q.Get("state"))
	params.Set("iss", "https://op.example")
	m := map[string]any{"type": "response", "sub_sid": "subsess-alice"}
	if q.Get("response_mode") == "form_post" {
		form := map[string]string{}
		for k := range params {
			form[k] = params.Get(k)
		}
		m["mode"] = "form_post"
		m["parameters"] = map[string]any{"uri": q.Get("redirect_uri"), "form": form}
		return m
	}
	m["mode"] = "query"
	m["parameters"] = map[string]any{"uri": q.Get("redirect_uri") + "?" + params.Encode()}
	return m
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
