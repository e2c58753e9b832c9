package plugintest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/plugin"
)

// GrantHook returns an HTTP handler that serves the grant handler web-hook
// protocol (package plugin/webhook, docs/api.md) from h, which implements
// one or more of the grant handler interfaces: it checks the bearer token
// and the v1 HMAC signature as ClaimsHook does, decodes the request, asks
// h by the request's grant_type and answers 200 with the authorisation, or
// the OAuth error h refused with (400; 401 for invalid_client), or 500.
// Like ClaimsHook it is written from the protocol description, not with
// plugin/webhook, so the two sides check each other.
func GrantHook(t testing.TB, h any, opts ClaimsHookOptions) http.Handler {
	if opts.MaxSkew == 0 {
		opts.MaxSkew = 5 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := checkHookRequest(t, w, r, opts)
		if !ok {
			return
		}
		var in hookRequest
		if err := json.Unmarshal(body, &in); err != nil || in.GrantType == "" || in.Client.ID == "" {
			t.Errorf("grant hook: malformed request body: %v", err)
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		gr := plugin.GrantRequest{
			Issuer: in.Issuer, GrantType: in.GrantType, Scope: in.Scope, Params: in.Params,
			Client: plugin.Client{ID: in.Client.ID, Confidential: in.Client.Confidential, Scope: in.Client.Scope,
				ApplicationType: in.Client.ApplicationType, Data: in.Client.Data},
		}
		a, err := dispatchGrant(r.Context(), h, in, gr)
		if errors.Is(err, errNoHandler) {
			t.Errorf("grant hook: no handler for grant_type %q", in.GrantType)
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			var oe *oauth.Error
			if !errors.As(err, &oe) {
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = io.WriteString(w, `{"error":"server_error"}`)
				return
			}
			status := http.StatusBadRequest
			if oe.Code == oauth.ErrCodeInvalidClient {
				status = http.StatusUnauthorized
			}
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": oe.Code, "error_description": oe.Description})
			return
		}
		_ = json.NewEncoder(w).Encode(encodeAuthorization(a))
	})
}

var errNoHandler = errors.New("no handler for the grant type")

// dispatchGrant asks the interface of h that serves the request's
// grant_type.
func dispatchGrant(ctx context.Context, h any, in hookRequest, gr plugin.GrantRequest) (*plugin.Authorization, error) {
	switch in.GrantType {
	case oauth.GrantTypeClientCredentials:
		if p, ok := h.(plugin.ClientCredentialsHandler); ok {
			return p.HandleClientCredentials(ctx, gr)
		}
	case oauth.GrantTypePassword:
		if p, ok := h.(plugin.PasswordHandler); ok {
			return p.HandlePassword(ctx, plugin.PasswordRequest{GrantRequest: gr, Username: in.Username, Password: in.Password})
		}
	case oauth.GrantTypeJWTBearer:
		if p, ok := h.(plugin.JWTBearerHandler); ok && in.Assertion != nil {
			return p.HandleJWTBearer(ctx, plugin.AssertionRequest{GrantRequest: gr, Assertion: in.Assertion.public()})
		}
	case oauth.GrantTypeSAML2Bearer:
		if p, ok := h.(plugin.SAML2BearerHandler); ok && in.Assertion != nil {
			return p.HandleSAML2Bearer(ctx, plugin.AssertionRequest{GrantRequest: gr, Assertion: in.Assertion.public()})
		}
	}
	return nil, errNoHandler
}

type hookRequest struct {
	Issuer    string `json:"iss"`
	GrantType string `json:"grant_type"`
	Client    struct {
		ID              string         `json:"client_id"`
		Confidential    bool           `json:"confidential"`
		Scope           []string       `json:"scope"`
		ApplicationType string         `json:"application_type"`
		Data            map[string]any `json:"data"`
	} `json:"client"`
	Scope     []string            `json:"scope"`
	Params    map[string][]string `json:"params"`
	Username  string              `json:"username"`
	Password  string              `json:"password"`
	Assertion *hookAssertion      `json:"assertion"`
}

