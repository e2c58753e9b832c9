package conformance

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/oauth"
)

// Members of the discovery document by JSON type (OIDC Discovery §3,
// RFC 8414 §2, RFC 9126 §5, RFC 9207 §3, RFC 8628 §4, OIDC RP-Initiated
// Logout §2.1, Front-/Back-Channel Logout, Session Management).
var (
	discoveryURLs = []string{"issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
		"registration_endpoint", "pushed_authorization_request_endpoint", "end_session_endpoint",
		"revocation_endpoint", "introspection_endpoint", "device_authorization_endpoint", "check_session_iframe",
		"service_documentation", "op_policy_uri", "op_tos_uri"}
	discoveryArrays = []string{"scopes_supported", "response_types_supported", "response_modes_supported",
		"grant_types_supported", "acr_values_supported", "subject_types_supported",
		"id_token_signing_alg_values_supported", "id_token_encryption_alg_values_supported",
		"id_token_encryption_enc_values_supported", "userinfo_signing_alg_values_supported",
		"userinfo_encryption_alg_values_supported", "userinfo_encryption_enc_values_supported",
		"request_object_signing_alg_values_supported", "request_object_encryption_alg_values_supported",
		"request_object_encryption_enc_values_supported", "token_endpoint_auth_methods_supported",
		"token_endpoint_auth_signing_alg_values_supported", "display_values_supported", "claim_types_supported",
		"claims_supported", "claims_locales_supported", "ui_locales_supported", "code_challenge_methods_supported",
		"prompt_values_supported", "revocation_endpoint_auth_methods_supported",
		"introspection_endpoint_auth_methods_supported", "dpop_signing_alg_values_supported",
		"authorization_signing_alg_values_supported", "authorization_details_types_supported"}
	discoveryBools = []string{"claims_parameter_supported", "request_parameter_supported",
		"request_uri_parameter_supported", "require_request_uri_registration",
		"authorization_response_iss_parameter_supported", "require_pushed_authorization_requests",
		"frontchannel_logout_supported", "frontchannel_logout_session_supported", "backchannel_logout_supported",
		"backchannel_logout_session_supported", "tls_client_certificate_bound_access_tokens"}
)

var (
	// bcp47 is the langtag production of RFC 5646 §2.1, loosely.
	bcp47 = regexp.MustCompile(`^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$`)
	// jwsAlg is a JWS "alg" name (RFC 7518 §3.1 and registered names).
	jwsAlg = regexp.MustCompile(`^(none|[HRP]S(256|384|512)|ES(256|384|512|256K)|EdDSA|Ed25519|Ed448)$`)
)

