package plugintest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/keyward/keyward/plugin"
)

// ClaimsHookOptions configures ClaimsHook.
type ClaimsHookOptions struct {
	// BearerToken, when set, must be presented as "Authorization: Bearer …".
	BearerToken string
	// HMACSecret, when set, must have signed the request.
	HMACSecret []byte
	// MaxSkew bounds the signature timestamp's distance from Now; 5 minutes
	// when zero.
	MaxSkew time.Duration
	// Now is the hook's clock; time.Now when nil.
	Now func() time.Time
}

// ClaimsHook returns an HTTP handler that serves the claims web-hook
// protocol (package plugin/webhook) from src: it checks
// the bearer token and the v1 HMAC signature, decodes the request, asks src
// and answers with a UserInfo-shaped object carrying "sub". An unknown
// subject (empty result) is a 404. Pointing plugin/webhook at it gives an
// in-process source and a web-hook source that must pass the same contract.
//
// The signature check is written here from the protocol description rather
// than by calling plugin/webhook, so the two sides check each other.
// Protocol violations by the caller are reported with t.Errorf as well as
// answered with 401/400.
func ClaimsHook(t testing.TB, src plugin.ClaimsSource, opts ClaimsHookOptions) http.Handler {
	if opts.MaxSkew == 0 {
		opts.MaxSkew = 5 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("claims hook: got %s with Content-Type %q, want POST application/json", r.Method, r.Header.Get("Content-Type"))
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if opts.BearerToken != "" && !hmac.Equal([]byte(r.Header.Get("Authorization")), []byte("Bearer "+opts.BearerToken)) {
			t.Errorf("claims hook: missing or wrong bearer token")
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read error", http.StatusBadRequest)
			return
		}
		if len(opts.HMACSecret) > 0 {
			ts := r.Header.Get("X-Keyward-Timestamp")
			sec, err := strconv.ParseInt(ts, 10, 64)
			if err != nil || opts.Now().Sub(time.Unix(sec, 0)).Abs() > opts.MaxSkew {
				t.Errorf("claims hook: bad or stale timestamp %q", ts)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			m := hmac.New(sha256.New, opts.HMACSecret)
			m.Write([]byte(ts + "."))
			m.Write(body)
			want := "v1=" + hex.EncodeToString(m.Sum(nil))
			if !hmac.Equal([]byte(r.Header.Get("X-Keyward-Signature")), []byte(want)) {
				t.Errorf("claims hook: bad signature")
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		var in struct {
			Issuer     string         `json:"iss"`
			Subject    string         `json:"sub"`
			Claims     []string       `json:"claims"`
			Transport  string         `json:"claims_transport"`
			ClaimsData map[string]any `json:"claims_data"`
			Locales    []string       `json:"claims_locales"`
			Scope      []string       `json:"scope"`
			SubjectSID string         `json:"sub_sid"`
		}
		if err := json.Unmarshal(body, &in); err != nil || in.Subject == "" {
			t.Errorf("claims hook: malformed request body: %v", err)
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		claims, err := src.Claims(r.Context(), plugin.ClaimsRequest{
			Issuer: in.Issuer, Subject: in.Subject, Claims: in.Claims, Transport: in.Transport,
			ClaimsData: in.ClaimsData, Locales: in.Locales, Scope: in.Scope, SubjectSessionID: in.SubjectSID,
		})
		if err != nil {
			http.Error(w, "claims source failed", http.StatusInternalServerError)
			return
		}
		if len(claims) == 0 {
			http.Error(w, "unknown subject", http.StatusNotFound)
			return
		}
		out := map[string]any{"sub": in.Subject}
		for k, v := range claims {
			out[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
}
