package oauth

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds of request parameters (docs/api.md §23). They apply to
// authorisation requests (front channel, PAR and the authorisation session
// API's query) and, where noted, to the token endpoint's form.
const (
	// MaxParams bounds the number of parameter values in one request,
	// repeated names counted each time.
	MaxParams = 100
	// MaxParamNameBytes bounds a parameter name.
	MaxParamNameBytes = 128
	// MaxParamBytes bounds an authorisation request parameter value,
	// state and nonce included (at least the 2,048 characters RFC 9700
	// deployments expect of state).
	MaxParamBytes = 4096
	// MaxLargeParamBytes bounds the values of the parameters that carry
	// documents: claims, id_token_hint, login_hint_token, request,
	// authorization_details.
	MaxLargeParamBytes = 32 << 10
)

// largeParams may carry a JSON document or a JWT.
var largeParams = map[string]bool{
	"claims": true, "id_token_hint": true, "login_hint_token": true,
	"request": true, "authorization_details": true,
}

// jsonParams carry JSON, where the whitespace controls TAB, LF and CR are
// legitimate between tokens.
var jsonParams = map[string]bool{"claims": true, "authorization_details": true}

// ParamLimits selects which bounds CheckParams applies.
type ParamLimits struct {
	// ValueSizes caps each value at MaxParamBytes, or MaxLargeParamBytes
	// for the document-carrying parameters. The token endpoint leaves it
	// off: its values (assertions, codes) are bounded by the body limit
	// and by their own parsers.
	ValueSizes bool
}

// CheckParams refuses, with invalid_request naming the parameter, what no
// legitimate client sends: more than MaxParams values, an over-long name or
// value, invalid UTF-8, or a control character (NUL included; TAB, LF and
// CR only within the JSON-valued claims and authorization_details).
// Such input would otherwise be stored, shown to the login UI and
// plug-ins, and echoed to the client (state). Repeated parameters are the
// caller's to judge: RFC 8707 allows repeated resource.
func CheckParams(v url.Values, lim ParamLimits) *Error {
	n := 0
	for _, vals := range v {
		n += len(vals)
	}
	if n > MaxParams {
		return InvalidRequest(fmt.Sprintf("too many parameters: at most %d", MaxParams))
	}
	for name, vals := range v {
		if len(name) > MaxParamNameBytes {
			return InvalidRequest(fmt.Sprintf("parameter name longer than %d bytes", MaxParamNameBytes))
		}
		if !cleanText(name, false) {
			return InvalidRequest("parameter name with a control character or invalid UTF-8")
		}
		limit := MaxParamBytes
		if largeParams[name] {
			limit = MaxLargeParamBytes
		}
		for _, s := range vals {
			if lim.ValueSizes && len(s) > limit {
				return InvalidRequest(fmt.Sprintf("parameter %s longer than %d bytes", printableName(name), limit))
			}
			if !cleanText(s, jsonParams[name]) {
				return InvalidRequest(fmt.Sprintf("parameter %s contains a control character or invalid UTF-8", printableName(name)))
			}
		}
	}
	return nil
}

// cleanText reports whether s is valid UTF-8 without control characters
// (C0, DEL, C1); with jsonSpace, TAB, LF and CR are allowed.
func cleanText(s string, jsonSpace bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) && !(jsonSpace && (r == '\t' || r == '\n' || r == '\r')) {
			return false
		}
	}
	return true
}

// printableName is name when it is safe to put in an error description.
func printableName(name string) string {
	if strings.ContainsFunc(name, func(r rune) bool { return r < 0x21 || r > 0x7e || r == '"' || r == '\\' }) {
		return "(name not shown)"
	}
	return name
}