// oidcc-discovery-endpoint-verification, the one module of the Config
// plan (oidcc-config-certification-test-plan). "All endpoints are https"
// cannot hold for a loopback test issuer; every endpoint must use the
// issuer's scheme and host instead.
func TestOIDCCDiscoveryEndpointVerification(t *testing.T) {
	e := newEnv(t)
	_, md := checkDiscoveryAndJWKS(t, e)

	// Issuer: the discovery URL's base, a valid URL (OIDC Discovery §4.3,
	// RFC 8414 §2).
	iu, err := url.Parse(e.issuer)
	if err != nil || md["issuer"] != e.issuer || iu.RawQuery != "" || iu.Fragment != "" {
		t.Errorf("issuer %v must equal %q and have no query or fragment", md["issuer"], e.issuer)
	}

	// Schema: member types; unknown members are a warning.
	for k, v := range md {
		switch {
		case slices.Contains(discoveryURLs, k):
			s, ok := v.(string)
			u, err := url.Parse(s)
			if !ok || err != nil || !u.IsAbs() || u.Fragment != "" {
				t.Errorf("%s = %v, want an absolute URL without fragment", k, v)
				continue
			}
			// https for an https issuer; for our loopback issuer, the
			// issuer's own scheme and host.
			if u.Scheme != iu.Scheme || u.Host != iu.Host {
				t.Errorf("%s = %s, want %s://%s like the issuer", k, s, iu.Scheme, iu.Host)
			}
		case slices.Contains(discoveryArrays, k):
			arr, ok := v.([]any)
			if !ok || len(arr) == 0 {
				t.Errorf("%s = %v, want a non-empty JSON array", k, v)
				continue
			}
			for _, el := range arr {
				if s, ok := el.(string); !ok || s == "" {
					t.Errorf("%s contains %v, want non-empty strings", k, el)
				}
			}
		case slices.Contains(discoveryBools, k):
			if _, ok := v.(bool); !ok {
				t.Errorf("%s = %v, want a boolean", k, v)
			}
		default:
			t.Logf("WARNING: unknown discovery member %q", k)
		}
	}
	strs := func(k string) []string {
		var out []string
		for _, v := range asSlice(md[k]) {
			s, _ := v.(string)
			out = append(out, s)
		}
		return out
	}

	// Supported values.
	if !slices.ContainsFunc(strs("response_types_supported"), func(rt string) bool {
		return slices.Contains([]string{"code", "id_token", "id_token token", "code id_token", "code token", "code id_token token"}, rt)
	}) {
		t.Errorf("response_types_supported %v has no OpenID response type", strs("response_types_supported"))
	}
	if st := strs("subject_types_supported"); !slices.Contains(st, "public") && !slices.Contains(st, "pairwise") {
		t.Errorf("subject_types_supported = %v, want public or pairwise", st)
	}
	if !slices.Contains(strs("id_token_signing_alg_values_supported"), "RS256") {
		t.Errorf("id_token_signing_alg_values_supported = %v, want RS256 (OIDC Core §15.1)", strs("id_token_signing_alg_values_supported"))
	}
	for _, k := range []string{"id_token_signing_alg_values_supported", "userinfo_signing_alg_values_supported",
		"token_endpoint_auth_signing_alg_values_supported", "request_object_signing_alg_values_supported"} {
		for _, a := range strs(k) {
			if !jwsAlg.MatchString(a) {
				t.Errorf("%s contains %q, not a JWS algorithm", k, a)
			}
		}
	}
	if slices.Contains(strs("token_endpoint_auth_signing_alg_values_supported"), "none") {
		t.Errorf("token_endpoint_auth_signing_alg_values_supported must not contain none (OIDC Discovery §3)")
	}

	// Endpoints.
	for _, k := range []string{"authorization_endpoint", "token_endpoint", "jwks_uri"} {
		if _, ok := md[k].(string); !ok {
			t.Errorf("discovery lacks %s", k)
		}
	}
	if _, ok := md["userinfo_endpoint"].(string); !ok {
		t.Errorf("discovery lacks userinfo_endpoint (a warning in the suite; Keyward serves one)")
	}
	if _, ok := md["registration_endpoint"].(string); !ok {
		t.Logf("INFO: no registration_endpoint")
	}
	if rsp := e.get(md["userinfo_endpoint"].(string), ""); rsp.status != http.StatusUnauthorized {
		t.Errorf("userinfo_endpoint without a token: status %d, want 401 (RFC 6750 §3.1)", rsp.status)
	}

	// Request, claims and scopes.
	if len(strs("claims_supported")) == 0 {
		t.Errorf("claims_supported is missing (a warning in the suite)")
	}
	if gt, ok := md["grant_types_supported"]; ok {
		if len(asSlice(gt)) == 0 {
			t.Errorf("grant_types_supported = %v, want a non-empty array", gt)
		}
		if !slices.Contains(strs("grant_types_supported"), "authorization_code") {
			t.Errorf("grant_types_supported %v lacks authorization_code, which the response types need", strs("grant_types_supported"))
		}
	}
	sc := strs("scopes_supported")
	if !slices.Contains(sc, "openid") {
		t.Errorf("scopes_supported %v lacks openid", sc)
	}
	for _, s := range sc {
		if !oauth.ValidScopeToken(s) {
			t.Errorf("scopes_supported contains %q, not a scope token (RFC 6749 §3.3)", s)
		}
	}

	// Formats.
	for _, k := range []string{"ui_locales_supported", "claims_locales_supported"} {
		for _, l := range strs(k) {
			if !bcp47.MatchString(l) {
				t.Errorf("%s contains %q, not a BCP 47 tag", k, l)
			}
		}
	}
	if v, ok := md["code_challenge_methods_supported"]; ok {
		if _, isArr := v.([]any); !isArr {
			t.Errorf("code_challenge_methods_supported = %v, want an array", v)
		}
		if !slices.Contains(strs("code_challenge_methods_supported"), "S256") {
			t.Errorf("code_challenge_methods_supported %v lacks S256", strs("code_challenge_methods_supported"))
		}
	}
	if !strings.HasPrefix(e.issuer, "https://") {
		t.Logf("INFO: loopback test issuer %s: the suite's 'all endpoints are https' is checked as 'all endpoints use the issuer's scheme and host'", e.issuer)
	}
}
