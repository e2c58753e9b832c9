package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// benchRedirectURI is the bench client's redirect URI. It is never
// followed: the bench reads the code from the final response's URI.
const benchRedirectURI = "https://bench.keyward.invalid/cb"

// target is the server under load and the clients the bench registered.
type target struct {
	cfg       Config
	hc        *http.Client
	discovery string
	meta      struct {
		TokenEndpoint         string `json:"token_endpoint"`
		UserinfoEndpoint      string `json:"userinfo_endpoint"`
		JWKSURI               string `json:"jwks_uri"`
		IntrospectionEndpoint string `json:"introspection_endpoint"`
		RegistrationEndpoint  string `json:"registration_endpoint"`
	}
	sessions string // the authorisation session API
	// registered clients, by role; deleted by cleanup.
	cc, code *client
	created  []*client
}

type client struct {
	ID     string `json:"client_id"`
	Secret string `json:"client_secret"`
}

func newTarget(ctx context.Context, cfg Config) (*target, error) {
	t := &target{cfg: cfg, hc: cfg.HTTPClient,
		discovery: cfg.BaseURL + "/.well-known/openid-configuration",
		sessions:  cfg.BaseURL + "/authz-sessions/rest/v3"}
	status, body, err := t.do(ctx, http.MethodGet, t.discovery, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("bench: discovery: %w", err)
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("bench: discovery: status %d", status)
	}
	if err := json.Unmarshal(body, &t.meta); err != nil {
		return nil, fmt.Errorf("bench: discovery: %w", err)
	}
	if t.meta.TokenEndpoint == "" || t.meta.JWKSURI == "" {
		return nil, errors.New("bench: discovery names no token endpoint or JWKS")
	}
	if t.meta.RegistrationEndpoint == "" {
		t.meta.RegistrationEndpoint = cfg.BaseURL + "/clients"
	}
	if t.meta.IntrospectionEndpoint == "" {
		t.meta.IntrospectionEndpoint = cfg.BaseURL + "/token/introspect"
	}
	return t, nil
}

// register creates a client through the registration API (RFC 7591).
func (t *target) register(ctx context.Context, meta map[string]any) (*client, error) {
	meta["client_name"] = "keyward bench"
	body, _ := json.Marshal(meta)
	status, resp, err := t.do(ctx, http.MethodPost, t.meta.RegistrationEndpoint, body, map[string]string{
		"Authorization": "Bearer " + t.cfg.APIToken, "Content-Type": "application/json"})
	if err != nil {
		return nil, fmt.Errorf("register a client: %w", err)
	}
	if status != http.StatusCreated {
		return nil, fmt.Errorf("register a client: status %d: %s", status, bytes.TrimSpace(resp))
	}
	c := &client{}
	if err := json.Unmarshal(resp, c); err != nil || c.ID == "" {
		return nil, fmt.Errorf("register a client: unexpected answer %s", resp)
	}
	t.created = append(t.created, c)
	return c, nil
}

// cleanup deletes the bench's clients and with them every token and grant
// issued to them (docs/api.md §2).
func (t *target) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, c := range t.created {
		t.do(ctx, http.MethodDelete, strings.TrimSuffix(t.meta.RegistrationEndpoint, "/")+"/"+url.PathEscape(c.ID), nil,
			map[string]string{"Authorization": "Bearer " + t.cfg.APIToken})
	}
}

func (t *target) ccClient(ctx context.Context) (*client, error) {
	if t.cc == nil {
		c, err := t.register(ctx, map[string]any{
			"grant_types": []string{"client_credentials"}, "response_types": []string{}, "scope": "read write"})
		if err != nil {
			return nil, err
		}
		t.cc = c
	}
	return t.cc, nil
}

func (t *target) codeClient(ctx context.Context) (*client, error) {
	if t.code == nil {
		c, err := t.register(ctx, map[string]any{
			"redirect_uris": []string{benchRedirectURI}, "grant_types": []string{"authorization_code", "refresh_token"},
			"scope": "openid email profile offline_access"})
		if err != nil {
			return nil, err
		}
		t.code = c
	}
	return t.code, nil
}

// do sends one request and reads the whole answer, so the connection is
// reused.
func (t *target) do(ctx context.Context, method, u string, body []byte, header map[string]string) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// errKey names a failed step for Result.Errors.
func errKey(step string, status int, err error) string {
	s := "transport"
	if err == nil {
		s = strconv.Itoa(status)
	}
	if step == "" {
		return s
	}
	return step + " " + s
}

func basicAuth(c *client) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.ID)+":"+url.QueryEscape(c.Secret)))
}

const formHeader = "application/x-www-form-urlencoded"

