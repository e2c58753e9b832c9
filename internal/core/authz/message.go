package authz

import (
	"encoding/json"

	"github.com/keyward/keyward/internal/core/session"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// Message types: the tagged union of docs/api.md §4.
const (
	TypeAuth     = "auth"
	TypeConsent  = "consent"
	TypeResponse = "response"
	TypeError    = "error"
)

// StartRequest is the body of POST /authz-sessions/rest/v3
// (docs/api.md §3, step 1).
type StartRequest struct {
	// Query is the authorisation request's URL query string as received.
	Query string `json:"query"`
	// SubSID is the subject session ID from the UI's cookie, if any.
	SubSID string `json:"sub_sid,omitempty"`
	// RedirectURITemplateParam fills "[param]" of a registered
	// urn:c2id:redirect_uri_template: redirect URI.
	RedirectURITemplateParam string `json:"redirect_uri_template_param,omitempty"`
	// FPT is the BASE64URL SHA-256 fingerprint of the user agent: a subject
	// session created with another one is ended instead of used for SSO.
	FPT string `json:"fpt,omitempty"`
}

// Message is every answer of the authorisation session API; Type says which
// members are meaningful (docs/api.md §4; docs/openapi.yaml has the schema).
// Strings in it come from the request or the client registration and must be
// escaped by the UI; redirect URIs in it have been verified.
type Message struct {
	Type    string `json:"type"`
	SID     string `json:"sid,omitempty"`
	Display string `json:"display,omitempty"`

	// Authentication prompt.
	SelectAccount *bool    `json:"select_account,omitempty"`
	CreateAccount *bool    `json:"create_account,omitempty"`
	LoginHint     string   `json:"login_hint,omitempty"`
	RequiredSub   string   `json:"required_sub,omitempty"`
	ACRValues     []string `json:"acr_values,omitempty"`
	MaxAge        *int64   `json:"max_age,omitempty"`
	UILocales     []string `json:"ui_locales,omitempty"`

	// Authentication and consent prompts.
	SubSession *session.SessionView `json:"sub_session,omitempty"`
	Client     *ClientInfo          `json:"client,omitempty"`
	// Reasons names the prompt checks that failed (prompt.go), so a UI can
	// tell a step-up from a first login.
	Reasons []string       `json:"reasons,omitempty"`
	Data    map[string]any `json:"data,omitempty"`
	// Request holds the request parameters the configuration selects for
	// the prompt (authz.request_params_in_auth_prompt,
	// authz.request_params_in_consent_prompt).
	Request map[string]any `json:"request,omitempty"`

	// Consent prompt.
	Scope  *ScopeSplit  `json:"scope,omitempty"`
	Claims *ClaimsSplit `json:"claims,omitempty"`
	// Purpose is the transaction-level purpose request parameter (OpenID
	// Connect for Identity Assurance 1.0 §8).
	Purpose string `json:"purpose,omitempty"`
	// AuthorizationDetails are the requested authorization_details
	// (RFC 9396) for the subject to approve; the consent may grant a
	// subset.
	AuthorizationDetails []json.RawMessage `json:"authorization_details,omitempty"`
	// Resource lists the requested resource indicators (RFC 8707).
	Resource []string `json:"resource,omitempty"`

	// Final response.
	Mode       string          `json:"mode,omitempty"`
	Parameters *RespParameters `json:"parameters,omitempty"`
	SubSID     string          `json:"sub_sid,omitempty"`

	// Non-redirectable error.
	Error            string `json:"error,omitempty"`
	ErrorDescription string `json:"error_description,omitempty"`
	ErrorURI         string `json:"error_uri,omitempty"`
}

// ClientInfo is the client as shown on prompts.
type ClientInfo struct {
	ClientID        string `json:"client_id"`
	ClientType      string `json:"client_type,omitempty"` // confidential | public
	ApplicationType string `json:"application_type,omitempty"`
	Name            string `json:"name,omitempty"`
	URI             string `json:"uri,omitempty"`
	LogoURI         string `json:"logo_uri,omitempty"`
	PolicyURI       string `json:"policy_uri,omitempty"`
	TOSURI          string `json:"tos_uri,omitempty"`
}

// ScopeSplit divides the requested scope into values not yet consented and
// values a long-lived authorisation already holds.
type ScopeSplit struct {
	New       []string `json:"new"`
	Consented []string `json:"consented"`
}

// EssVol lists claim names by essential / voluntary.
type EssVol struct {
	Essential []string `json:"essential"`
	Voluntary []string `json:"voluntary"`
}

// ClaimsSplit is the claims part of the consent prompt.
type ClaimsSplit struct {
	New       EssVol   `json:"new"`
	Consented EssVol   `json:"consented"`
	Locales   []string `json:"locales,omitempty"`
	// Purposes maps claim names (verified ones with their "verified:"
	// prefix) to the purpose the client gave for them.
	Purposes map[string]string `json:"purposes,omitempty"`
	// Verification is the requested verification element per transport
	// (OpenID Connect for Identity Assurance 1.0 §6).
	Verification *Verification `json:"verification,omitempty"`
	// RawRequest is the claims parameter as received, when
	// authz.include_raw_claims_request is on.
	RawRequest json.RawMessage `json:"raw_request,omitempty"`
}

// Verification is the requested verification of verified claims, per
// transport.
type Verification struct {
	UserInfo json.RawMessage `json:"userinfo,omitempty"`
	IDToken  json.RawMessage `json:"id_token,omitempty"`
}

// RespParameters says where the UI sends the browser: to URI (query and
// fragment modes), or an auto-submitted POST of Form to URI (form_post).
type RespParameters struct {
	URI  string            `json:"uri"`
	Form map[string]string `json:"form,omitempty"`
}

// SessionObject is the answer of GET /authz-sessions/rest/v3/{sid}
// (docs/api.md §3, "The GET resource").
type SessionObject struct {
	SID        string               `json:"sid"`
	State      store.AuthzState     `json:"state"`
	AuthReq    store.AuthzRequest   `json:"auth_req"`
	Subject    string               `json:"sub,omitempty"`
	SubSession *session.SessionView `json:"sub_session,omitempty"`
	Data       map[string]any       `json:"data,omitempty"`
	CreatedAt  int64                `json:"creation_time"`
	ExpiresAt  int64                `json:"exp"`
}

func clientInfo(c *store.Client) *ClientInfo {
	m := c.Metadata
	ci := &ClientInfo{
		ClientID: c.ID, ClientType: "confidential", ApplicationType: m.ApplicationType,
		Name: m.ClientName, URI: m.ClientURI, LogoURI: m.LogoURI, PolicyURI: m.PolicyURI, TOSURI: m.TOSURI,
	}
	if isPublic(c) {
		ci.ClientType = "public"
	}
	if ci.ApplicationType == "" {
		ci.ApplicationType = oauth.ApplicationTypeWeb
	}
	return ci
}

// isPublic reports whether the client cannot authenticate at the token
// endpoint (RFC 6749 §2.1).
func isPublic(c *store.Client) bool {
	return c.Metadata.TokenEndpointAuthMethod == oauth.AuthMethodNone
}

func errorMessage(e *oauth.Error) *Message {
	return &Message{Type: TypeError, Error: e.Code, ErrorDescription: e.Description, ErrorURI: e.URI}
}