type hookAssertion struct {
	Issuer        string         `json:"iss"`
	Subject       string         `json:"sub"`
	SubjectFormat string         `json:"sub_format"`
	Audience      []string       `json:"aud"`
	ID            string         `json:"jti"`
	IssuedAt      int64          `json:"iat"`
	NotBefore     int64          `json:"nbf"`
	ExpiresAt     int64          `json:"exp"`
	SelfIssued    bool           `json:"self_issued"`
	Claims        map[string]any `json:"claims"`
}

func fromUnix(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

func (a *hookAssertion) public() plugin.Assertion {
	return plugin.Assertion{
		Issuer: a.Issuer, Subject: a.Subject, SubjectFormat: a.SubjectFormat, Audience: a.Audience, ID: a.ID,
		IssuedAt: fromUnix(a.IssuedAt), NotBefore: fromUnix(a.NotBefore), ExpiresAt: fromUnix(a.ExpiresAt),
		SelfIssued: a.SelfIssued, Claims: a.Claims,
	}
}

// encodeAuthorization writes an authorisation in the hook's answer shape
// (Connect2id's grant authorisation JSON; lifetimes in seconds).
func encodeAuthorization(a *plugin.Authorization) map[string]any {
	out := map[string]any{
		"sub":   a.Subject,
		"scope": a.Scope,
		"access_token": map[string]any{
			"lifetime": int64(a.AccessToken.Lifetime / time.Second),
			"encoding": a.AccessToken.Encoding,
		},
		"refresh_token": map[string]any{
			"issue":    a.RefreshToken.Issue,
			"lifetime": int64(a.RefreshToken.Lifetime / time.Second),
			"max_idle": int64(a.RefreshToken.MaxIdle / time.Second),
			"rotate":   a.RefreshToken.Rotate,
		},
		"id_token": map[string]any{
			"issue":    a.IDToken.Issue,
			"lifetime": int64(a.IDToken.Lifetime / time.Second),
		},
	}
	set := func(k string, v any, present bool) {
		if present {
			out[k] = v
		}
	}
	set("audience", a.Audience, len(a.Audience) > 0)
	set("claims", a.Claims, len(a.Claims) > 0)
	set("claims_locales", a.ClaimsLocales, len(a.ClaimsLocales) > 0)
	set("claims_data", a.ClaimsData, len(a.ClaimsData) > 0)
	set("data", a.Data, len(a.Data) > 0)
	if len(a.PresetIDTokenClaims) > 0 || len(a.PresetUserInfoClaims) > 0 {
		out["preset_claims"] = map[string]any{"id_token": a.PresetIDTokenClaims, "userinfo": a.PresetUserInfoClaims}
	}
	return out
}

// checkHookRequest checks the method, content type, bearer token and HMAC
// signature of a hook request and returns its body; on a violation it
// reports it with t.Errorf, answers 400 or 401 and returns false.
func checkHookRequest(t testing.TB, w http.ResponseWriter, r *http.Request, opts ClaimsHookOptions) ([]byte, bool) {
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("hook: got %s with Content-Type %q, want POST application/json", r.Method, r.Header.Get("Content-Type"))
		http.Error(w, "bad request", http.StatusBadRequest)
		return nil, false
	}
	if opts.BearerToken != "" && !hmac.Equal([]byte(r.Header.Get("Authorization")), []byte("Bearer "+opts.BearerToken)) {
		t.Errorf("hook: missing or wrong bearer token")
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		// The caller may have given up (a cancelled context); not a
		// protocol violation.
		http.Error(w, "read error", http.StatusBadRequest)
		return nil, false
	}
	if len(opts.HMACSecret) > 0 {
		ts := r.Header.Get("X-Keyward-Timestamp")
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || opts.Now().Sub(time.Unix(sec, 0)).Abs() > opts.MaxSkew {
			t.Errorf("hook: bad or stale timestamp %q", ts)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return nil, false
		}
		m := hmac.New(sha256.New, opts.HMACSecret)
		m.Write([]byte(ts + "."))
		m.Write(body)
		want := "v1=" + hex.EncodeToString(m.Sum(nil))
		if !hmac.Equal([]byte(r.Header.Get("X-Keyward-Signature")), []byte(want)) {
			t.Errorf("hook: bad signature")
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return nil, false
		}
	}
	return body, true
}