// get is a scenario of one GET whose answer must be 200.
func (t *target) get(u string) *scenario {
	return &scenario{newOp: func(context.Context, int) (op, error) {
		return func(ctx context.Context) string {
			status, _, err := t.do(ctx, http.MethodGet, u, nil, nil)
			if err != nil || status != http.StatusOK {
				return errKey("", status, err)
			}
			return ""
		}, nil
	}}
}

// scenario builds the named scenario, registering what it needs and
// probing the server once to learn which JWTs an operation signs.
func (t *target) scenario(ctx context.Context, name string) (*scenario, error) {
	switch name {
	case "discovery":
		return t.get(t.discovery), nil
	case "jwks":
		return t.get(t.meta.JWKSURI), nil
	case "cc-jwt", "cc-opaque":
		return t.clientCredentials(ctx, name == "cc-jwt")
	case "authcode":
		return t.authcode(ctx)
	case "refresh":
		return t.refresh(ctx)
	case "introspect":
		return t.introspect(ctx)
	case "userinfo":
		return t.userinfo(ctx)
	}
	return nil, fmt.Errorf("unknown scenario %q", name)
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
}

func (t *target) tokenRequest(ctx context.Context, c *client, form url.Values) (int, *tokenResponse, error) {
	status, raw, err := t.do(ctx, http.MethodPost, t.meta.TokenEndpoint, []byte(form.Encode()), map[string]string{
		"Authorization": basicAuth(c), "Content-Type": formHeader})
	if err != nil || status != http.StatusOK {
		return status, nil, err
	}
	var tr tokenResponse
	if err := json.Unmarshal(raw, &tr); err != nil || tr.AccessToken == "" {
		return status, nil, fmt.Errorf("unexpected token response %.200s", raw)
	}
	return status, &tr, nil
}

func (t *target) clientCredentials(ctx context.Context, wantJWT bool) (*scenario, error) {
	c, err := t.ccClient(ctx)
	if err != nil {
		return nil, err
	}
	form := []byte(url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}.Encode())
	hdr := map[string]string{"Authorization": basicAuth(c), "Content-Type": formHeader}
	status, tr, err := t.tokenRequest(ctx, c, url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}})
	if err != nil || tr == nil {
		return nil, fmt.Errorf("client credentials grant: status %d: %v", status, err)
	}
	isJWT := strings.Count(tr.AccessToken, ".") == 2
	switch {
	case wantJWT && !isJWT:
		return nil, errors.New("the server issues opaque access tokens for client_credentials; run cc-opaque, or set grants.client_credentials.access_token_encoding: SELF_CONTAINED")
	case !wantJWT && isJWT:
		return nil, errors.New("the server issues JWT access tokens for client_credentials; run cc-jwt, or set grants.client_credentials.access_token_encoding: IDENTIFIER")
	}
	sc := &scenario{newOp: func(context.Context, int) (op, error) {
		return func(ctx context.Context) string {
			status, raw, err := t.do(ctx, http.MethodPost, t.meta.TokenEndpoint, form, hdr)
			if err != nil || status != http.StatusOK {
				return errKey("", status, err)
			}
			if !bytes.Contains(raw, []byte(`"access_token"`)) {
				return "unexpected"
			}
			return ""
		}, nil
	}}
	if isJWT {
		s, err := t.signatureOf(ctx, tr.AccessToken)
		if err != nil {
			return nil, err
		}
		sc.signatures = []signature{s}
	}
	return sc, nil
}

// flow is one worker's state in the code flow: its PKCE verifier and its
// subject session, reused from flow to flow (prompt=login makes every
// flow authenticate again), so that a long run keeps one subject session
// per worker rather than piling them up.
type flow struct {
	t        *target
	c        *client
	sub      string
	subSID   string
	query    string
	verifier string
	consent  []byte
	// lastErr is the transport error of the last failed step, for setup
	// messages.
	lastErr error
}

