package clientreg

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// SubjectTypePairwise is the subject_type of clients that get a pairwise
// subject identifier (OIDC Core §8.1).
const SubjectTypePairwise = "pairwise"

// redirectTemplatePrefix marks a redirect URI template (Connect2id's
// urn:c2id:redirect_uri_template:https://[param].example.com/cb); the
// authorisation core fills "[param]" at start.
const (
	redirectTemplatePrefix = "urn:c2id:redirect_uri_template:"
	templatePlaceholder    = "[param]"
)

// maxSectorDocBytes bounds the sector identifier document: a JSON array of
// redirect URIs.
const maxSectorDocBytes = 64 << 10

// Fetcher gets a document from a URL given in client metadata (the
// server's SSRF-guarded internal/jwksfetch.Fetcher): it refuses
// redirects, private and loopback addresses (outside development) and
// bodies over maxBytes.
type Fetcher interface {
	Fetch(ctx context.Context, uri string, maxBytes int64) ([]byte, error)
}

// Sector returns the sector identifier of a pairwise client (OIDC Core
// §8.1): the host of its sector_identifier_uri, else the host of its
// redirect URIs (registration made sure there is only one).
func Sector(md *store.ClientMetadata) string {
	if md.SectorIdentifierURI != "" {
		if u, err := url.Parse(md.SectorIdentifierURI); err == nil {
			return u.Hostname()
		}
	}
	for _, r := range md.RedirectURIs {
		r = strings.TrimPrefix(r, redirectTemplatePrefix)
		if u, err := url.Parse(r); err == nil && u.Hostname() != "" {
			return u.Hostname()
		}
	}
	return ""
}

// checkSector verifies a pairwise client's sector (OIDC Core §8.1): with a
// sector_identifier_uri, the document there must be a JSON array listing
// every redirect URI; without one, the redirect URIs must share a host. A
// public client with a sector_identifier_uri gets it checked too, since a
// later change to pairwise must not skip the check.
func (s *Service) checkSector(ctx context.Context, md *store.ClientMetadata) error {
	if md.SectorIdentifierURI == "" {
		if md.SubjectType != SubjectTypePairwise {
			return nil
		}
		var host string
		for _, r := range md.RedirectURIs {
			u, err := url.Parse(strings.TrimPrefix(r, redirectTemplatePrefix))
			if err != nil {
				continue
			}
			switch {
			case host == "":
				host = u.Hostname()
			case !strings.EqualFold(host, u.Hostname()):
				return oauth.InvalidClientMetadata("a pairwise client with redirect URIs on several hosts needs a sector_identifier_uri")
			}
		}
		return nil
	}
	if u, err := url.Parse(md.SectorIdentifierURI); err != nil || (u.Scheme != "https" && !s.Config.DevLoopbackHTTP) {
		return oauth.InvalidClientMetadata("sector_identifier_uri must use https")
	}
	if s.Sectors == nil {
		return oauth.InvalidClientMetadata("sector_identifier_uri cannot be verified: no fetcher configured")
	}
	body, err := s.Sectors.Fetch(ctx, md.SectorIdentifierURI, maxSectorDocBytes)
	if err != nil {
		s.log().InfoContext(ctx, "sector_identifier_uri fetch failed", "err", err.Error())
		return oauth.InvalidClientMetadata("sector_identifier_uri could not be fetched").WithCause(err)
	}
	var listed []string
	if err := json.Unmarshal(body, &listed); err != nil {
		return oauth.InvalidClientMetadata("sector_identifier_uri must serve a JSON array of redirect URIs").WithCause(err)
	}
	for i, r := range md.RedirectURIs {
		if !slices.Contains(listed, r) {
			return oauth.InvalidClientMetadata(fmt.Sprintf("redirect_uris[%d] is not listed at the sector_identifier_uri", i))
		}
	}
	return nil
}

// ClientSubject is the subject identifier client sees for sub: pairwise
// for a client registered with subject_type pairwise (OIDC Core §8.1),
// derived from its sector and salt (secret.Keys.PairwiseSalt), else sub
// itself. ID tokens, UserInfo and logout tokens must agree on it.
func ClientSubject(salt []byte, client *store.Client, sub string) string {
	if client != nil && client.Metadata.SubjectType == SubjectTypePairwise {
		return secret.Pairwise(salt, "sector:"+Sector(&client.Metadata), sub)
	}
	return sub
}
