package token

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/core/claims"
	"github.com/keyward/keyward/internal/core/clientreg"
	"github.com/keyward/keyward/internal/core/session"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/store"
)

// TypeAccessTokenJWT is the "typ" of self-contained access tokens
// (RFC 9068 §2.1).
const TypeAccessTokenJWT = "at+jwt"

// accessClaims are the claims of a self-contained access token
// (RFC 9068 §2.2). "aud" is Grant.Audience when the consent named one,
// else the issuer itself: the token is then meant for the provider's own
// resources (UserInfo). "gid" is a private claim naming the grant, so that
// UserInfo and revocation can tell whether the grant still stands.
//
// Under the c2id-1.1 profile (Config.AccessTokenProfile) the client and
// scope are Connect2id's "cid" and "scp" (array), with "clm" (consented
// UserInfo claim names), "cls" (claims locales) and "sub_type"; "uip",
// "dat" and "cld" are carried by both profiles when set
// (https://connect2id.com/products/server/docs/api/token#access-token).
type accessClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience []string `json:"aud"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	ID       string   `json:"jti"`
	ClientID string   `json:"client_id,omitempty"`
	Scope    string   `json:"scope,omitempty"`
	// c2id-1.1 names.
	CID     string   `json:"cid,omitempty"`
	SCP     []string `json:"scp,omitempty"`
	CLM     []string `json:"clm,omitempty"`
	CLS     []string `json:"cls,omitempty"`
	SubType string   `json:"sub_type,omitempty"`
	// Both profiles.
	UIP      map[string]any `json:"uip,omitempty"`
	Data     map[string]any `json:"dat,omitempty"`
	CLD      map[string]any `json:"cld,omitempty"`
	AuthTime int64          `json:"auth_time,omitempty"`
	ACR      string         `json:"acr,omitempty"`
	AMR      []string       `json:"amr,omitempty"`
	// GrantID is empty (and "gid" absent) in a stateless token
	// (Decision.Stateless).
	GrantID string `json:"gid,omitempty"`
	// AuthorizationDetails are the granted authorization_details
	// (RFC 9396 §9.1).
	AuthorizationDetails []json.RawMessage `json:"authorization_details,omitempty"`
	// Actor is RFC 8693 §4.1 "act": Keyward does not issue it yet, but a
	// revocation by actor matches it when a token carries one.
	Actor *actorClaim `json:"act,omitempty"`
	// Cnf binds the token to a DPoP key ("jkt", RFC 9449 §6.1) or a
	// client certificate ("x5t#S256", RFC 8705 §3.1).
	Cnf *store.Confirmation `json:"cnf,omitempty"`
}

type actorClaim struct {
	Subject string `json:"sub"`
}

// Access token profiles (Config.AccessTokenProfile).
const (
	ProfileRFC9068 = "rfc9068"
	ProfileC2ID11  = "c2id-1.1"
)

// clientID and scope read either profile.
func (c *accessClaims) clientID() string {
	if c.ClientID != "" {
		return c.ClientID
	}
	return c.CID
}

func (c *accessClaims) scope() oauth.Scope {
	if c.Scope != "" {
		return oauth.ParseScope(c.Scope)
	}
	return oauth.Scope(c.SCP)
}

// reservedAccessClaims can never be set by an "access_token:" consented
// claim: they carry the token's meaning.
var reservedAccessClaims = []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope",
	"cid", "scp", "clm", "cls", "sub_type", "uip", "dat", "cld", "auth_time", "acr", "amr", "gid", "act", "cnf", "authorization_details"}

// subTypePairwise is the TokenSpec.AccessTokenSubjectType of pairwise
// access tokens (the consent's access_token.sub_type).
const subTypePairwise = "PAIRWISE"

// mint stores what the decision asks for and issues the tokens.
func (s *Service) mint(ctx context.Context, now time.Time, client *store.Client, d *Decision) (*Response, error) {
	g, cnf := d.Grant, d.Confirmation
	spec := s.spec(g.Tokens)
	// at is the grant as the access token of this request sees it: the
	// token request may have narrowed its audience and
	// authorization_details (narrow).
	at := *g
	if d.Audience != nil {
		at.Audience = d.Audience
	}
	if d.AuthorizationDetails != nil {
		at.AuthorizationDetails = d.AuthorizationDetails
	}
	scope := d.Scope
	if scope == nil {
		scope = oauth.Scope(g.Scope)
	}
	if d.Create {
		if err := s.Grants.Create(ctx, g); err != nil {
			return nil, s.serverError(ctx, "create grant", err)
		}
		if d.RevocationMark != "" {
			replayed, err := s.markUsed(ctx, d.RevocationMark, d.RevocationMarkUntil, now)
			if err != nil {
				return nil, s.serverError(ctx, "check revocation mark", err)
			}
			if replayed {
				if err := s.Grants.Delete(ctx, g.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
					return nil, s.serverError(ctx, "revoke grant of replayed code", err)
				}
				return nil, oauth.InvalidGrant("invalid authorization code")
			}
		}
	}
	resp := &Response{TokenType: tokenType(cnf), Scope: scope.String(), AuthorizationDetails: at.AuthorizationDetails}
	if d.Stateless {
		if spec.AccessTokenEncoding != oauth.TokenEncodingSelfContained || d.IssueRefreshToken || d.IDToken || g.ID != "" {
			return nil, s.serverError(ctx, "mint", errors.New("a stateless decision allows only a self-contained access token"))
		}
		atExp := now.Add(spec.AccessTokenLifetime)
		v, err := s.mintAccessToken(ctx, now, atExp, client, &at, spec, scope, cnf)
		if err != nil {
			return nil, err
		}
		resp.AccessToken, resp.ExpiresIn = v, int64(spec.AccessTokenLifetime/time.Second)
		return resp, nil
	}

	rtValue, rtExp := d.RefreshToken, d.RefreshTokenExpiresAt
	if d.IssueRefreshToken {
		v, err := s.newToken()
		if err != nil {
			return nil, s.serverError(ctx, "new refresh token", err)
		}
		rt := &store.RefreshToken{
			ID: secret.Hash(v), GrantID: g.ID, ClientID: g.ClientID,
			CreatedAt: now, LastUsedAt: now, ExpiresAt: rtExp,
		}
		if err := s.RefreshTokens.Create(ctx, rt); err != nil {
			return nil, s.storeTokenError(ctx, "create refresh token", err)
		}
		rtValue = v
	}
	if rtValue != "" {
		resp.RefreshToken = rtValue
		if !rtExp.IsZero() {
			resp.RefreshTokenExpiresIn = int64(rtExp.Sub(now) / time.Second)
		}
	}

	atExp := earliest(now.Add(spec.AccessTokenLifetime), d.NotAfter, rtExp, g.ExpiresAt)
	atValue, err := s.mintAccessToken(ctx, now, atExp, client, &at, spec, scope, cnf)
	if err != nil {
		return nil, err
	}
	resp.AccessToken = atValue
	resp.ExpiresIn = max(int64(atExp.Sub(now)/time.Second), 0)

	if d.IDToken {
		idt, err := s.mintIDToken(ctx, now, client, g, spec, d, atValue)
		if err != nil {
			return nil, err
		}
		resp.IDToken = idt
	}
	return resp, nil
}

func (s *Service) mintAccessToken(ctx context.Context, now, exp time.Time, client *store.Client, g *store.Grant, spec store.TokenSpec, scope oauth.Scope, cnf store.Confirmation) (string, error) {
	if spec.AccessTokenEncoding == oauth.TokenEncodingIdentifier {
		v, err := s.newToken()
		if err != nil {
			return "", s.serverError(ctx, "new access token", err)
		}
		err = s.AccessTokens.Create(ctx, &store.AccessToken{
			ID: secret.Hash(v), GrantID: g.ID, ClientID: g.ClientID, Subject: g.Subject,
			Scope: slices.Clone(scope), CreatedAt: now, ExpiresAt: exp, Confirmation: cnf,
		})
		if err != nil {
			return "", s.storeTokenError(ctx, "create access token", err)
		}
		return v, nil
	}
	cfg := s.Config.withDefaults()
	jti, err := secret.Token(s.Rand, 16)
	if err != nil {
		return "", s.serverError(ctx, "new jti", err)
	}
	aud := g.Audience
	if len(aud) == 0 {
		aud = []string{cfg.Issuer}
	}
	c := accessClaims{
		Issuer: cfg.Issuer, Subject: s.accessTokenSubject(client, g, spec), Audience: aud,
		Expiry: exp.Unix(), IssuedAt: now.Unix(), ID: jti,
		Data: g.Data, CLD: g.ClaimsData,
		AuthTime: unixOrZero(g.AuthTime), ACR: g.ACR, AMR: g.AMR, GrantID: g.ID,
		AuthorizationDetails: g.AuthorizationDetails,
	}
	if !cnf.IsZero() {
		c.Cnf = &cnf
	}
	top, uip, dat := s.accessTokenFedClaims(ctx, g)
	if cfg.AccessTokenProfile == ProfileC2ID11 {
		c.CID, c.SCP = g.ClientID, nonNilScope(scope)
		_, c.CLM = claims.Split(g.Claims, nil)
		c.CLS = g.ClaimsLocales
		if spec.AccessTokenSubjectType == subTypePairwise {
			c.SubType = subTypePairwise
		}
		uip = mergeClaims(g.PresetUserInfoClaims, uip)
	} else {
		c.ClientID, c.Scope = g.ClientID, scope.String()
	}
	c.UIP = uip
	c.Data = mergeClaims(g.Data, dat)
	// Sign the struct as it is unless a consent fed top-level claims into
	// the token: the map round trip (encode, decode, encode again) was 8%
	// of a client-credentials request's CPU (docs/performance.md).
	var body any = c
	if len(top) > 0 {
		m, err := toClaimsMap(c)
		if err != nil {
			return "", s.serverError(ctx, "encode access token", err)
		}
		for k, v := range top {
			if !slices.Contains(reservedAccessClaims, k) {
				m[k] = v
			}
		}
		body = m
	}
	v, err := s.Keys.Sign(cfg.AccessTokenAlg, TypeAccessTokenJWT, body)
	if err != nil {
		return "", s.serverError(ctx, "sign access token", err)
	}
	if spec.EncryptAccessToken {
		if s.Encrypter == nil {
			return "", s.serverError(ctx, "encrypt access token", errors.New("no access token encryption key"))
		}
		if v, err = s.Encrypter.Encrypt(v); err != nil {
			return "", s.serverError(ctx, "encrypt access token", err)
		}
	}
	return v, nil
}

// accessTokenFedClaims fetches the claims a consent fed into the access
// token ("access_token:" names, Grant.AccessTokenClaims): top-level ones,
// those for "uip" and those for "dat". A failing claims source is logged
// and leaves them out, as for the ID token.
func (s *Service) accessTokenFedClaims(ctx context.Context, g *store.Grant) (top, uip, dat map[string]any) {
	if len(g.AccessTokenClaims) == 0 || s.Claims == nil {
		return nil, nil, nil
	}
	var names []string
	for _, n := range g.AccessTokenClaims {
		n = strings.TrimPrefix(strings.TrimPrefix(n, "uip:"), "dat:")
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	got, err := s.Claims.Get(ctx, s.claimsRequest(g, names, oauth.ClaimsTransportUserInfo))
	if err != nil {
		s.log().WarnContext(ctx, "claims source failed for access token", "client_id", g.ClientID, "err", err)
	}
	put := func(m *map[string]any, k string) {
		v, ok := got[k]
		if !ok {
			return
		}
		if *m == nil {
			*m = map[string]any{}
		}
		(*m)[k] = v
	}
	for _, n := range g.AccessTokenClaims {
		switch {
		case strings.HasPrefix(n, "uip:"):
			put(&uip, strings.TrimPrefix(n, "uip:"))
		case strings.HasPrefix(n, "dat:"):
			put(&dat, strings.TrimPrefix(n, "dat:"))
		default:
			put(&top, n)
		}
	}
	return top, uip, dat
}

// accessTokenSubject is the "sub" of an access token: pairwise per
// audience (the first audience value is the sector) when the consent asked
// for PAIRWISE, else the subject the client knows (clientSubject).
func (s *Service) accessTokenSubject(client *store.Client, g *store.Grant, spec store.TokenSpec) string {
	if spec.AccessTokenSubjectType == subTypePairwise && len(g.Audience) > 0 {
		return secret.Pairwise(s.PairwiseSalt, "aud:"+g.Audience[0], g.Subject)
	}
	return s.clientSubject(client, g.Subject)
}

// clientSubject is the subject identifier a client sees for sub: pairwise
// for a client registered with subject_type pairwise (OIDC Core §8.1),
// else sub itself.
func (s *Service) clientSubject(client *store.Client, sub string) string {
	return clientreg.ClientSubject(s.PairwiseSalt, client, sub)
}

func nonNilScope(s oauth.Scope) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// mergeClaims returns a ∪ b (b wins), nil when both are empty.
func mergeClaims(a, b map[string]any) map[string]any {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	out := maps.Clone(a)
	if out == nil {
		out = map[string]any{}
	}
	maps.Copy(out, b)
	return out
}

// toClaimsMap turns a claims struct into a map so that more claims can be
// added.
func toClaimsMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// mintIDToken issues the ID token of OIDC Core §2 and §3.1.3.6.
func (s *Service) mintIDToken(ctx context.Context, now time.Time, client *store.Client, g *store.Grant, spec store.TokenSpec, d *Decision, accessToken string) (string, error) {
	cfg := s.Config.withDefaults()
	alg := client.Metadata.IDTokenSignedResponseAlg
	if alg == "" {
		alg = cfg.IDTokenAlg
	}
	// at_hash binds the access token issued with the ID token (OIDC Core
	// §3.1.3.6, §3.2.2.10); an ID token alone from the authorisation
	// endpoint has none. c_hash binds a code issued alongside (§3.3.2.11).
	var atHash, cHash string
	var err error
	if accessToken != "" {
		if atHash, err = halfHash(alg, accessToken); err != nil {
			return "", s.serverError(ctx, "at_hash", err)
		}
	}
	if d.Code != "" {
		if cHash, err = halfHash(alg, d.Code); err != nil {
			return "", s.serverError(ctx, "c_hash", err)
		}
	}

	idc := map[string]any{}
	// The grant does not keep the original claims request: the consent has
	// already folded it into "id_token:" prefixes, so Split gets nil.
	idNames, _ := claims.Split(g.Claims, nil)
	if len(idNames) > 0 && s.Claims != nil {
		got, err := s.Claims.Get(ctx, s.claimsRequest(g, idNames, oauth.ClaimsTransportIDToken))
		if err != nil {
			// Only a source under on_error: fail reports an error here
			// (temporarily_unavailable); one under on_error: omit has been
			// logged and counted by the resolver and its claims left out,
			// so that it does not block sign-in.
			var oe *oauth.Error
			if errors.As(err, &oe) {
				return "", oe
			}
			return "", s.serverError(ctx, "get id token claims", err)
		}
		maps.Copy(idc, got)
	}
	maps.Copy(idc, g.SessionClaims)
	if d.PresetIDTokenClaims {
		maps.Copy(idc, g.PresetIDTokenClaims)
	}
	// Registered claims last, so that no claims source or preset can
	// replace them.
	idc["iss"] = cfg.Issuer
	idc["sub"] = s.clientSubject(client, g.Subject)
	delete(idc, "act")
	if imp := g.Tokens.ImpersonatedSubject; imp != "" {
		// Impersonation (the consent's id_token.impersonated_sub): the ID
		// token names the impersonated subject, and "act" (RFC 8693 §4.1)
		// the subject who actually authenticated, so that the client can
		// tell.
		idc["sub"] = s.clientSubject(client, imp)
		idc["act"] = map[string]any{"sub": s.clientSubject(client, g.Subject)}
	}
	idc["aud"] = []string{client.ID}
	idc["azp"] = client.ID
	idc["iat"] = now.Unix()
	idc["exp"] = now.Add(spec.IDTokenLifetime).Unix()
	setOrDelete(idc, "at_hash", atHash)
	setOrDelete(idc, "c_hash", cHash)
	setOrDelete(idc, "auth_time", unixOrZero(g.AuthTime))
	setOrDelete(idc, "nonce", d.Nonce)
	setOrDelete(idc, "acr", g.ACR)
	if len(g.AMR) > 0 {
		idc["amr"] = g.AMR
	} else {
		delete(idc, "amr")
	}
	if g.SubjectSessionID != "" {
		idc["sid"] = session.PublicID(g.SubjectSessionID)
	} else {
		delete(idc, "sid")
	}
	v, err := s.Keys.Sign(alg, "JWT", idc)
	if err != nil {
		return "", s.serverError(ctx, "sign id token", err)
	}
	return v, nil
}

// storeTokenError reports a failure to store a token. A grant that is gone
// by then was revoked while the request ran — typically a replay of the
// same code racing its first redemption — so the request fails as
// invalid_grant rather than as an internal error.
func (s *Service) storeTokenError(ctx context.Context, op string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return oauth.InvalidGrant("the authorization was revoked").WithCause(err)
	}
	return s.serverError(ctx, op, err)
}

// claimsRequest asks for the named claims of the grant's subject.
func (s *Service) claimsRequest(g *store.Grant, names []string, transport string) plugin.ClaimsRequest {
	return plugin.ClaimsRequest{
		Issuer:           s.Config.Issuer,
		Subject:          g.Subject,
		Claims:           names,
		Locales:          g.ClaimsLocales,
		Transport:        transport,
		ClientID:         g.ClientID,
		Scope:            g.Scope,
		ClaimsData:       g.ClaimsData,
		SubjectSessionID: g.SubjectSessionID,
	}
}

// halfHash returns the base64url left half of the hash of v that matches
// the JWS algorithm: at_hash / c_hash of OIDC Core §3.1.3.6, §3.3.2.11. For
// EdDSA (Ed25519) the hash is SHA-512, as OpenID's errata and Connect2id do.
func halfHash(alg, v string) (string, error) {
	var h hash.Hash
	switch {
	case alg == oauth.AlgEdDSA, strings.HasSuffix(alg, "512"):
		h = sha512.New()
	case strings.HasSuffix(alg, "384"):
		h = sha512.New384()
	case strings.HasSuffix(alg, "256"):
		h = sha256.New()
	default:
		return "", fmt.Errorf("no hash for alg %q", alg)
	}
	h.Write([]byte(v))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]), nil
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// setOrDelete sets claims[k] = v, or removes k when v is the zero value, so
// that an empty claim never reaches a token (conformance: acr not empty).
func setOrDelete[T comparable](claims map[string]any, k string, v T) {
	var zero T
	if v == zero {
		delete(claims, k)
		return
	}
	claims[k] = v
}