func (t *target) newFlow(ctx context.Context, worker int, scope string) (*flow, error) {
	c, err := t.codeClient(ctx)
	if err != nil {
		return nil, err
	}
	v := make([]byte, 32)
	rand.Read(v)
	verifier := base64.RawURLEncoding.EncodeToString(v)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"response_type": {"code"}, "client_id": {c.ID}, "redirect_uri": {benchRedirectURI},
		"scope": {scope}, "state": {"bench"}, "nonce": {"bench-" + strconv.Itoa(worker)}, "prompt": {"login"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	// A long access-token lifetime keeps the tokens of the userinfo and
	// introspect workers valid through a long run.
	consent, _ := json.Marshal(map[string]any{"scope": []string{"*"}, "claims": []string{"*"},
		"access_token": map[string]any{"lifetime": 3600}, "refresh_token": map[string]any{"issue": true}})
	sfx := make([]byte, 6)
	rand.Read(sfx)
	return &flow{t: t, c: c, sub: fmt.Sprintf("bench-%d-%x", worker, sfx), query: q.Encode(), verifier: verifier, consent: consent}, nil
}

type sessionMsg struct {
	Type       string `json:"type"`
	SID        string `json:"sid"`
	SubSID     string `json:"sub_sid"`
	Parameters struct {
		URI string `json:"uri"`
	} `json:"parameters"`
}

func (f *flow) session(ctx context.Context, method, path string, body any) (int, *sessionMsg, error) {
	raw, _ := body.([]byte)
	if raw == nil {
		raw, _ = json.Marshal(body)
	}
	status, resp, err := f.t.do(ctx, method, f.t.sessions+path, raw, map[string]string{
		"Authorization": "Bearer " + f.t.cfg.APIToken, "Content-Type": "application/json"})
	f.lastErr = err
	if err != nil || status != http.StatusOK {
		return status, nil, err
	}
	var m sessionMsg
	if err := json.Unmarshal(resp, &m); err != nil {
		return status, nil, err
	}
	return status, &m, nil
}

// run is one complete flow: start, authenticate, consent, redeem the code,
// UserInfo. It returns the tokens, or the step that failed.
func (f *flow) run(ctx context.Context, userinfo bool) (*tokenResponse, string) {
	start := map[string]any{"query": f.query}
	if f.subSID != "" {
		start["sub_sid"] = f.subSID
	}
	status, m, err := f.session(ctx, http.MethodPost, "", start)
	if m == nil {
		return nil, errKey("start", status, err)
	}
	if m.Type != "auth" {
		return nil, "start unexpected " + m.Type
	}
	sid := "/" + url.PathEscape(m.SID)
	status, m, err = f.session(ctx, http.MethodPut, sid, map[string]any{"sub": f.sub, "amr": []string{"pwd"}})
	if m == nil {
		return nil, errKey("authenticate", status, err)
	}
	if m.Type != "consent" {
		return nil, "authenticate unexpected " + m.Type
	}
	status, m, err = f.session(ctx, http.MethodPut, sid, f.consent)
	if m == nil {
		return nil, errKey("consent", status, err)
	}
	if m.Type != "response" {
		return nil, "consent unexpected " + m.Type
	}
	f.subSID = m.SubSID
	u, err := url.Parse(m.Parameters.URI)
	if err != nil || u.Query().Get("code") == "" {
		return nil, "consent no code"
	}
	status, tr, err := f.t.tokenRequest(ctx, f.c, url.Values{"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")},
		"redirect_uri": {benchRedirectURI}, "code_verifier": {f.verifier}})
	if tr == nil {
		return nil, errKey("redeem", status, err)
	}
	if userinfo {
		status, _, err := f.t.do(ctx, http.MethodGet, f.t.meta.UserinfoEndpoint, nil, map[string]string{"Authorization": "Bearer " + tr.AccessToken})
		if err != nil || status != http.StatusOK {
			return nil, errKey("userinfo", status, err)
		}
	}
	return tr, ""
}

func (t *target) authcode(ctx context.Context) (*scenario, error) {
	probe, err := t.newFlow(ctx, -1, "openid email")
	if err != nil {
		return nil, err
	}
	tr, e := probe.run(ctx, true)
	if e != "" {
		return nil, fmt.Errorf("one flow failed at %s", e)
	}
	sc := &scenario{newOp: func(ctx context.Context, worker int) (op, error) {
		f, err := t.newFlow(ctx, worker, "openid email")
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) string { _, e := f.run(ctx, true); return e }, nil
	}}
	if err := t.addSignatures(ctx, sc, tr.IDToken, tr.AccessToken); err != nil {
		return nil, err
	}
	return sc, nil
}

