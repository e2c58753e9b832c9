package claims

import (
	"slices"
	"strings"

	"github.com/keyward/keyward/oauth"
)

// claimSub is never requested from, consented to, or returned by a claims
// source: the core sets it from the authenticated subject (OIDC Core §5.1).
const claimSub = "sub"

// IDTokenPrefix marks a consented claim name that is to be delivered in the
// ID token rather than at UserInfo (Connect2id consent convention).
const IDTokenPrefix = "id_token:"

// consentAll in a consent's claims list stands for every requested claim.
const consentAll = "*"

// Requested returns the claim names an authorisation request asks for: the
// standard claims of its scope values (OIDC Core §5.4) plus the names in the
// claims parameter (OIDC Core §5.5), split into essential and voluntary.
// Only the claims parameter can make a claim essential; a name essential
// anywhere is not also listed as voluntary. Both results are sorted,
// deduplicated and never contain "sub". req may be nil.
func Requested(scope oauth.Scope, req *oauth.ClaimsRequest) (essential, voluntary []string) {
	ess, vol := req.Names()
	isEssential := make(map[string]bool, len(ess))
	for _, n := range ess {
		if n != claimSub {
			isEssential[n] = true
			essential = append(essential, n)
		}
	}
	seen := map[string]bool{}
	for _, n := range slices.Concat(oauth.ClaimsForScope(scope), vol) {
		if n == claimSub || isEssential[n] || seen[n] {
			continue
		}
		seen[n] = true
		voluntary = append(voluntary, n)
	}
	slices.Sort(essential)
	slices.Sort(voluntary)
	return essential, voluntary
}

// ExpandConsented resolves the claims list of a consent against the
// requested claims: "*" stands for every requested claim (essential and
// voluntary), any other entry is kept as given, including an "id_token:"
// prefix. The result is sorted and deduplicated and never contains "sub".
func ExpandConsented(consented []string, requestedEssential, requestedVoluntary []string) []string {
	var out []string
	for _, c := range consented {
		if c == consentAll {
			out = append(out, requestedEssential...)
			out = append(out, requestedVoluntary...)
			continue
		}
		out = append(out, c)
	}
	out = slices.DeleteFunc(out, func(n string) bool {
		return n == "" || n == IDTokenPrefix || strings.TrimPrefix(n, IDTokenPrefix) == claimSub
	})
	slices.Sort(out)
	return slices.Compact(out)
}

// Split divides consented claim names between the ID token and UserInfo for
// a response that issues an access token (code flow), following OIDC Core
// §5.4 and §5.5:
//
//   - a name with the "id_token:" prefix goes to the ID token (prefix
//     stripped);
//   - a name listed in the claims parameter's id_token member goes to the ID
//     token, and one listed in its userinfo member to UserInfo (both if in
//     both);
//   - any other name (a scope claim) goes to UserInfo.
//
// Both results are sorted, deduplicated and never contain "sub". req may be
// nil.
func Split(consented []string, req *oauth.ClaimsRequest) (idToken, userInfo []string) {
	var idMembers, uiMembers map[string]*oauth.ClaimRequest
	if req != nil {
		idMembers, uiMembers = req.IDToken, req.UserInfo
	}
	for _, c := range consented {
		if name, ok := strings.CutPrefix(c, IDTokenPrefix); ok {
			idToken = append(idToken, name)
			continue
		}
		_, inID := idMembers[c]
		_, inUI := uiMembers[c]
		if inID {
			idToken = append(idToken, c)
		}
		if inUI || !inID {
			userInfo = append(userInfo, c)
		}
	}
	return clean(idToken), clean(userInfo)
}

// clean sorts and deduplicates names, dropping "" and "sub".
func clean(names []string) []string {
	names = slices.DeleteFunc(names, func(n string) bool { return n == "" || n == claimSub })
	slices.Sort(names)
	names = slices.Compact(names)
	if len(names) == 0 {
		return nil
	}
	return names
}
