package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// ClaimsSourceJSON is the JSON plug-in configuration of the claims web hook
// (claims.sources: [{type: webhook, config: {…}}]); names follow Connect2id's
// op.httpClaimsSource.* properties.
type ClaimsSourceJSON struct {
	URL                     string   `json:"url"`
	BearerToken             string   `json:"bearer_token"`
	HMACSecret              string   `json:"hmac_secret"`
	Timeout                 string   `json:"timeout"` // Go duration, e.g. "2s"
	SupportedClaims         []string `json:"supported_claims"`
	IncludeScope            bool     `json:"include_scope"`
	IncludeSubjectSessionID bool     `json:"include_subject_session_id"`
	AllowInsecureHTTP       bool     `json:"allow_insecure_http"`
}

// ClaimsSourceFactory is a plugin.Factory building a *ClaimsSource from
// ClaimsSourceJSON. The HTTP client is the source's own.
func ClaimsSourceFactory(raw json.RawMessage) (any, error) {
	var j ClaimsSourceJSON
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("claims web hook config: %w", err)
	}
	cfg := ClaimsSourceConfig{
		URL:                     j.URL,
		BearerToken:             j.BearerToken,
		SupportedClaims:         j.SupportedClaims,
		IncludeScope:            j.IncludeScope,
		IncludeSubjectSessionID: j.IncludeSubjectSessionID,
		AllowInsecureHTTP:       j.AllowInsecureHTTP,
	}
	if j.HMACSecret != "" {
		cfg.HMACSecret = []byte(j.HMACSecret)
	}
	if j.Timeout != "" {
		d, err := time.ParseDuration(j.Timeout)
		if err != nil {
			return nil, fmt.Errorf("claims web hook config: timeout: %w", err)
		}
		cfg.Timeout = d
	}
	return NewClaimsSource(cfg)
}

// GrantHandlerJSON is the JSON plug-in configuration of a grant handler web
// hook (the grants.*.config object of a downstream build that registers
// GrantHandlerFactory under a type name of its own).
type GrantHandlerJSON struct {
	URL               string `json:"url"`
	BearerToken       string `json:"bearer_token"`
	HMACSecret        string `json:"hmac_secret"`
	Timeout           string `json:"timeout"` // Go duration, e.g. "2s"
	AllowInsecureHTTP bool   `json:"allow_insecure_http"`
}

// GrantHandlerFactory is a plugin.Factory building a *GrantHandler from
// GrantHandlerJSON.
func GrantHandlerFactory(raw json.RawMessage) (any, error) {
	var j GrantHandlerJSON
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("grant handler web hook config: %w", err)
	}
	cfg := GrantHandlerConfig{URL: j.URL, BearerToken: j.BearerToken, AllowInsecureHTTP: j.AllowInsecureHTTP}
	if j.HMACSecret != "" {
		cfg.HMACSecret = []byte(j.HMACSecret)
	}
	if j.Timeout != "" {
		d, err := time.ParseDuration(j.Timeout)
		if err != nil {
			return nil, fmt.Errorf("grant handler web hook config: timeout: %w", err)
		}
		cfg.Timeout = d
	}
	return NewGrantHandler(cfg)
}