// workerTokens runs one code flow with offline_access for a worker.
func (t *target) workerTokens(ctx context.Context, worker int) (*flow, *tokenResponse, error) {
	f, err := t.newFlow(ctx, worker, "openid email offline_access")
	if err != nil {
		return nil, nil, err
	}
	// A set-up flow is retried: one connection dropped by a busy server
	// must not cancel a whole scenario.
	var e string
	for range 3 {
		var tr *tokenResponse
		if tr, e = f.run(ctx, false); e == "" {
			return f, tr, nil
		}
		if ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if f.lastErr != nil {
		return nil, nil, fmt.Errorf("code flow failed at %s: %w", e, f.lastErr)
	}
	return nil, nil, fmt.Errorf("code flow failed at %s", e)
}

func (t *target) refresh(ctx context.Context) (*scenario, error) {
	_, probe, err := t.workerTokens(ctx, -1)
	if err != nil {
		return nil, err
	}
	if probe.RefreshToken == "" {
		return nil, errors.New("the server issued no refresh token")
	}
	status, tr, err := t.tokenRequest(ctx, t.code, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {probe.RefreshToken}})
	if tr == nil {
		return nil, fmt.Errorf("refresh: status %d: %v", status, err)
	}
	sc := &scenario{newOp: func(ctx context.Context, worker int) (op, error) {
		f, tr, err := t.workerTokens(ctx, worker)
		if err != nil {
			return nil, err
		}
		rt := tr.RefreshToken
		return func(ctx context.Context) string {
			status, tr, err := t.tokenRequest(ctx, f.c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
			if tr == nil {
				return errKey("", status, err)
			}
			if tr.RefreshToken != "" {
				rt = tr.RefreshToken // rotation
			}
			return ""
		}, nil
	}}
	if err := t.addSignatures(ctx, sc, tr.IDToken, tr.AccessToken); err != nil {
		return nil, err
	}
	return sc, nil
}

func (t *target) introspect(ctx context.Context) (*scenario, error) {
	return &scenario{newOp: func(ctx context.Context, worker int) (op, error) {
		f, tr, err := t.workerTokens(ctx, worker)
		if err != nil {
			return nil, err
		}
		body := []byte(url.Values{"token": {tr.AccessToken}, "token_type_hint": {"access_token"}}.Encode())
		hdr := map[string]string{"Authorization": basicAuth(f.c), "Content-Type": formHeader}
		return func(ctx context.Context) string {
			status, raw, err := t.do(ctx, http.MethodPost, t.meta.IntrospectionEndpoint, body, hdr)
			if err != nil || status != http.StatusOK {
				return errKey("", status, err)
			}
			if !bytes.Contains(raw, []byte(`"active":true`)) {
				return "inactive"
			}
			return ""
		}, nil
	}}, nil
}

func (t *target) userinfo(ctx context.Context) (*scenario, error) {
	return &scenario{newOp: func(ctx context.Context, worker int) (op, error) {
		_, tr, err := t.workerTokens(ctx, worker)
		if err != nil {
			return nil, err
		}
		hdr := map[string]string{"Authorization": "Bearer " + tr.AccessToken}
		return func(ctx context.Context) string {
			status, _, err := t.do(ctx, http.MethodGet, t.meta.UserinfoEndpoint, nil, hdr)
			if err != nil || status != http.StatusOK {
				return errKey("", status, err)
			}
			return ""
		}, nil
	}}, nil
}

// signatureOf reads the algorithm from a JWT's header and, for RSA, the
// key size from the server's JWKS.
func (t *target) signatureOf(ctx context.Context, jwt string) (signature, error) {
	h, _, _ := strings.Cut(jwt, ".")
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return signature{}, fmt.Errorf("JWT header: %w", err)
	}
	var hdr struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Enc string `json:"enc"`
	}
	if err := json.Unmarshal(raw, &hdr); err != nil {
		return signature{}, fmt.Errorf("JWT header: %w", err)
	}
	s := signature{alg: hdr.Alg}
	if !strings.HasPrefix(hdr.Alg, "RS") && !strings.HasPrefix(hdr.Alg, "PS") {
		return s, nil
	}
	status, body, err := t.do(ctx, http.MethodGet, t.meta.JWKSURI, nil, nil)
	if err != nil || status != http.StatusOK {
		return s, fmt.Errorf("JWKS: status %d: %v", status, err)
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			N   string `json:"n"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return s, fmt.Errorf("JWKS: %w", err)
	}
	for _, k := range set.Keys {
		if k.Kid == hdr.Kid {
			n, err := base64.RawURLEncoding.DecodeString(k.N)
			if err != nil {
				return s, fmt.Errorf("JWKS: %w", err)
			}
			s.bits = new(big.Int).SetBytes(n).BitLen()
			return s, nil
		}
	}
	return s, fmt.Errorf("JWKS has no key %q", hdr.Kid)
}

// addSignatures records, for the signing ceiling, the algorithm and key
// of each JWT among tokens (opaque tokens are skipped).
func (t *target) addSignatures(ctx context.Context, sc *scenario, tokens ...string) error {
	for _, jwt := range tokens {
		if strings.Count(jwt, ".") != 2 {
			continue
		}
		s, err := t.signatureOf(ctx, jwt)
		if err != nil {
			return err
		}
		sc.signatures = append(sc.signatures, s)
	}
	return nil
}
