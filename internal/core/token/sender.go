package token

import (
	"context"
	"crypto/subtle"

	"github.com/keyward/keyward/internal/core/dpop"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// Sender-constrained tokens: DPoP (RFC 9449) and certificate-bound tokens
// (RFC 8705 §3).

// SenderConstrained reports whether the tokens minted for the request are
// bound to a key the client holds (DPoP or a TLS client certificate): a
// profile that demands sender-constrained tokens (FAPI 2.0 Security
// Profile §5.3.2.1) checks it.
func (r *Request) SenderConstrained() bool { return !r.Confirmation.IsZero() }

// tokenType is "DPoP" for DPoP-bound access tokens (RFC 9449 §5), else
// "Bearer": a certificate-bound token is presented as a bearer token over
// the mutual TLS connection (RFC 8705 §3).
func tokenType(cnf store.Confirmation) string {
	if cnf.JKT != "" {
		return dpop.Scheme
	}
	return oauth.TokenTypeBearer
}

// senderConstrain verifies the request's DPoP proof, if any, and decides
// what the tokens are bound to. A DPoP binding wins over a certificate one:
// a client that sends a proof asked for it (RFC 9449 §5).
func (s *Service) senderConstrain(ctx context.Context, req *Request, c Credentials, client *store.Client) error {
	req.CertThumbprint = c.CertThumbprint
	switch {
	case len(c.DPoP) > 1:
		return oauth.InvalidDPoPProof("more than one DPoP header")
	case len(c.DPoP) == 1:
		if s.DPoP == nil {
			return oauth.InvalidDPoPProof("DPoP is not enabled")
		}
		url := c.URL
		if url == "" {
			url = s.Config.withDefaults().TokenEndpoint
		}
		p, err := s.DPoP.Check(ctx, c.DPoP[0], "POST", url, "")
		if err != nil {
			return err
		}
		req.DPoP = p
		req.Confirmation.JKT = p.JKT
	case client.Metadata.DPoPBoundAccessTokens:
		return oauth.InvalidDPoPProof("the client must send a DPoP proof")
	}
	if req.DPoP == nil && c.CertThumbprint != "" &&
		(s.CertBoundAccessTokens || client.Metadata.TLSClientCertificateBoundAccessTokens) {
		req.Confirmation.X5TS256 = c.CertThumbprint
	}
	if req.DPoP == nil && c.CertThumbprint == "" && client.Metadata.TLSClientCertificateBoundAccessTokens {
		return oauth.InvalidRequest("the client must present its TLS client certificate")
	}
	return nil
}

// bindGrant binds a new grant's refresh tokens to what its access tokens
// are bound to — the DPoP key or the client certificate — when the client
// is public (RFC 9449 §5, RFC 8705 §4): a confidential client's refresh
// tokens are bound by its authentication instead.
func bindGrant(req *Request, client *store.Client, d *Decision) {
	if d.Create && d.Grant != nil && client.Metadata.TokenEndpointAuthMethod == oauth.AuthMethodNone {
		d.Grant.Confirmation = req.Confirmation
	}
}

// checkDPoPJKT enforces the authorisation request's dpop_jkt at code
// redemption (RFC 9449 §10).
func checkDPoPJKT(want string, req *Request) error {
	if want == "" {
		return nil
	}
	if req.DPoP == nil {
		return oauth.InvalidDPoPProof("the authorization code is bound to a DPoP key; a proof is required")
	}
	if !equalString(req.DPoP.JKT, want) {
		return oauth.InvalidDPoPProof("the DPoP proof key does not match dpop_jkt")
	}
	return nil
}

// checkRefreshBinding enforces a public client's bound refresh token: the
// same client certificate (RFC 8705 §4) or a proof of the same DPoP key
// (RFC 9449 §5).
func checkRefreshBinding(g *store.Grant, req *Request) error {
	if g.Confirmation.X5TS256 != "" && !equalString(req.CertThumbprint, g.Confirmation.X5TS256) {
		return oauth.InvalidGrant("the refresh token is bound to another client certificate")
	}
	if g.Confirmation.JKT == "" {
		return nil
	}
	if req.DPoP == nil {
		return oauth.InvalidDPoPProof("the refresh token is bound to a DPoP key; a proof is required")
	}
	if !equalString(req.DPoP.JKT, g.Confirmation.JKT) {
		return oauth.InvalidGrant("the refresh token is bound to another DPoP key")
	}
	return nil
}

func equalString(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// Presentation is an access token as a resource request presented it.
type Presentation struct {
	Token string
	// Scheme is the Authorization scheme: "Bearer" (also for a token in
	// the form body) or "DPoP".
	Scheme string
	// DPoP holds the DPoP header values; Method and URL are the request's,
	// for the proof's "htm" and "htu".
	DPoP        []string
	Method, URL string
	// CertThumbprint is the base64url SHA-256 of the TLS client
	// certificate the request came with, empty without one.
	CertThumbprint string
}

// checkSender checks that whoever presented b holds the key it is bound
// to. A DPoP refusal challenges with the DPoP scheme so that the client
// learns how to present the token (RFC 9449 §7.1).
func (s *Service) checkSender(ctx context.Context, b *bearer, p Presentation) error {
	if b.cnf.X5TS256 != "" && !equalString(p.CertThumbprint, b.cnf.X5TS256) {
		return oauth.InvalidToken("the access token is bound to another client certificate")
	}
	if b.cnf.JKT == "" {
		if p.Scheme == dpop.Scheme {
			return oauth.InvalidToken("the access token is not DPoP-bound").WithScheme(dpop.Scheme)
		}
		return nil
	}
	if p.Scheme != dpop.Scheme {
		return oauth.InvalidToken("the access token is DPoP-bound: present it with the DPoP scheme and a proof").WithScheme(dpop.Scheme)
	}
	if len(p.DPoP) != 1 {
		return oauth.InvalidDPoPProof("exactly one DPoP proof is required").WithStatus(401).WithScheme(dpop.Scheme)
	}
	if s.DPoP == nil {
		return oauth.InvalidDPoPProof("DPoP is not enabled").WithStatus(401).WithScheme(dpop.Scheme)
	}
	proof, err := s.DPoP.Check(ctx, p.DPoP[0], p.Method, p.URL, p.Token)
	if err != nil {
		oe := oauth.AsError(err)
		if oe == nil || oe.Code == oauth.ErrCodeServerError {
			return err
		}
		return oe.WithStatus(401).WithScheme(dpop.Scheme)
	}
	if !equalString(proof.JKT, b.cnf.JKT) {
		return oauth.InvalidToken("the DPoP proof key does not match the access token").WithScheme(dpop.Scheme)
	}
	return nil
}

// PushedDPoP binds a pushed authorisation request to the DPoP key of the
// proof sent with it (RFC 9449 §10.1): the key's thumbprint becomes the
// request's dpop_jkt, or must equal the one it carries. Without a proof
// the request is left as it is. Errors: invalid_dpop_proof (400),
// use_dpop_nonce (400).
func (s *Service) PushedDPoP(ctx context.Context, c Credentials) error {
	switch {
	case len(c.DPoP) == 0:
		return nil
	case len(c.DPoP) > 1:
		return oauth.InvalidDPoPProof("more than one DPoP header")
	case s.DPoP == nil:
		return oauth.InvalidDPoPProof("DPoP is not enabled")
	}
	url := c.URL
	if url == "" {
		url = s.Config.withDefaults().Issuer + "/par"
	}
	p, err := s.DPoP.Check(ctx, c.DPoP[0], "POST", url, "")
	if err != nil {
		return err
	}
	if vs := c.Form["dpop_jkt"]; len(vs) > 0 {
		if len(vs) > 1 || !equalString(vs[0], p.JKT) {
			return oauth.InvalidDPoPProof("dpop_jkt does not match the DPoP proof key")
		}
		return nil
	}
	c.Form.Set("dpop_jkt", p.JKT)
	return nil
}
