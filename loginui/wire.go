package loginui

// Wire types of the authorisation session API (docs/api.md §3–§4,
// docs/openapi.yaml). Only the members this UI reads or writes are declared;
// unknown members are ignored on decode, so a newer server does not break
// the UI.

import "encoding/json"

// Message types (docs/api.md §4).
const (
	typeAuth     = "auth"
	typeConsent  = "consent"
	typeResponse = "response"
	typeError    = "error"
)

// startRequest is the POST body that opens an authorisation session
// (docs/api.md §3, step 1).
type startRequest struct {
	Query  string `json:"query"`
	SubSID string `json:"sub_sid,omitempty"`
}

// message is the tagged union the API answers with.
type message struct {
	Type    string `json:"type"`
	SID     string `json:"sid,omitempty"`
	Display string `json:"display,omitempty"`

	// auth prompt
	CreateAccount bool   `json:"create_account,omitempty"`
	SelectAccount bool   `json:"select_account,omitempty"`
	LoginHint     string `json:"login_hint,omitempty"`
	RequiredSub   string `json:"required_sub,omitempty"`

	// auth + consent prompts
	SubSession *subSession  `json:"sub_session,omitempty"`
	Client     *clientInfo  `json:"client,omitempty"`
	Scope      *scopeSplit  `json:"scope,omitempty"`
	Claims     *claimsSplit `json:"claims,omitempty"`
	Purpose    string       `json:"purpose,omitempty"`
	// AuthorizationDetails (RFC 9396) and Resource (RFC 8707) are shown
	// as received; the consent grants all of them.
	AuthorizationDetails []json.RawMessage `json:"authorization_details,omitempty"`
	Resource             []string          `json:"resource,omitempty"`

	// final response
	Mode       string          `json:"mode,omitempty"`
	Parameters *respParameters `json:"parameters,omitempty"`
	SubSID     string          `json:"sub_sid,omitempty"`

	// error
	Error            string `json:"error,omitempty"`
	ErrorDescription string `json:"error_description,omitempty"`
	ErrorURI         string `json:"error_uri,omitempty"`
}

type subSession struct {
	SID string `json:"sid,omitempty"`
	Sub string `json:"sub,omitempty"`
}

type clientInfo struct {
	ClientID  string `json:"client_id,omitempty"`
	Name      string `json:"name,omitempty"`
	URI       string `json:"uri,omitempty"`
	LogoURI   string `json:"logo_uri,omitempty"`
	PolicyURI string `json:"policy_uri,omitempty"`
	TosURI    string `json:"tos_uri,omitempty"`
}

type scopeSplit struct {
	New       []string `json:"new"`
	Consented []string `json:"consented"`
}

type essVol struct {
	Essential []string `json:"essential"`
	Voluntary []string `json:"voluntary"`
}

type claimsSplit struct {
	New       essVol            `json:"new"`
	Consented essVol            `json:"consented"`
	Purposes  map[string]string `json:"purposes,omitempty"`
}

type respParameters struct {
	URI  string            `json:"uri"`
	Form map[string]string `json:"form,omitempty"`
}

// subjectAuth is the PUT body after the user authenticated (docs/api.md §3,
// step 2).
type subjectAuth struct {
	Sub string   `json:"sub"`
	ACR string   `json:"acr,omitempty"`
	AMR []string `json:"amr,omitempty"`
}

// consent is the PUT body after the user allowed access (docs/api.md §3,
// step 3).
type consent struct {
	Scope        []string      `json:"scope"`
	Claims       []string      `json:"claims"`
	LongLived    bool          `json:"long_lived"`
	RefreshToken *refreshToken `json:"refresh_token,omitempty"`
}

type refreshToken struct {
	Issue bool `json:"issue"`
}
