package oauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// MaxAuthorizationDetailsBytes bounds the authorization_details parameter:
// a consent screen cannot show more, and parsing more costs only us.
const MaxAuthorizationDetailsBytes = 16 << 10

// AuthorizationDetails is the authorization_details parameter of RFC 9396
// §2: a JSON array of objects, each with a string "type". The elements are
// kept as received (re-encoded canonically), so that type-specific members
// reach the consent UI and the access token unchanged.
type AuthorizationDetails []json.RawMessage

// authorizationDetailCommon are the common data fields of RFC 9396 §2.2,
// with their types.
type authorizationDetailCommon struct {
	Type       *string  `json:"type"`
	Locations  []string `json:"locations"`
	Actions    []string `json:"actions"`
	Datatypes  []string `json:"datatypes"`
	Identifier *string  `json:"identifier"`
	Privileges []string `json:"privileges"`
}

// ParseAuthorizationDetails parses and checks authorization_details
// (RFC 9396 §2, §5): a non-empty JSON array of objects whose "type" is one
// of allowed, with the common fields of §2.2 of the right types.
// Malformed input is invalid_request; a type not in allowed is
// invalid_authorization_details (both 400).
func ParseAuthorizationDetails(raw string, allowed []string) (AuthorizationDetails, error) {
	if len(raw) > MaxAuthorizationDetailsBytes {
		return nil, InvalidRequest("authorization_details is too large")
	}
	var elems []json.RawMessage
	if err := json.Unmarshal([]byte(raw), &elems); err != nil {
		return nil, InvalidRequest("authorization_details must be a JSON array of objects").WithCause(err)
	}
	if len(elems) == 0 {
		return nil, InvalidRequest("authorization_details must not be empty")
	}
	out := make(AuthorizationDetails, 0, len(elems))
	for i, e := range elems {
		c, err := checkAuthorizationDetail(e, allowed)
		if err != nil {
			return nil, err
		}
		if c == nil {
			return nil, InvalidRequest(fmt.Sprintf("authorization_details[%d] must be a JSON object", i))
		}
		out = append(out, c)
	}
	return out, nil
}

// checkAuthorizationDetail validates one element and returns its canonical
// encoding (nil when e is not an object).
func checkAuthorizationDetail(e json.RawMessage, allowed []string) (json.RawMessage, error) {
	var obj map[string]any
	if err := json.Unmarshal(e, &obj); err != nil || obj == nil {
		return nil, nil
	}
	var common authorizationDetailCommon
	if err := json.Unmarshal(e, &common); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field != "" {
			return nil, InvalidRequest("authorization_details: wrong type for " + ute.Field)
		}
		return nil, InvalidRequest("authorization_details: malformed element")
	}
	if common.Type == nil || *common.Type == "" {
		return nil, InvalidRequest("authorization_details: every element needs a string type")
	}
	if !slices.Contains(allowed, *common.Type) {
		desc := "authorization_details type not allowed"
		if len(*common.Type) <= 64 && ValidErrorCode(*common.Type) {
			desc += ": " + *common.Type
		}
		return nil, InvalidAuthorizationDetails(desc)
	}
	// encoding/json sorts map keys: equal elements encode equally.
	canon, err := json.Marshal(obj)
	if err != nil {
		return nil, InvalidRequest("authorization_details: malformed element")
	}
	return canon, nil
}

// Contains reports whether e (canonically encoded) is one of d.
func (d AuthorizationDetails) Contains(e json.RawMessage) bool {
	return slices.ContainsFunc(d, func(x json.RawMessage) bool { return bytes.Equal(x, e) })
}

// Subset checks that every element of sub is one of d (RFC 9396 §6.1: a
// consent or a token request may narrow, never widen, the request). sub is
// validated against allowed as at the authorisation endpoint.
func (d AuthorizationDetails) Subset(sub []json.RawMessage, allowed []string) (AuthorizationDetails, error) {
	out := make(AuthorizationDetails, 0, len(sub))
	for i, e := range sub {
		c, err := checkAuthorizationDetail(e, allowed)
		if err != nil {
			return nil, err
		}
		if c == nil {
			return nil, InvalidRequest(fmt.Sprintf("authorization_details[%d] must be a JSON object", i))
		}
		if !d.Contains(c) {
			return nil, InvalidAuthorizationDetails(fmt.Sprintf("authorization_details[%d] was not requested", i))
		}
		out = append(out, c)
	}
	return out, nil
}

// ValidResource checks a resource indicator (RFC 8707 §2): an absolute
// URI without a fragment.
func ValidResource(v string) bool {
	u, err := url.Parse(v)
	return err == nil && u.IsAbs() && !strings.Contains(v, "#")
}
